//! Integer product ids read as codes without hashing: when the ids span a range not much
//! wider than the log, a product's code is its id's rank in that range — its offset, when
//! every id of the range occurs (the usual case for ids numbered 0..n or 1..=n).
use rayon::prelude::*;

use crate::core::vmath;

/// The smallest and largest id, and how many distinct ids lie between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdSpan {
    pub lo: i64,
    pub hi: i64,
    pub distinct: u64,
}

/// The span of `ids`, when it is at most `widest` ids wide (else `None`: the caller hashes
/// them; also for no ids). One parallel read of the ids, in blocks small enough to stay in
/// cache while they are read twice: once for their bounds, once to mark them in a bitmap
/// over `0..=highest` — the ids of a dense range usually start near 0. Ids below 0, or a
/// range starting far above 0, take a second read with the bitmap over `lowest..=highest`.
pub fn id_span(ids: &[i64], widest: u64) -> Option<IdSpan> {
    let share = share(ids.len(), 1 << 14);
    let from_zero = ids
        .par_chunks(share)
        .map(|chunk| Marks::read(chunk, 0, widest))
        .reduce_with(Marks::merge)?;
    let (lo, hi) = (from_zero.lo, from_zero.hi);
    if (hi as i128 - lo as i128) >= widest as i128 {
        return None;
    }
    let marks = if from_zero.outside {
        ids.par_chunks(share)
            .map(|chunk| Marks::read(chunk, lo, widest))
            .reduce_with(Marks::merge)?
    } else {
        from_zero
    };
    // Marks start at `origin` (0 or `lo`), so the count is the same either way.
    let distinct = marks.seen.iter().map(|w| u64::from(w.count_ones())).sum();
    Some(IdSpan { lo, hi, distinct })
}

/// The smallest and largest of `ids` (`None` for no ids): one parallel read, in vector
/// registers (a twentieth of [`id_span`]'s time, which marks every id in a bitmap too).
pub fn id_bounds(ids: &[i64]) -> Option<(i64, i64)> {
    let bounds = ids
        .par_chunks(share(ids.len(), 1 << 16))
        .map(|chunk| {
            vmath::widest(
                #[inline(always)]
                || bounds(chunk),
            )
        })
        .reduce(|| NO_BOUNDS, widen);
    (!ids.is_empty()).then_some(bounds)
}

/// Ids read by one task: an equal share for each thread, at least `least`.
fn share(len: usize, least: usize) -> usize {
    len.div_ceil(rayon::current_num_threads().max(1)).max(least)
}

/// The bounds of no ids: what any id widens.
const NO_BOUNDS: (i64, i64) = (i64::MAX, i64::MIN);

/// The smallest and largest of `ids` ([`NO_BOUNDS`] for none); inlined, so that it runs in
/// vector registers inside [`vmath::widest`].
#[inline(always)]
fn bounds(ids: &[i64]) -> (i64, i64) {
    ids.iter().fold(NO_BOUNDS, |b, &id| widen(b, (id, id)))
}

#[inline(always)]
fn widen((lo, hi): (i64, i64), (l, h): (i64, i64)) -> (i64, i64) {
    (lo.min(l), hi.max(h))
}

/// Bounds of a share of the ids, and a bitmap of those in `origin..origin + widest`.
struct Marks {
    lo: i64,
    hi: i64,
    seen: Vec<u64>,
    /// Some id fell outside the bitmap's range.
    outside: bool,
}

impl Marks {
    fn read(ids: &[i64], origin: i64, widest: u64) -> Marks {
        let mut marks = Marks {
            lo: NO_BOUNDS.0,
            hi: NO_BOUNDS.1,
            seen: Vec::new(),
            outside: false,
        };
        for block in ids.chunks(1 << 13) {
            let (lo, hi) = bounds(block);
            (marks.lo, marks.hi) = widen((marks.lo, marks.hi), (lo, hi));
            let span = hi as i128 - origin as i128;
            if marks.outside || lo < origin || span >= widest as i128 {
                marks.outside = true;
                continue;
            }
            let words = (span as usize) / 64 + 1;
            if marks.seen.len() < words {
                marks.seen.resize(words, 0);
            }
            for &id in block {
                let at = (id - origin) as usize;
                marks.seen[at / 64] |= 1 << (at % 64);
            }
        }
        marks
    }

    fn merge(mut a: Marks, mut b: Marks) -> Marks {
        if a.seen.len() < b.seen.len() {
            std::mem::swap(&mut a.seen, &mut b.seen);
        }
        a.seen.iter_mut().zip(&b.seen).for_each(|(x, y)| *x |= y);
        let (lo, hi) = widen((a.lo, a.hi), (b.lo, b.hi));
        Marks {
            lo,
            hi,
            seen: a.seen,
            outside: a.outside || b.outside,
        }
    }
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
        assert_eq!(id_bounds(&ids), Some((3, 130)));
        assert_eq!(id_bounds(&[]), None);
        assert_eq!(id_bounds(&every), Some((0, 99_999)));
        let extremes = [i64::MIN, i64::MAX];
        assert_eq!(id_bounds(&extremes), Some((i64::MIN, i64::MAX)));
        assert_eq!(id_span(&extremes, u64::MAX), None);
        // Negative ids, and ids far from 0, take the second read.
        let shifted: Vec<i64> = (0..50_000).map(|i| (i % 700) * 3 - 1_000).collect();
        let span = id_span(&shifted, 1 << 20).expect("narrow");
        assert_eq!((span.lo, span.hi, span.distinct), (-1_000, 1_097, 700));
        let far: Vec<i64> = (0..50_000).map(|i| 1 << 40 | (i % 333)).collect();
        let span = id_span(&far, 1_000).expect("narrow");
        assert_eq!(
            (span.lo, span.hi, span.distinct),
            (1 << 40, (1 << 40) + 332, 333)
        );
    }
}
