//! Arrow arrays from Python → borrowed core columns.
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Float32Type, Float64Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit as ArrowTimeUnit};
use pyo3::prelude::*;

use super::errors::{schema_error, DataError};
use crate::core::aggregate::{Amounts, Ids};
use crate::core::period::TimeUnit;

/// Named Arrow array passed from Python (already combined into one chunk).
pub struct NamedArray {
    pub name: String,
    pub array: ArrayRef,
}

impl NamedArray {
    pub fn new(name: String, array: pyo3_arrow::PyArray) -> PyResult<Self> {
        let (array, _) = array.into_inner();
        if array.null_count() > 0 {
            return Err(DataError::new_err(format!(
                "column '{name}': contains nulls ({} rows); pass dropna=True to drop them",
                array.null_count()
            )));
        }
        Ok(NamedArray { name, array })
    }
}

pub fn ids(column: &NamedArray) -> PyResult<Ids<'_>> {
    let array = &column.array;
    match array.data_type() {
        DataType::Int64 => Ok(Ids::Int(array.as_primitive::<Int64Type>().values())),
        DataType::Utf8 => {
            let strings = array.as_string::<i32>();
            Ok(Ids::Str {
                offsets: strings.value_offsets(),
                values: strings.value_data(),
            })
        }
        DataType::LargeUtf8 => {
            let strings = array.as_string::<i64>();
            Ok(Ids::LargeStr {
                offsets: strings.value_offsets(),
                values: strings.value_data(),
            })
        }
        other => Err(schema_error(
            &column.name,
            format!("customer ids must be integers or strings, not {other}"),
        )),
    }
}

pub fn times(column: &NamedArray) -> PyResult<(&[i64], TimeUnit)> {
    let array = &column.array;
    match array.data_type() {
        DataType::Timestamp(unit, _) => Ok(match unit {
            ArrowTimeUnit::Second => (
                array
                    .as_primitive::<TimestampSecondType>()
                    .values()
                    .as_ref(),
                TimeUnit::Second,
            ),
            ArrowTimeUnit::Millisecond => (
                array
                    .as_primitive::<TimestampMillisecondType>()
                    .values()
                    .as_ref(),
                TimeUnit::Millisecond,
            ),
            ArrowTimeUnit::Microsecond => (
                array
                    .as_primitive::<TimestampMicrosecondType>()
                    .values()
                    .as_ref(),
                TimeUnit::Microsecond,
            ),
            ArrowTimeUnit::Nanosecond => (
                array
                    .as_primitive::<TimestampNanosecondType>()
                    .values()
                    .as_ref(),
                TimeUnit::Nanosecond,
            ),
        }),
        other => Err(schema_error(
            &column.name,
            format!("times must be timestamps or dates, not {other}"),
        )),
    }
}

/// Amounts and the money scale they imply (decimal128 keeps its own scale).
pub fn amounts(column: &NamedArray, scale: u32) -> PyResult<(Amounts<'_>, u32)> {
    let array = &column.array;
    match array.data_type() {
        DataType::Int64 => Ok((
            Amounts::Int(array.as_primitive::<Int64Type>().values()),
            scale,
        )),
        DataType::Float64 => Ok((
            Amounts::F64(array.as_primitive::<Float64Type>().values()),
            scale,
        )),
        DataType::Float32 => Ok((
            Amounts::F32(array.as_primitive::<Float32Type>().values()),
            scale,
        )),
        DataType::Decimal128(_, s) if *s >= 0 => Ok((
            Amounts::Decimal(array.as_primitive::<Decimal128Type>().values()),
            *s as u32,
        )),
        other => Err(schema_error(
            &column.name,
            format!("amounts must be integers, floats or decimal128 with scale ≥ 0, not {other}"),
        )),
    }
}

pub fn order_codes(column: &NamedArray) -> PyResult<&[i64]> {
    match column.array.data_type() {
        DataType::Int64 => Ok(column.array.as_primitive::<Int64Type>().values()),
        other => Err(schema_error(
            &column.name,
            format!("order ids must be encoded as int64, not {other}"),
        )),
    }
}
