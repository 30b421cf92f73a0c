//! Bindings of cross-sell and upsell: basket KPIs, product affinity, next purchases and
//! item-to-item recommendations over a log whose lines carry product codes.
//!
//! Python passes one record batch named by role (`order`, `product`, `customer`, `time`,
//! `amount`, `quantity`; codes as int64, products numbered `0..n_products` in the order they
//! are listed) and the user's column names; results name products and customers by code.
use std::collections::HashMap;

use arrow_array::RecordBatch;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;

use super::arrow_in::{amounts_role, int64_role};

use super::arrow_out::{batch, f64_column, i64_column, int_column, minor_money_column, money_kind};
use super::gil;
use crate::core::basket::kpis::{basket_kpis as core_kpis, LineValues};
use crate::core::basket::pairs::{count_pairs, Thresholds};
use crate::core::basket::sequence::next_products;
use crate::core::basket::similarity::{recommend as core_recommend, Neighbours, Scorer};
use crate::core::basket::{
    baskets, baskets_tallied, id_bounds as core_id_bounds, id_span as core_id_span,
    in_customer_order, Level, Lines,
};
use crate::core::error::{CoreError, Result as CoreResult};
use crate::core::money::{mean_minor, MEAN_EXTRA_SCALE};

/// The batch and the user's column names by role.
struct Input {
    batch: RecordBatch,
    names: HashMap<String, String>,
}

impl Input {
    fn new(lines: &Bound<'_, PyAny>, names: HashMap<String, String>) -> PyResult<Input> {
        let batch = lines.extract::<PyRecordBatch>()?.into_inner();
        Ok(Input { batch, names })
    }

    fn name<'a>(&'a self, role: &'a str) -> &'a str {
        self.names.get(role).map_or(role, String::as_str)
    }

    fn ints(&self, role: &str) -> CoreResult<Option<&[i64]>> {
        int64_role(&self.batch, role, self.name(role))
    }

    fn lines(&self, n_products: usize) -> CoreResult<Lines<'_>> {
        let products = self
            .ints("product")?
            .ok_or_else(|| CoreError::argument("product", "the product column is needed"))?;
        Ok(Lines {
            orders: self.ints("order")?,
            products,
            customers: self.ints("customer")?,
            times: self.ints("time")?,
            n_products,
            product_name: self.name("product"),
            customer_name: self.name("customer"),
        })
    }
}

/// (lowest, highest, distinct) of integer ids spanning at most `widest` values, else `None`.
#[pyfunction]
pub fn id_span(
    py: Python<'_>,
    ids: PyReadonlyArray1<'_, i64>,
    widest: u64,
) -> PyResult<Option<(i64, i64, u64)>> {
    let ids = ids.as_slice()?;
    let span = gil::run(py, || Ok(core_id_span(ids, widest)))?;
    Ok(span.map(|s| (s.lo, s.hi, s.distinct)))
}

/// (lowest, highest) of integer ids, `None` for none.
#[pyfunction]
pub fn id_bounds(py: Python<'_>, ids: PyReadonlyArray1<'_, i64>) -> PyResult<Option<(i64, i64)>> {
    let ids = ids.as_slice()?;
    gil::run(py, || Ok(core_id_bounds(ids)))
}

/// Basket KPIs as Python gets them: totals by name, orders by size, attach rates.
type KpiTables<'py> = (
    HashMap<String, Option<i128>>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
);

/// Basket KPIs: (totals, orders by size, products' attach rates). Totals hold counts, and
/// `revenue` / `aov` in minor units at `scale` / `mean_scale` when amounts were given.
#[pyfunction]
#[pyo3(signature = (lines, names, *, n_products, scale, max_size, decimal))]
pub fn basket_kpis<'py>(
    py: Python<'py>,
    lines: &Bound<'py, PyAny>,
    names: HashMap<String, String>,
    n_products: usize,
    scale: u32,
    max_size: u64,
    decimal: bool,
) -> PyResult<KpiTables<'py>> {
    let input = Input::new(lines, names)?;
    let rows = input.lines(n_products)?;
    let amounts = amounts_role(&input.batch, "amount", input.name("amount"), scale)?;
    let values = LineValues {
        amounts: amounts.map(|(a, _)| a),
        scale: amounts.map_or(scale, |(_, s)| s),
        quantities: input.ints("quantity")?,
        amount_name: input.name("amount"),
        quantity_name: input.name("quantity"),
    };
    let kpis = gil::run(py, || {
        core_kpis(&baskets(&rows, Level::Order)?, &values, max_size)
    })?;
    let has_amount = amounts.is_some();
    let money = |v: i128| has_amount.then_some(v);
    let totals: HashMap<String, Option<i128>> = [
        ("orders", Some(kpis.orders as i128)),
        ("lines", Some(kpis.lines as i128)),
        ("items", Some(kpis.items as i128)),
        ("product_slots", Some(kpis.product_slots as i128)),
        ("multi_item_orders", Some(kpis.multi_item_orders as i128)),
        (
            "multi_product_orders",
            Some(kpis.multi_product_orders as i128),
        ),
        ("revenue", money(kpis.revenue)),
        (
            "aov",
            money(mean_minor(kpis.revenue, kpis.orders)).filter(|_| kpis.orders > 0),
        ),
        ("scale", Some(values.scale as i128)),
        (
            "mean_scale",
            Some((values.scale + MEAN_EXTRA_SCALE) as i128),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let sizes = &kpis.by_size;
    let mut by_size = vec![
        int_column("size", sizes.iter().map(|b| b.size as i64)),
        int_column("orders", sizes.iter().map(|b| b.orders as i64)),
    ];
    if has_amount {
        let kind = money_kind(decimal);
        let revenue: Vec<Option<i128>> = sizes.iter().map(|b| Some(b.revenue)).collect();
        let aov: Vec<Option<i128>> = sizes
            .iter()
            .map(|b| Some(mean_minor(b.revenue, b.orders)))
            .collect();
        by_size.push(minor_money_column("revenue", &revenue, values.scale, kind)?);
        by_size.push(minor_money_column(
            "aov",
            &aov,
            values.scale + MEAN_EXTRA_SCALE,
            kind,
        )?);
    }
    let attach = vec![
        int_column("orders", kpis.product_orders.iter().map(|&v| v as i64)),
        int_column(
            "attached_orders",
            kpis.attached_orders.iter().map(|&v| v as i64),
        ),
    ];
    Ok((totals, batch(py, by_size)?, batch(py, attach)?))
}

/// Product pairs `a < b` (codes) held together by at least the thresholds' baskets, with
/// their measures; also the number of baskets and of products passing the thresholds.
#[pyfunction]
#[pyo3(signature = (lines, names, *, n_products, level, min_support, min_count, top_k))]
#[allow(clippy::too_many_arguments)]
pub fn affinity<'py>(
    py: Python<'py>,
    lines: &Bound<'py, PyAny>,
    names: HashMap<String, String>,
    n_products: usize,
    level: &str,
    min_support: Option<f64>,
    min_count: u64,
    top_k: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, usize, usize)> {
    let level = Level::parse(level)?;
    let thresholds = Thresholds::new(min_support, min_count)?;
    let input = Input::new(lines, names)?;
    let rows = input.lines(n_products)?;
    let (counts, m) = gil::run(py, || {
        let mut counts = count_pairs(&baskets_tallied(&rows, level)?, &thresholds);
        if let Some(k) = top_k {
            counts.strongest(k);
        }
        let measures = counts.measures();
        Ok((counts, measures))
    })?;
    let out = vec![
        i64_column("product_a", m.product_a),
        i64_column("product_b", m.product_b),
        i64_column("count", m.count),
        f64_column("support", m.support),
        f64_column("confidence_a_b", m.confidence_a_b),
        f64_column("confidence_b_a", m.confidence_b_a),
        f64_column("lift", m.lift),
        f64_column("leverage", m.leverage),
        f64_column("conviction_a_b", m.conviction_a_b),
        f64_column("conviction_b_a", m.conviction_b_a),
        f64_column("jaccard", m.jaccard),
        f64_column("p_value", m.p_value),
    ];
    Ok((batch(py, out)?, counts.baskets, counts.frequent_products))
}

/// For each product (code), the products of the customer's next order.
#[pyfunction]
#[pyo3(signature = (lines, names, *, n_products, min_count, top_k))]
pub fn next_purchase<'py>(
    py: Python<'py>,
    lines: &Bound<'py, PyAny>,
    names: HashMap<String, String>,
    n_products: usize,
    min_count: u64,
    top_k: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let input = Input::new(lines, names)?;
    let rows = input.lines(n_products)?;
    if rows.customers.is_none() || rows.times.is_none() {
        return Err(CoreError::argument("data", "next purchases need customers and times").into());
    }
    let follows = gil::run(py, || {
        let orders = in_customer_order(baskets(&rows, Level::Order)?);
        Ok(next_products(&orders, min_count.max(1), top_k))
    })?;
    let out = vec![
        int_column("product", follows.iter().map(|f| f.product as i64)),
        int_column("next_product", follows.iter().map(|f| f.next as i64)),
        int_column("count", follows.iter().map(|f| f.count as i64)),
        int_column("orders", follows.iter().map(|f| f.followed as i64)),
        f64_column(
            "probability",
            follows
                .iter()
                .map(|f| f.count as f64 / f.followed as f64)
                .collect(),
        ),
    ];
    batch(py, out)
}

/// The top products of each customer (code): `method` "similar" (item-to-item cosine, each
/// product's `neighbors` most similar kept) or "popular" (the baseline).
#[pyfunction]
#[pyo3(signature = (lines, names, *, n_products, top_k, exclude_purchased, neighbors, method))]
#[allow(clippy::too_many_arguments)]
pub fn recommend<'py>(
    py: Python<'py>,
    lines: &Bound<'py, PyAny>,
    names: HashMap<String, String>,
    n_products: usize,
    top_k: usize,
    exclude_purchased: bool,
    neighbors: Option<usize>,
    method: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let input = Input::new(lines, names)?;
    let rows = input.lines(n_products)?;
    let popular = match method {
        "similar" => false,
        "popular" => true,
        other => {
            return Err(CoreError::argument(
                "method",
                format!("must be 'similar' or 'popular', got '{other}'"),
            )
            .into())
        }
    };
    let (recs, customers) = gil::run(py, || {
        let customers = baskets(&rows, Level::Customer)?;
        let recs = if popular {
            let counts = customers.product_counts();
            core_recommend(
                &customers,
                &Scorer::Popular(&counts),
                top_k,
                exclude_purchased,
            )
        } else {
            let table = Neighbours::of(&customers, neighbors);
            core_recommend(
                &customers,
                &Scorer::Similar(&table),
                top_k,
                exclude_purchased,
            )
        };
        Ok((recs, customers.customers))
    })?;
    let out = vec![
        int_column(
            "customer",
            recs.iter().map(|r| customers[r.basket as usize]),
        ),
        int_column("rank", recs.iter().map(|r| r.rank as i64)),
        int_column("product", recs.iter().map(|r| r.product as i64)),
        f64_column("score", recs.iter().map(|r| r.score).collect()),
    ];
    batch(py, out)
}
