//! Integer product ids read as codes without hashing: when the ids span a range not much
//! wider than the log, a product's code is its id's rank in that range — its offset, when
//! every id of the range occurs (the usual case for ids numbered 0..n or 1..=n).
use rayon::prelude::*;

/// The smallest and largest id, and how many distinct ids lie between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdSpan {
    pub lo: i64,
    pub hi: i64,
    pub distinct: u64,
}

/// The span of `ids`, when it is at most `widest` ids wide (else `None`: the caller hashes
/// them; also for no ids). One parallel pass for the bounds, one for a bitmap of the range.
pub fn id_span(ids: &[i64], widest: u64) -> Option<IdSpan> {
    let (lo, hi) = ids
        .par_iter()
        .with_min_len(1 << 14)
        .fold(
            || (i64::MAX, i64::MIN),
            |(lo, hi), &id| (lo.min(id), hi.max(id)),
        )
        .reduce(|| (i64::MAX, i64::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    if ids.is_empty() || (hi as i128 - lo as i128) >= widest as i128 {
        return None;
    }
    let words = ((hi - lo) as u64 / 64 + 1) as usize;
    // One bitmap per thread's share of the ids, or'ed together.
    let share = ids.len().div_ceil(rayon::current_num_threads().max(1));
    let seen = ids
        .par_chunks(share.max(1))
        .map(|chunk| {
            let mut seen = vec![0u64; words];
            for &id in chunk {
                let at = id.wrapping_sub(lo) as u64;
                seen[(at / 64) as usize] |= 1 << (at % 64);
            }
            seen
        })
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x |= y);
            a
        })
        .unwrap_or_default();
    let distinct = seen.iter().map(|w| u64::from(w.count_ones())).sum();
    Some(IdSpan { lo, hi, distinct })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_the_distinct_ids_of_their_range() {
        let ids = [5, 3, 9, 3, 5, 130];
        assert_eq!(
            id_span(&ids, 1000),
            Some(IdSpan {
                lo: 3,
                hi: 130,
                distinct: 4
            })
        );
        assert!(id_span(&ids, 128).is_some());
        assert_eq!(id_span(&ids, 127), None);
        assert_eq!(id_span(&[], 10), None);
        let every: Vec<i64> = (0..100_000).rev().collect();
        let span = id_span(&every, 1 << 20).expect("narrow");
        assert_eq!((span.lo, span.hi, span.distinct), (0, 99_999, 100_000));
        let extremes = [i64::MIN, i64::MAX];
        assert_eq!(id_span(&extremes, u64::MAX), None);
    }
}
