//! Pair occurrences written as (a → b) entries and tallied into pairs: the counting half of
//! [`super::pairs`]. The baskets are read once in order, each pair occurrence written as an
//! entry grouped by `a` (one slice per chunk of baskets), then each block of products' entries
//! tallied in a dense counter ([`Tally`]) into a run of pairs by ascending (a, b).
use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use crate::core::basket::pairs::Pair;
use crate::core::basket::tally::{Tally, PRODUCTS_PER_TASK};
use crate::core::basket::Baskets;
use crate::core::interrupt::checkpoint;
use crate::core::pages;

/// Blocks of products tallied by one job at most: rayon, started on a pool thread, splits a
/// range only as deep as the thread count, and the blocks differ in work; small jobs keep
/// both threads busy to the end (as the measures' jobs, `pairs::MEASURE_JOB_TASKS`). A few
/// blocks a job: each job starts a counter.
const TALLY_JOB_BLOCKS: usize = 8;

/// Most (a → b) entries written at once: 64M entries, 256 MiB. More are counted in several
/// passes over the baskets, each for a range of products `a`.
pub(super) const EMIT_BUDGET: usize = 1 << 26;

/// Writes every basket's pairs of frequent products as (a → b) entries, grouped by `a`, and
/// counts them per `a` in a dense counter (Linden, Smith & York's item-to-item loop, fed
/// from one sequential read of the baskets instead of random reads per product). The
/// baskets are cut into chunks, one per task; each chunk writes into its own slice, by `a`.
pub(super) struct Emitter<'a> {
    baskets: &'a Baskets,
    /// Which products pass the thresholds; `None` when every product bought does (then
    /// baskets are read as they are, not filtered into a copy).
    frequent: Option<&'a [bool]>,
    /// Basket ranges of the chunks.
    chunks: Vec<(usize, usize)>,
    /// Per chunk, per product `a`: the entries (a → b) its baskets write.
    entries: Vec<Vec<u32>>,
}

/// A range of products `a` counted in one pass, and the entries it writes.
pub(super) struct Window {
    first: usize,
    last: usize,
    entries: usize,
}

impl<'a> Emitter<'a> {
    /// The emitter of the products `frequent` marks (`None`: all), with the entries each
    /// chunk writes counted; without `frequent`, also the baskets holding each product.
    pub(super) fn new(
        baskets: &'a Baskets,
        frequent: Option<&'a [bool]>,
    ) -> (Emitter<'a>, Vec<u64>) {
        let n = baskets.len();
        let pieces = (rayon::current_num_threads() * 2).max(1);
        let mut cuts: Vec<usize> = (0..=pieces).map(|k| n * k / pieces).collect();
        cuts.dedup();
        let chunks: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        let mut emitter = Emitter {
            baskets,
            frequent,
            chunks,
            entries: Vec::new(),
        };
        let products = baskets.n_products;
        let (entries, counts): (Vec<Vec<u32>>, Vec<Vec<u64>>) = emitter
            .chunks
            .par_iter()
            .map(|&(from, to)| {
                checkpoint();
                let mut entries = vec![0u32; products];
                if frequent.is_some() {
                    emitter.each_basket(from, to, |items| {
                        for (i, &a) in items.iter().enumerate() {
                            entries[a as usize] += (items.len() - i - 1) as u32;
                        }
                    });
                    return (entries, Vec::new());
                }
                // Every basket, those of one product too.
                let mut counts = vec![0u64; products];
                for basket in from..to {
                    let items = baskets.basket(basket);
                    for (i, &a) in items.iter().enumerate() {
                        entries[a as usize] += (items.len() - i - 1) as u32;
                        counts[a as usize] += 1;
                    }
                }
                (entries, counts)
            })
            .unzip();
        emitter.entries = entries;
        let counts = counts
            .into_iter()
            .reduce(|mut total, chunk| {
                total.iter_mut().zip(chunk).for_each(|(t, c)| *t += c);
                total
            })
            .unwrap_or_else(|| vec![0; products]);
        (emitter, counts)
    }

    /// The emitter of every product from the tallies the grouping took (`None` without
    /// them), with the baskets holding each product: its chunks are the grouping's pieces,
    /// neighbours merged down to the number [`Emitter::new`] cuts.
    pub(super) fn tallied(baskets: &'a Baskets) -> Option<(Emitter<'a>, Vec<u64>)> {
        let pieces = &baskets.tallies;
        if pieces.is_empty() {
            return None;
        }
        let products = baskets.n_products;
        let wanted = (rayon::current_num_threads() * 2).clamp(1, pieces.len());
        let mut chunks = Vec::with_capacity(wanted);
        let mut entries = Vec::with_capacity(wanted);
        let mut holding = vec![0u64; products];
        for k in 0..wanted {
            let merged = &pieces[k * pieces.len() / wanted..(k + 1) * pieces.len() / wanted];
            let mut sum = vec![0u32; products];
            for piece in merged {
                sum.iter_mut()
                    .zip(&piece.entries)
                    .for_each(|(s, &e)| *s += e);
                holding
                    .iter_mut()
                    .zip(&piece.holding)
                    .for_each(|(h, &c)| *h += u64::from(c));
            }
            let (first, last) = (&merged[0], &merged[merged.len() - 1]);
            chunks.push((first.baskets.start, last.baskets.end));
            entries.push(sum);
        }
        let emitter = Emitter {
            baskets,
            frequent: None,
            chunks,
            entries,
        };
        Some((emitter, holding))
    }

    /// Calls `f` with the frequent products of each basket in `from..to` holding two or more.
    fn each_basket(&self, from: usize, to: usize, mut f: impl FnMut(&[u32])) {
        let Some(frequent) = self.frequent else {
            for i in from..to {
                let items = self.baskets.basket(i);
                if items.len() > 1 {
                    f(items);
                }
            }
            return;
        };
        let mut items = Vec::new();
        for i in from..to {
            items.clear();
            items.extend(
                self.baskets
                    .basket(i)
                    .iter()
                    .filter(|&&p| frequent[p as usize]),
            );
            if items.len() > 1 {
                f(&items);
            }
        }
    }

    /// Consecutive ranges of products whose entries fit `budget` (a product over it alone
    /// gets its own range).
    pub(super) fn windows(&self, budget: usize) -> Vec<Window> {
        let products = self.baskets.n_products;
        let mut windows = Vec::new();
        let mut current = Window {
            first: 0,
            last: 0,
            entries: 0,
        };
        for a in 0..products {
            let entries: usize = self.entries.iter().map(|e| e[a] as usize).sum();
            if current.entries + entries > budget && current.last > current.first {
                let next = Window {
                    first: a,
                    last: a,
                    entries: 0,
                };
                windows.push(std::mem::replace(&mut current, next));
            }
            current.last = a + 1;
            current.entries += entries;
        }
        if current.last > current.first {
            windows.push(current);
        }
        windows
    }

    /// The pairs (a, b) with `a` in the window whose counts `keep`, by ascending (a, b), in
    /// runs (one per task).
    pub(super) fn count(&self, window: &Window, keep: impl Fn(u64) -> bool + Sync) -> PairRuns {
        let span = window.last - window.first;
        // Per chunk: where each product's entries start in that chunk's slice.
        let starts: Vec<Vec<usize>> = self
            .entries
            .iter()
            .map(|e| {
                let mut at = 0;
                let mut starts = Vec::with_capacity(span + 1);
                for &k in &e[window.first..window.last] {
                    starts.push(at);
                    at += k as usize;
                }
                starts.push(at);
                starts
            })
            .collect();
        // Not zeroed first: the chunks write every entry they counted in `new`.
        let mut written_entries: Vec<u32> = pages::with_capacity(window.entries);
        let mut slices = Vec::with_capacity(self.chunks.len());
        let mut rest = &mut written_entries.spare_capacity_mut()[..window.entries];
        for s in &starts {
            let (own, tail) = rest.split_at_mut(s[span]);
            slices.push(own);
            rest = tail;
        }
        slices
            .into_par_iter()
            .zip(&self.chunks)
            .zip(&starts)
            .for_each(|((own, &(from, to)), starts)| {
                checkpoint();
                let mut cursor = starts[..span].to_vec();
                self.each_basket(from, to, |items| {
                    for (i, &a) in items.iter().enumerate() {
                        let Some(at) = (a as usize).checked_sub(window.first) else {
                            continue;
                        };
                        if at >= span {
                            break;
                        }
                        // One by one: baskets hold a few items, fewer than a memcpy call
                        // is worth (it was a seventh of the time).
                        for &b in &items[i + 1..] {
                            own[cursor[at]].write(b);
                            cursor[at] += 1;
                        }
                    }
                });
            });
        // SAFETY: each chunk's baskets are read by `each_basket` as in `new`, which counted
        // their entries per product: the chunk's cursors fill its slice exactly, and the
        // slices cover `written_entries`' room.
        unsafe { written_entries.set_len(window.entries) };
        let mut bases = Vec::with_capacity(starts.len());
        let mut base = 0;
        for s in &starts {
            bases.push(base);
            base += s[span];
        }
        let products = self.baskets.n_products;
        // One task per block of products `a` (a few hundred tasks: balanced, and one run of
        // pairs each rather than one per product), each writing into its own part of one
        // room: as many pairs as its entries at most.
        let blocks = span.div_ceil(PRODUCTS_PER_TASK);
        let products_of =
            |block: usize| block * PRODUCTS_PER_TASK..((block + 1) * PRODUCTS_PER_TASK).min(span);
        let bounds: Vec<usize> = (0..blocks)
            .map(|block| {
                let ats = products_of(block);
                starts.iter().map(|s| s[ats.end] - s[ats.start]).sum()
            })
            .collect();
        let mut runs = PairRuns::with_room(window.entries);
        let mut rest = &mut runs.room[..];
        let mut parts = Vec::with_capacity(blocks);
        for &bound in &bounds {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(bound);
            parts.push(part);
            rest = tail;
        }
        let lengths: Vec<usize> = parts
            .into_par_iter()
            .enumerate()
            .with_max_len(TALLY_JOB_BLOCKS)
            .map_init(
                || Tally::new(products),
                |tally, (block, part)| {
                    let mut written = 0;
                    for at in products_of(block) {
                        for (s, base) in starts.iter().zip(&bases) {
                            tally.add(&written_entries[base + s[at]..base + s[at + 1]]);
                        }
                        let a = (window.first + at) as u32;
                        tally.drain(a, &keep, part, &mut written);
                    }
                    written
                },
            )
            .collect();
        let mut first = 0;
        for (bound, length) in bounds.iter().zip(lengths) {
            runs.spans.push(first..first + length);
            first += bound;
        }
        runs
    }
}

/// Runs of pairs in one room, with space between them: each task of the count writes its
/// run into space reserved for as many pairs as its entries. One large block rather than a
/// vector per task: the allocator recycles it from call to call, where the tasks' vectors
/// (144 KiB each, glibc's own mappings) were fresh pages every call, ~4,000 page faults.
#[derive(Debug, Default)]
pub(super) struct PairRuns {
    room: Vec<MaybeUninit<Pair>>,
    /// Where each run lies in `room`; each of their pairs was written.
    spans: Vec<Range<usize>>,
}

impl PairRuns {
    fn with_room(len: usize) -> PairRuns {
        let mut room = pages::with_capacity(len);
        // SAFETY: values that may be uninitialised need no initialising.
        unsafe { room.set_len(len) };
        PairRuns {
            room,
            spans: Vec::new(),
        }
    }

    /// One run of `pairs`.
    pub(super) fn whole(pairs: Vec<Pair>) -> PairRuns {
        let spans = std::iter::once(0..pairs.len()).collect();
        PairRuns {
            room: pairs.into_iter().map(MaybeUninit::new).collect(),
            spans,
        }
    }

    pub(super) fn runs(&self) -> impl Iterator<Item = &[Pair]> + Clone {
        self.spans.iter().map(|span| {
            let run = &self.room[span.clone()];
            // SAFETY: every pair of a span was written (`spans`' invariant), and
            // `MaybeUninit<Pair>` has `Pair`'s layout.
            unsafe { std::slice::from_raw_parts(run.as_ptr().cast::<Pair>(), run.len()) }
        })
    }
}
