//! Arrow out: core results as Arrow columns and pyarrow record batches, and the typed results
//! the log functions return to Python.
use std::sync::Arc;

use arrow_array::{
    make_array, Array, ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray, UInt32Array,
};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;

use crate::core::customers::CustomerIds;
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::money;
use crate::core::summary::{Money, MoneyKind};

/// A named Arrow column of a result.
pub type Column = (Field, ArrayRef);

/// A per-customer table of the log and what the pass over the log left out.
#[pyclass(frozen, get_all, module = "custval._native")]
pub struct LogTable {
    /// The table, a `pyarrow.RecordBatch`.
    pub table: Py<PyAny>,
    /// Rows after the observation end (not used).
    pub rows_after_end: u64,
    /// Customers whose first purchase is in the holdout (calibration tables only; excluded).
    pub customers_first_seen_in_holdout: u64,
    /// Latest time among the rows used, in the time column's unit (`None`: no row used).
    pub last_time: Option<i64>,
}

/// KPI totals and ratios of a window; money in minor units at `scale`; `None` where a
/// denominator is 0.
#[pyclass(frozen, get_all, module = "custval._native")]
pub struct KpiTotals {
    pub customers: u64,
    pub orders: u64,
    pub revenue: i128,
    pub repeat_customers: u64,
    /// Cost total, when a cost column was given.
    pub cost: Option<i128>,
    pub scale: u32,
    /// Rows before the start or after the end of the window (not used).
    pub rows_outside_window: u64,
    /// revenue / orders and revenue / customers in minor units at `mean_scale` (half to even).
    pub aov: Option<i128>,
    pub spend_per_customer: Option<i128>,
    pub mean_scale: u32,
    pub purchase_frequency: Option<f64>,
    pub repeat_customer_rate: Option<f64>,
}

/// The log's rows are not in period order within customers: pass the whole log at once
/// (`unordered=True`) to summarise it.
#[pyclass(frozen, module = "custval._native")]
pub struct OutOfOrder;

fn building(e: ArrowError) -> CoreError {
    CoreError::argument("data", format!("building the result failed: {e}"))
}

/// A pyarrow RecordBatch of the columns.
pub fn batch(py: Python<'_>, columns: Vec<Column>) -> PyResult<Bound<'_, PyAny>> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(building)?;
    PyRecordBatch::new(batch).into_pyarrow(py)
}

/// The customers' ids as an `ids` column: int64, or strings of the type the kernel read
/// (large strings when they outgrow 32-bit offsets).
pub fn id_column(ids: CustomerIds, read_as: &DataType) -> CoreResult<Column> {
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
pub fn time_column(name: &str, values: Vec<i64>, time_type: &DataType) -> CoreResult<Column> {
    let data = Int64Array::from(values)
        .into_data()
        .into_builder()
        .data_type(time_type.clone())
        .build()
        .map_err(building)?;
    Ok((Field::new(name, time_type.clone(), false), make_array(data)))
}

pub fn f64_column(name: &str, values: Vec<f64>) -> Column {
    (
        Field::new(name, DataType::Float64, false),
        Arc::new(Float64Array::from(values)),
    )
}

/// Integers already collected (no copy).
pub fn i64_column(name: &str, values: Vec<i64>) -> Column {
    (
        Field::new(name, DataType::Int64, false),
        Arc::new(Int64Array::from(values)),
    )
}

pub fn int_column(name: &str, values: impl IntoIterator<Item = i64>) -> Column {
    (
        Field::new(name, DataType::Int64, false),
        Arc::new(Int64Array::from_iter_values(values)),
    )
}

/// Integers with nulls.
pub fn nullable_int_column(name: &str, values: Vec<Option<i64>>) -> Column {
    (
        Field::new(name, DataType::Int64, true),
        Arc::new(Int64Array::from(values)),
    )
}

pub fn row_column(name: &str, values: Vec<u32>) -> Column {
    (
        Field::new(name, DataType::UInt32, false),
        Arc::new(UInt32Array::from(values)),
    )
}

pub fn bool_column(name: &str, values: Vec<bool>) -> Column {
    (
        Field::new(name, DataType::Boolean, false),
        Arc::new(BooleanArray::from(values)),
    )
}

/// Ratios; `None` (a zero denominator) is null.
pub fn ratio_column(name: &str, values: Vec<Option<f64>>) -> Column {
    (
        Field::new(name, DataType::Float64, true),
        Arc::new(Float64Array::from(values)),
    )
}

/// A built money column as an Arrow array: minor units at `scale` as decimal128(38, scale),
/// floats as float64; the buffer is moved, not copied. `nulls` marks missing values.
pub fn money_column(
    name: &str,
    values: Money,
    scale: u32,
    nulls: Option<NullBuffer>,
) -> CoreResult<Column> {
    let array: ArrayRef = match values {
        Money::Minor(values) => Arc::new(
            Decimal128Array::new(ScalarBuffer::from(values), nulls)
                .with_precision_and_scale(38, scale as i8)
                .map_err(|e| CoreError::argument("scale", e.to_string()))?,
        ),
        Money::Float(values) => Arc::new(Float64Array::new(ScalarBuffer::from(values), nulls)),
    };
    let nullable = array.null_count() > 0;
    Ok((Field::new(name, array.data_type().clone(), nullable), array))
}

/// Money in minor units at `scale` (`None`: null) as a [`money_column`] of `kind`; values
/// beyond 38 digits are an error, as no decimal result can hold them.
pub fn minor_money_column(
    name: &str,
    values: &[Option<i128>],
    scale: u32,
    kind: MoneyKind,
) -> CoreResult<Column> {
    let too_large = values
        .iter()
        .flatten()
        .filter(|&&v| !money::fits_38_digits(v))
        .count();
    if too_large > 0 {
        return Err(CoreError::data(
            name,
            "totals overflow 38 decimal digits",
            too_large as u64,
        ));
    }
    let minor = values.iter().map(|v| v.unwrap_or(0));
    let built = match kind {
        MoneyKind::Minor => Money::Minor(minor.collect()),
        MoneyKind::Float => Money::Float(minor.map(|v| money::to_f64(v, scale)).collect()),
    };
    let nulls = values
        .iter()
        .any(Option::is_none)
        .then(|| NullBuffer::from_iter(values.iter().map(Option::is_some)));
    money_column(name, built, scale, nulls)
}

/// How money columns are built: exact decimals or floats.
pub fn money_kind(decimal: bool) -> MoneyKind {
    if decimal {
        MoneyKind::Minor
    } else {
        MoneyKind::Float
    }
}
