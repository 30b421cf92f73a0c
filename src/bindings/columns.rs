//! What every transaction-log binding shares: the validated input columns of one call and the
//! builders of its Arrow result.
use std::sync::Arc;

use arrow_array::{
    make_array, Array, ArrayRef, Decimal128Array, Float64Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, UInt32Array,
};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use pyo3::prelude::*;
use pyo3_arrow::{PyArray, PyRecordBatch};

use super::errors::{schema_error, CustvalError, DataError};
use super::input::{self, NamedArray};
use crate::core::aggregate::{Columns, CustomerIds, Options};
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::money;
use crate::core::period::{Freq, Periodizer};
use crate::core::summary::Money;

/// A column as Python passes it: its name and its (single-chunk) Arrow array.
pub type Named = (String, PyArray);

/// The transaction columns of one call, validated.
pub struct Transactions {
    customer: NamedArray,
    time: NamedArray,
    amount: Option<NamedArray>,
    order: Option<NamedArray>,
    cost: Option<NamedArray>,
}

impl Transactions {
    pub fn new(
        customer: Named,
        time: Named,
        amount: Option<Named>,
        order: Option<Named>,
        cost: Option<Named>,
    ) -> PyResult<Self> {
        let named = |(name, array): Named| NamedArray::new(name, array);
        Ok(Transactions {
            customer: named(customer)?,
            time: named(time)?,
            amount: amount.map(named).transpose()?,
            order: order.map(named).transpose()?,
            cost: cost.map(named).transpose()?,
        })
    }

    /// Types of the customer, time and amount arrays as passed.
    pub fn types(&self) -> (DataType, DataType, Option<DataType>) {
        (
            self.customer.array.data_type().clone(),
            self.time.array.data_type().clone(),
            self.amount.as_ref().map(|a| a.array.data_type().clone()),
        )
    }

    /// Borrowed columns and the options, with the money scale actually used (decimal128
    /// amounts keep their own).
    pub fn columns(&self, freq: Freq, scale: u32) -> PyResult<(Columns<'_>, Options)> {
        check_scale(scale)?;
        let (times, unit) = input::times(&self.time)?;
        let amounts = self
            .amount
            .as_ref()
            .map(|a| input::amounts(a, scale))
            .transpose()?;
        let scale = amounts.map_or(scale, |(_, s)| s);
        let costs = self
            .cost
            .as_ref()
            .map(|c| input::amounts(c, scale))
            .transpose()?;
        if let (Some(cost), Some((_, cost_scale))) = (&self.cost, costs) {
            if cost_scale != scale {
                return Err(schema_error(
                    &cost.name,
                    "cost scale differs from the amount scale",
                ));
            }
        }
        let columns = Columns {
            ids: input::ids(&self.customer)?,
            times,
            amounts: amounts.map(|(a, _)| a),
            orders: self.order.as_ref().map(input::order_codes).transpose()?,
            costs: costs.map(|(c, _)| c),
        };
        let name_of = |column: &Option<NamedArray>| {
            column.as_ref().map_or_else(String::new, |c| c.name.clone())
        };
        let options = Options {
            periodizer: Periodizer::new(freq, unit),
            scale,
            start: None,
            end: None,
            split: None,
            time_name: self.time.name.clone(),
            amount_name: name_of(&self.amount),
            cost_name: name_of(&self.cost),
        };
        Ok((columns, options))
    }
}

/// The customers' ids as an `ids` column: int64, or strings of the type the kernel read
/// (large strings when they outgrow 32-bit offsets).
pub fn id_column(ids: CustomerIds, read_as: &DataType) -> CoreResult<(Field, ArrayRef)> {
    let array: ArrayRef = match ids {
        CustomerIds::Int(values) => Arc::new(Int64Array::from(values)),
        CustomerIds::Str { offsets, values } => {
            let small = *read_as == DataType::Utf8 && values.len() <= i32::MAX as usize;
            let values = Buffer::from_vec(values);
            if small {
                let offsets: Vec<i32> = offsets.into_iter().map(|o| o as i32).collect();
                Arc::new(
                    StringArray::try_new(OffsetBuffer::new(offsets.into()), values, None)
                        .map_err(building)?,
                )
            } else {
                Arc::new(
                    LargeStringArray::try_new(OffsetBuffer::new(offsets.into()), values, None)
                        .map_err(building)?,
                )
            }
        }
    };
    Ok((Field::new("ids", array.data_type().clone(), false), array))
}

/// Times (in the unit of `time_type`, a timestamp type) as a column of that type.
pub fn time_column(
    name: &str,
    values: Vec<i64>,
    time_type: &DataType,
) -> CoreResult<(Field, ArrayRef)> {
    let data = Int64Array::from(values)
        .into_data()
        .into_builder()
        .data_type(time_type.clone())
        .build()
        .map_err(building)?;
    Ok((Field::new(name, time_type.clone(), false), make_array(data)))
}

fn building(e: ArrowError) -> CoreError {
    CoreError::Argument {
        name: "data".into(),
        message: format!("building the result failed: {e}"),
    }
}

pub fn check_scale(scale: u32) -> PyResult<()> {
    if scale > 18 {
        return Err(CustvalError::new_err(format!(
            "scale must be between 0 and 18, got {scale}"
        )));
    }
    Ok(())
}

fn arrow_error(err: ArrowError) -> PyErr {
    CustvalError::new_err(format!("building the result failed: {err}"))
}

pub fn f64_column(name: &str, values: Vec<f64>) -> (Field, ArrayRef) {
    (
        Field::new(name, DataType::Float64, false),
        Arc::new(Float64Array::from(values)),
    )
}

pub fn row_column(name: &str, values: Vec<u32>) -> (Field, ArrayRef) {
    (
        Field::new(name, DataType::UInt32, false),
        Arc::new(UInt32Array::from(values)),
    )
}

/// Money in minor units at `scale` as decimal128(38, scale) or float64; `None` is null.
pub fn money_column(
    name: &str,
    values: Vec<Option<i128>>,
    scale: u32,
    decimal: bool,
) -> PyResult<(Field, ArrayRef)> {
    let limit = money::pow10(38).unsigned_abs();
    let too_large = values
        .iter()
        .flatten()
        .filter(|v| v.unsigned_abs() >= limit)
        .count();
    if too_large > 0 {
        return Err(DataError::new_err(format!(
            "column '{name}': {too_large} totals overflow 38 decimal digits"
        )));
    }
    let nullable = values.iter().any(Option::is_none);
    let array: ArrayRef = if decimal {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(38, scale as i8)
                .map_err(arrow_error)?,
        )
    } else {
        Arc::new(Float64Array::from(
            values
                .into_iter()
                .map(|v| v.map(|v| money::to_f64(v, scale)))
                .collect::<Vec<_>>(),
        ))
    };
    Ok((Field::new(name, array.data_type().clone(), nullable), array))
}

/// A built money column as an Arrow array: minor units at `scale` as decimal128(38, scale),
/// floats as float64; the buffer is moved, not copied.
pub fn money_values(name: &str, values: Money, scale: u32) -> CoreResult<(Field, ArrayRef)> {
    let array: ArrayRef = match values {
        Money::Minor(values) => Arc::new(
            Decimal128Array::new(ScalarBuffer::from(values), None)
                .with_precision_and_scale(38, scale as i8)
                .map_err(|e| CoreError::Argument {
                    name: "scale".into(),
                    message: e.to_string(),
                })?,
        ),
        Money::Float(values) => Arc::new(Float64Array::from(values)),
    };
    Ok((Field::new(name, array.data_type().clone(), false), array))
}

/// A pyarrow RecordBatch of the columns.
pub fn batch(py: Python<'_>, columns: Vec<(Field, ArrayRef)>) -> PyResult<Bound<'_, PyAny>> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(arrow_error)?;
    PyRecordBatch::new(batch).into_pyarrow(py)
}
