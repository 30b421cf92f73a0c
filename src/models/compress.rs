//! Compression of per-customer `(x, t_x, T)` rows into unique rows with summed weights.

use super::{canon, check_len, validate_rfm, Distinct, RfmData};
use crate::core::error::{CoreError, Result};
use rayon::prelude::*;

/// Unique rows plus the customer → unique-row map.
#[derive(Debug, Clone)]
pub struct Compressed {
    /// Unique rows, sorted by `(x, t_x, T)`, with summed weights.
    pub data: RfmData,
    /// For each input customer, the index of its row in `data`.
    pub index: Vec<u32>,
}

/// Compresses customers into unique `(x, t_x, T)` rows (validated: finite, non-negative,
/// `t_x <= T`, weights >= 0). Deterministic: rows are sorted by value and weights of equal rows
/// are summed in input order. Each column's values are ranked by hashing; the packed rank codes
/// are radix sorted (a comparison sort only when the codes need more than 64 bits).
pub fn compress(x: &[f64], t_x: &[f64], t: &[f64], weights: Option<&[f64]>) -> Result<Compressed> {
    let n = x.len();
    check_len("recency", t_x.len(), n)?;
    check_len("T", t.len(), n)?;
    if let Some(w) = weights {
        check_len("weights", w.len(), n)?;
    }
    if n > u32::MAX as usize {
        return Err(CoreError::argument("x", "more than 2^32 - 1 rows"));
    }
    validate_rfm(x, t_x, t, weights)?;
    let cols = [x, t_x, t];
    // Each column's sorted distinct values and every row's rank among them.
    let ranks: Vec<Distinct> = cols.par_iter().map(|c| Distinct::new(c)).collect();
    let bits: Vec<u32> = ranks
        .iter()
        .map(|d| usize::BITS - (d.values.len().max(1) - 1).leading_zeros())
        .collect();
    let total_bits: u32 = bits.iter().sum();
    let idx_bits = usize::BITS - n.max(1).leading_zeros();
    if total_bits + idx_bits <= 64 {
        // Rank codes order like the values: pack (code, row) into one u64 and radix sort by the
        // code (stable, so equal rows stay in input order).
        let (sx, st) = (bits[1] + bits[2], bits[2]);
        let mut packed: Vec<u64> = (0..n)
            .into_par_iter()
            .with_min_len(4096)
            .map(|i| {
                let code = ((ranks[0].index[i] as u64) << sx)
                    | ((ranks[1].index[i] as u64) << st)
                    | ranks[2].index[i] as u64;
                (code << idx_bits) | i as u64
            })
            .collect();
        radix_sort(&mut packed, idx_bits, idx_bits + total_bits);
        let imask = (1u64 << idx_bits) - 1;
        let (mx, mt) = ((1u64 << bits[1]) - 1, (1u64 << bits[2]) - 1);
        let mut out = RfmData::default();
        let mut index = vec![0u32; n];
        let mut prev = u64::MAX;
        let mut acc = 0.0;
        for &v in &packed {
            let code = v >> idx_bits;
            let i = (v & imask) as usize;
            if code != prev {
                if prev != u64::MAX {
                    out.weight.push(acc);
                }
                acc = 0.0;
                out.x.push(ranks[0].values[(code >> sx) as usize]);
                out.t_x.push(ranks[1].values[((code >> st) & mx) as usize]);
                out.t.push(ranks[2].values[(code & mt) as usize]);
                prev = code;
            }
            acc += weights.map_or(1.0, |w| w[i]);
            index[i] = out.x.len() as u32 - 1;
        }
        if n > 0 {
            out.weight.push(acc);
        }
        return Ok(Compressed { data: out, index });
    }
    let mut order: Vec<(u64, u64, u64, u32)> = (0..n)
        .into_par_iter()
        .map(|i| (canon(x[i]), canon(t_x[i]), canon(t[i]), i as u32))
        .collect();
    // Keys include the row index, so the order (and every sum) is fully determined.
    order.par_sort_unstable();
    let mut out = RfmData::default();
    let mut index = vec![0u32; n];
    let mut prev: Option<(u64, u64, u64)> = None;
    for &(a, b, c, i) in &order {
        let i = i as usize;
        let w = weights.map_or(1.0, |w| w[i]);
        if prev != Some((a, b, c)) {
            out.x.push(f64::from_bits(a));
            out.t_x.push(f64::from_bits(b));
            out.t.push(f64::from_bits(c));
            out.weight.push(0.0);
            prev = Some((a, b, c));
        }
        let last = out.weight.len() - 1;
        out.weight[last] += w;
        index[i] = last as u32;
    }
    Ok(Compressed { data: out, index })
}

/// Stable LSD radix sort of `v` by bits `lo..hi`.
fn radix_sort(v: &mut Vec<u64>, lo: u32, hi: u32) {
    if hi <= lo {
        return;
    }
    let passes = (hi - lo).div_ceil(11);
    let r = (hi - lo).div_ceil(passes);
    let mask = (1u64 << r) - 1;
    let mut count = vec![vec![0usize; 1 << r]; passes as usize];
    for &x in v.iter() {
        for (p, c) in count.iter_mut().enumerate() {
            c[((x >> (lo + p as u32 * r)) & mask) as usize] += 1;
        }
    }
    let mut tmp = vec![0u64; v.len()];
    for (p, c) in count.iter_mut().enumerate() {
        let shift = lo + p as u32 * r;
        let mut sum = 0;
        for b in c.iter_mut() {
            let k = *b;
            *b = sum;
            sum += k;
        }
        for &x in v.iter() {
            let b = ((x >> shift) & mask) as usize;
            tmp[c[b]] = x;
            c[b] += 1;
        }
        std::mem::swap(v, &mut tmp);
    }
}

/// Scatters per-unique-row values back to customers: `out[i] = values[index[i]]`.
/// Errors if an index is out of range.
pub fn scatter<T: Copy + Send + Sync>(values: &[T], index: &[u32]) -> Result<Vec<T>> {
    let m = values.len();
    if index.par_iter().any(|&j| j as usize >= m) {
        return Err(CoreError::argument(
            "index",
            format!("index out of range for {m} values"),
        ));
    }
    Ok(index.par_iter().map(|&j| values[j as usize]).collect())
}
