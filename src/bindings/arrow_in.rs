//! Arrow in: the transaction log as Python passes it — record batches whose columns are named
//! by role (`customer`, `time`, `amount`, `order`, `cost`) plus a roles mapping from each role
//! to the user's column name (for messages) — read into borrowed core columns and fed to a
//! partitioned [`Stream`].
use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Float32Type, Float64Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit as ArrowTimeUnit};
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;

use super::gil;
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::log::{Amounts, Columns, Ids, Options, Window};
use crate::core::partition::{Consumer, Stream};
use crate::core::period::{Freq, Periodizer, TimeUnit};

/// The roles a log's columns play, each the user's name of the column.
#[derive(Clone, Debug)]
pub struct Roles {
    customer: String,
    time: String,
    amount: Option<String>,
    order: Option<String>,
    cost: Option<String>,
}

impl Roles {
    const KNOWN: [&'static str; 5] = ["customer", "time", "amount", "order", "cost"];

    /// Roles from the mapping Python passes (role → column name); customer and time are needed.
    pub fn new(mut roles: HashMap<String, String>) -> CoreResult<Roles> {
        if let Some(unknown) = roles.keys().find(|r| !Self::KNOWN.contains(&r.as_str())) {
            return Err(CoreError::argument(
                "roles",
                format!(
                    "unknown role '{unknown}'; expected {}",
                    Self::KNOWN.join(", ")
                ),
            ));
        }
        let mut required = |role: &str| {
            roles
                .remove(role)
                .ok_or_else(|| CoreError::argument("roles", format!("the {role} is needed")))
        };
        let (customer, time) = (required("customer")?, required("time")?);
        Ok(Roles {
            customer,
            time,
            amount: roles.remove("amount"),
            order: roles.remove("order"),
            cost: roles.remove("cost"),
        })
    }

    pub fn has_amount(&self) -> bool {
        self.amount.is_some()
    }

    pub fn has_cost(&self) -> bool {
        self.cost.is_some()
    }
}

/// Time bounds of a call; the calibration end becomes a period once the time unit is known.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bounds {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub calibration_end: Option<i64>,
}

impl Bounds {
    fn window(&self, periodizer: &Periodizer) -> Window {
        Window {
            start: self.start,
            end: self.end,
            split: self.calibration_end.map(|time| periodizer.period(time)),
        }
    }
}

/// A column of a batch and the user's name of it.
struct Named<'a> {
    name: &'a str,
    array: &'a ArrayRef,
}

/// One record batch of the log, its columns found by role and checked for nulls.
pub struct LogBatch {
    batch: RecordBatch,
    roles: Roles,
}

/// Types of the customer, time and amount arrays of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Types {
    pub id: DataType,
    pub time: DataType,
    pub amount: Option<DataType>,
}

impl LogBatch {
    pub fn new(batch: RecordBatch, roles: &Roles) -> CoreResult<LogBatch> {
        let log = LogBatch {
            batch,
            roles: roles.clone(),
        };
        for role in Roles::KNOWN {
            if let Some(column) = log.column(role)? {
                let nulls = column.array.null_count();
                if nulls > 0 {
                    return Err(CoreError::data(
                        column.name,
                        "contains nulls; pass dropna=True to drop them",
                        nulls as u64,
                    ));
                }
            }
        }
        Ok(log)
    }

    /// The column playing `role`, when the roles name one.
    fn column(&self, role: &str) -> CoreResult<Option<Named<'_>>> {
        let name = match role {
            "customer" => Some(&self.roles.customer),
            "time" => Some(&self.roles.time),
            "amount" => self.roles.amount.as_ref(),
            "order" => self.roles.order.as_ref(),
            _ => self.roles.cost.as_ref(),
        };
        let Some(name) = name else {
            return Ok(None);
        };
        let array = self.batch.column_by_name(role).ok_or_else(|| {
            CoreError::argument("data", format!("the batch has no '{role}' column"))
        })?;
        Ok(Some(Named { name, array }))
    }

    fn required(&self, role: &str) -> CoreResult<Named<'_>> {
        self.column(role)?
            .ok_or_else(|| CoreError::argument("roles", format!("the {role} is needed")))
    }

    pub fn types(&self) -> CoreResult<Types> {
        Ok(Types {
            id: self.required("customer")?.array.data_type().clone(),
            time: self.required("time")?.array.data_type().clone(),
            amount: self.column("amount")?.map(|a| a.array.data_type().clone()),
        })
    }

    /// Borrowed columns and the options, with the money scale actually used (decimal128
    /// amounts keep their own).
    pub fn columns(
        &self,
        freq: Freq,
        scale: u32,
        bounds: &Bounds,
    ) -> CoreResult<(Columns<'_>, Options)> {
        check_scale(scale)?;
        let time = self.required("time")?;
        let (times, unit) = read_times(&time)?;
        let amount = self.column("amount")?;
        let amounts = amount
            .as_ref()
            .map(|a| read_amounts(a, scale))
            .transpose()?;
        let scale = amounts.map_or(scale, |(_, s)| s);
        let cost = self.column("cost")?;
        let costs = cost.as_ref().map(|c| read_amounts(c, scale)).transpose()?;
        if let (Some(cost), Some((_, cost_scale))) = (&cost, costs) {
            if cost_scale != scale {
                return Err(CoreError::schema(
                    cost.name,
                    "cost scale differs from the amount scale",
                ));
            }
        }
        let columns = Columns {
            ids: read_ids(&self.required("customer")?)?,
            times,
            amounts: amounts.map(|(a, _)| a),
            orders: self
                .column("order")?
                .map(|o| read_order_codes(&o))
                .transpose()?,
            costs: costs.map(|(c, _)| c),
        };
        let periodizer = Periodizer::new(freq, unit);
        let options = Options {
            periodizer,
            scale,
            window: bounds.window(&periodizer),
            time_name: time.name.to_string(),
            amount_name: amount.map_or_else(String::new, |a| a.name.to_string()),
            cost_name: cost.map_or_else(String::new, |c| c.name.to_string()),
        };
        Ok((columns, options))
    }
}

/// Money scales a call may ask for.
fn check_scale(scale: u32) -> CoreResult<()> {
    if scale > 18 {
        return Err(CoreError::argument(
            "scale",
            format!("must be between 0 and 18, got {scale}"),
        ));
    }
    Ok(())
}

fn read_ids<'a>(column: &Named<'a>) -> CoreResult<Ids<'a>> {
    let array = column.array;
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
        other => Err(CoreError::schema(
            column.name,
            format!("customer ids must be integers or strings, not {other}"),
        )),
    }
}

fn read_times<'a>(column: &Named<'a>) -> CoreResult<(&'a [i64], TimeUnit)> {
    let array = column.array;
    let values = match array.data_type() {
        DataType::Timestamp(ArrowTimeUnit::Second, _) => (
            array.as_primitive::<TimestampSecondType>().values(),
            TimeUnit::Second,
        ),
        DataType::Timestamp(ArrowTimeUnit::Millisecond, _) => (
            array.as_primitive::<TimestampMillisecondType>().values(),
            TimeUnit::Millisecond,
        ),
        DataType::Timestamp(ArrowTimeUnit::Microsecond, _) => (
            array.as_primitive::<TimestampMicrosecondType>().values(),
            TimeUnit::Microsecond,
        ),
        DataType::Timestamp(ArrowTimeUnit::Nanosecond, _) => (
            array.as_primitive::<TimestampNanosecondType>().values(),
            TimeUnit::Nanosecond,
        ),
        other => {
            return Err(CoreError::schema(
                column.name,
                format!("times must be timestamps or dates, not {other}"),
            ))
        }
    };
    Ok((values.0.as_ref(), values.1))
}

/// Amounts and the money scale they imply (decimal128 keeps its own scale).
fn read_amounts<'a>(column: &Named<'a>, scale: u32) -> CoreResult<(Amounts<'a>, u32)> {
    let array = column.array;
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
        other => Err(CoreError::schema(
            column.name,
            format!("amounts must be integers, floats or decimal128 with scale ≥ 0, not {other}"),
        )),
    }
}

fn read_order_codes<'a>(column: &Named<'a>) -> CoreResult<&'a [i64]> {
    match column.array.data_type() {
        DataType::Int64 => Ok(column.array.as_primitive::<Int64Type>().values()),
        other => Err(CoreError::schema(
            column.name,
            format!("order ids must be encoded as int64, not {other}"),
        )),
    }
}

/// What feeding a log's batches gave.
pub enum Fed {
    /// Every batch was taken: the first batch's options and column types.
    Taken(Options, Types),
    /// The consumer cannot take the rows in their order (some customer's periods go
    /// backwards): only the whole log, read at once, can be summarised.
    OutOfOrder,
}

/// A log batch from a Python object exporting a record batch.
pub fn log_batch(batch: &Bound<'_, PyAny>, roles: &Roles) -> PyResult<LogBatch> {
    let batch = batch.extract::<PyRecordBatch>()?.into_inner();
    Ok(LogBatch::new(batch, roles)?)
}

/// Feeds the batches Python yields (one table, or the record batches of files) to `stream`,
/// each in turn and dropped before the next is read.
pub fn feed<P: Consumer>(
    py: Python<'_>,
    batches: &Bound<'_, PyAny>,
    roles: &Roles,
    stream: &mut Stream<P>,
    freq: Freq,
    scale: u32,
    bounds: &Bounds,
) -> PyResult<Fed> {
    let mut first: Option<(Options, Types)> = None;
    for batch in batches.try_iter()? {
        let batch = log_batch(&batch?, roles)?;
        let (columns, options) = batch.columns(freq, scale, bounds)?;
        let types = batch.types()?;
        match &first {
            None => first = Some((options.clone(), types.clone())),
            Some((_, seen)) => {
                if (&seen.time, &seen.amount) != (&types.time, &types.amount) {
                    return Err(CoreError::argument(
                        "data",
                        "record batches differ in their time or amount types",
                    )
                    .into());
                }
            }
        }
        if !gil::run(py, || stream.feed(&columns, &options))? {
            return Ok(Fed::OutOfOrder);
        }
    }
    let (options, types) =
        first.ok_or_else(|| CoreError::argument("data", "no batch of transactions was given"))?;
    Ok(Fed::Taken(options, types))
}

/// The int64 column playing `role` in a batch named by role (`None` when absent), refused
/// when it holds nulls; `name` is the user's name of it, for messages.
pub fn int64_role<'a>(
    batch: &'a RecordBatch,
    role: &str,
    name: &str,
) -> CoreResult<Option<&'a [i64]>> {
    let Some(array) = batch.column_by_name(role) else {
        return Ok(None);
    };
    check_no_nulls(array, name)?;
    match array.data_type() {
        DataType::Int64 => Ok(Some(array.as_primitive::<Int64Type>().values())),
        other => Err(CoreError::schema(
            name,
            format!("expected int64 codes for the {role}, not {other}"),
        )),
    }
}

/// The amounts playing `role` in a batch named by role, and the money scale they imply.
pub fn amounts_role<'a>(
    batch: &'a RecordBatch,
    role: &str,
    name: &'a str,
    scale: u32,
) -> CoreResult<Option<(Amounts<'a>, u32)>> {
    check_scale(scale)?;
    let Some(array) = batch.column_by_name(role) else {
        return Ok(None);
    };
    check_no_nulls(array, name)?;
    read_amounts(&Named { name, array }, scale).map(Some)
}

fn check_no_nulls(array: &ArrayRef, name: &str) -> CoreResult<()> {
    match array.null_count() {
        0 => Ok(()),
        nulls => Err(CoreError::data(
            name,
            "contains nulls; pass dropna=True to drop them",
            nulls as u64,
        )),
    }
}
