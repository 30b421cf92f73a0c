//! Products bought together: exact co-occurrence counts of every pair of products over the
//! baskets, pruned first on single-product support as apriori does (a pair is never more
//! frequent than either of its products), with the association-rule measures of each pair.
//!
//! Counting reads the baskets once in order, writing each pair occurrence as an entry
//! (a → b) grouped by `a`, then tallies each product's entries in a dense counter (Linden,
//! Smith & York's item-to-item loop): memory is the incidence, the entries (capped: beyond
//! [`EMIT_BUDGET`] they are counted in several passes, each for a range of products `a`) and
//! one counter of `products` entries per thread, however many pairs exist; each product's
//! pairs are written by one task, in order. Counts are integer sums, so neither the chunks
//! nor the passes change them.
use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use crate::core::basket::fisher::{LnFactorials, Margin};
use crate::core::basket::rules::{rule_measures, Lanes, Rates, LANES};
use crate::core::basket::tally::{Tally, PRODUCTS_PER_TASK};
use crate::core::basket::{top_k, Baskets};
use crate::core::error::{CoreError, Result};
use crate::core::interrupt::checkpoint;
use crate::core::pages;
use crate::core::vmath;

/// Which pairs to keep.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    /// Least share of baskets holding the pair (and so each of its products), in (0, 1].
    pub min_support: Option<f64>,
    /// Least number of baskets holding the pair.
    pub min_count: u64,
}

impl Thresholds {
    pub fn new(min_support: Option<f64>, min_count: u64) -> Result<Thresholds> {
        if let Some(s) = min_support {
            if !(s > 0.0 && s <= 1.0) {
                return Err(CoreError::argument(
                    "min_support",
                    format!("must be in (0, 1], got {s}"),
                ));
            }
        }
        if min_count == 0 {
            return Err(CoreError::argument("min_count", "must be at least 1"));
        }
        Ok(Thresholds {
            min_support,
            min_count,
        })
    }

    /// Whether `count` of `baskets` passes; support is compared as the float apriori
    /// implementations compute it (count / baskets), so borderline pairs agree with them.
    #[inline]
    fn keeps(&self, count: u64, baskets: usize) -> bool {
        count >= self.min_count
            && self
                .min_support
                .is_none_or(|s| count as f64 / baskets as f64 >= s)
    }
}

/// A pair of products `a < b` and the baskets holding both. Laid out as three `u32`s in this
/// order (Fisher's test gathers them by offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    /// Baskets holding both: at most the lines, which one call caps at `u32::MAX`.
    pub count: u32,
}

/// The kept pairs, by ascending (a, b), with the basket counts they are measured against.
#[derive(Debug, Default)]
pub struct PairCounts {
    /// The pairs in consecutive runs, as the tasks that counted them left them: read as one
    /// sequence by [`PairCounts::pairs`], and by [`PairCounts::measures`] a run at a time
    /// (copying them into one vector first was a twelfth of an affinity call); one
    /// [`PairRuns`] per pass.
    runs: Vec<PairRuns>,
    /// Baskets holding each product.
    pub product_counts: Vec<u64>,
    pub baskets: usize,
    /// Products that passed the single-product thresholds.
    pub frequent_products: usize,
}

/// Counts every pair of products held by at least `thresholds` baskets.
pub fn count_pairs(baskets: &Baskets, thresholds: &Thresholds) -> PairCounts {
    count_in_passes(baskets, thresholds, EMIT_BUDGET)
}

/// [`count_pairs`], writing at most `budget` entries (a → b) per pass.
fn count_in_passes(baskets: &Baskets, thresholds: &Thresholds, budget: usize) -> PairCounts {
    let n = baskets.len();
    let frequent: Vec<bool>;
    // A product bought once passes (`keeps` rises with the count), so no product is pruned:
    // the products' counts are taken in the pass that counts the entries, one read of the
    // baskets less.
    let (emitter, product_counts) = if thresholds.keeps(1, n) {
        Emitter::tallied(baskets).unwrap_or_else(|| Emitter::new(baskets, None))
    } else {
        let product_counts = baskets.product_counts();
        frequent = product_counts
            .iter()
            .map(|&c| thresholds.keeps(c, n))
            .collect();
        let all_bought_frequent = product_counts
            .iter()
            .zip(&frequent)
            .all(|(&c, &f)| f || c == 0);
        let frequent = (!all_bought_frequent).then_some(frequent.as_slice());
        (Emitter::new(baskets, frequent).0, product_counts)
    };
    let frequent_products = product_counts
        .iter()
        .filter(|&&c| thresholds.keeps(c, n))
        .count();
    let keeps = |count| thresholds.keeps(count, n);
    let runs: Vec<PairRuns> = emitter
        .windows(budget)
        .iter()
        .map(|window| emitter.count(window, keeps))
        .collect();
    PairCounts {
        runs,
        product_counts,
        baskets: n,
        frequent_products,
    }
}

/// Most (a → b) entries written at once: 64M entries, 256 MiB. More are counted in several
/// passes over the baskets, each for a range of products `a`.
const EMIT_BUDGET: usize = 1 << 26;

/// Writes every basket's pairs of frequent products as (a → b) entries, grouped by `a`, and
/// counts them per `a` in a dense counter (Linden, Smith & York's item-to-item loop, fed
/// from one sequential read of the baskets instead of random reads per product). The
/// baskets are cut into chunks, one per task; each chunk writes into its own slice, by `a`.
struct Emitter<'a> {
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
struct Window {
    first: usize,
    last: usize,
    entries: usize,
}

impl<'a> Emitter<'a> {
    /// The emitter of the products `frequent` marks (`None`: all), with the entries each
    /// chunk writes counted; without `frequent`, also the baskets holding each product.
    fn new(baskets: &'a Baskets, frequent: Option<&'a [bool]>) -> (Emitter<'a>, Vec<u64>) {
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
    fn tallied(baskets: &'a Baskets) -> Option<(Emitter<'a>, Vec<u64>)> {
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
    fn windows(&self, budget: usize) -> Vec<Window> {
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
    fn count(&self, window: &Window, keep: impl Fn(u64) -> bool + Sync) -> PairRuns {
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
pub(crate) struct PairRuns {
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
    fn whole(pairs: Vec<Pair>) -> PairRuns {
        let spans = std::iter::once(0..pairs.len()).collect();
        PairRuns {
            room: pairs.into_iter().map(MaybeUninit::new).collect(),
            spans,
        }
    }

    fn runs(&self) -> impl Iterator<Item = &[Pair]> + Clone {
        self.spans.iter().map(|span| {
            let run = &self.room[span.clone()];
            // SAFETY: every pair of a span was written (`spans`' invariant), and
            // `MaybeUninit<Pair>` has `Pair`'s layout.
            unsafe { std::slice::from_raw_parts(run.as_ptr().cast::<Pair>(), run.len()) }
        })
    }
}

/// The result's columns, one row per kept pair: the products' codes and the count, the
/// association-rule measures as mlxtend's `association_rules` defines them for one-item
/// rules (A → B and B → A), and the one-sided Fisher exact p-value of a positive association.
#[derive(Debug, Default, PartialEq)]
pub struct Measures {
    pub product_a: Vec<i64>,
    pub product_b: Vec<i64>,
    pub count: Vec<i64>,
    pub support: Vec<f64>,
    pub confidence_a_b: Vec<f64>,
    pub confidence_b_a: Vec<f64>,
    pub lift: Vec<f64>,
    pub leverage: Vec<f64>,
    pub conviction_a_b: Vec<f64>,
    pub conviction_b_a: Vec<f64>,
    pub jaccard: Vec<f64>,
    pub p_value: Vec<f64>,
}

/// Most pairs measured by one task: runs longer than this (a block of products that pair
/// with most others) are cut, so that the tasks stay balanced.
const PAIRS_PER_TASK: usize = 8192;

/// Blocks of products tallied by one job at most, and tasks measured by one job at most.
/// The tasks differ in work (blocks of popular products hold more pairs), and rayon splits
/// a range only as deep as the thread count unless a piece is stolen: started on a pool
/// thread, as Python's calls are, the two halves stayed whole and one thread sat idle for
/// 8 of the measures' 24 ms. Small jobs let an idle thread take work to the end (measured
/// from a pool thread: measures 22.7 -> 19.1 ms, the whole count 56.4-59.2 -> 52.5 ms,
/// median of 40). The tally's jobs are a few blocks each: each job starts a counter.
const TALLY_JOB_BLOCKS: usize = 8;
const MEASURE_JOB_TASKS: usize = 1;

impl PairCounts {
    /// The kept pairs, by ascending (a, b).
    pub fn pairs(&self) -> impl Iterator<Item = &Pair> + Clone {
        self.runs().flatten()
    }

    /// The runs of pairs, in order.
    fn runs(&self) -> impl Iterator<Item = &[Pair]> + Clone {
        self.runs.iter().flat_map(PairRuns::runs)
    }

    pub fn len(&self) -> usize {
        self.runs().map(<[Pair]>::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every column of the result, in one read of the pairs; each value written once (no
    /// zeroing pass first), by tasks that each take a piece of a run and its rows.
    pub fn measures(&self) -> Measures {
        let n = self.baskets as f64;
        let most = self.product_counts.iter().copied().max().unwrap_or(0);
        let ln_factorials = LnFactorials::new(self.baskets as u64, most);
        // Per product: the figures its pairs' rule measures and p-values read, loaded into
        // lanes by product code.
        let rates: Vec<Rates> = self
            .product_counts
            .iter()
            .map(|&c| Rates::new(c, n))
            .collect();
        let products: Vec<Margin> = self
            .product_counts
            .iter()
            .map(|&c| ln_factorials.product(c))
            .collect();
        let inverse_n = 1.0 / n;
        let len = self.len();
        let mut codes: [Vec<i64>; 3] = std::array::from_fn(|_| pages::with_capacity(len));
        let mut rules: [Vec<f64>; 9] = std::array::from_fn(|_| pages::with_capacity(len));
        let mut code_rest = codes.each_mut().map(|c| &mut c.spare_capacity_mut()[..len]);
        let mut rule_rest = rules.each_mut().map(|c| &mut c.spare_capacity_mut()[..len]);
        // (pairs, index of the first, its rows of the code columns, of the rule columns).
        let mut tasks = Vec::new();
        let mut first = 0;
        for pairs in self.runs().flat_map(|run| run.chunks(PAIRS_PER_TASK)) {
            let rows = pairs.len();
            tasks.push((
                pairs,
                first,
                cut(&mut code_rest, rows),
                cut(&mut rule_rest, rows),
            ));
            first += rows;
        }
        let vector = Lanes::can_vectorise();
        tasks
            .into_par_iter()
            .with_max_len(MEASURE_JOB_TASKS)
            .for_each(|(pairs, first, mut codes, rules)| {
                checkpoint();
                let [sup, cab, cba, lift, lev, cvab, cvba, jac, p] = rules;
                let mut rules = [sup, cab, cba, lift, lev, cvab, cvba, jac];
                vmath::widest(
                    #[inline(always)]
                    || {
                        let (mut lanes, mut measures) = (Lanes::EMPTY, [[0.0; LANES]; 8]);
                        let mut at = 0;
                        while at < pairs.len() {
                            // Steps end on multiples of the lanes in the whole column, so
                            // that the streamed stores fill whole cache lines.
                            let step = (LANES - (first + at) % LANES).min(pairs.len() - at);
                            let rows = at..at + step;
                            // Gathered first, so that the arithmetic is a loop over lanes.
                            lanes.gather(&pairs[rows.clone()], &rates, vector);
                            rule_measures(n, inverse_n, &lanes, &mut measures);
                            for (column, lanes) in rules.iter_mut().zip(&measures) {
                                pages::write_streaming(&mut column[rows.clone()], lanes);
                            }
                            for (column, lanes) in codes.iter_mut().zip(&lanes.codes) {
                                pages::write_streaming(&mut column[rows.clone()], lanes);
                            }
                            at += step;
                        }
                    },
                );
                ln_factorials.fisher_greater_each(p, first, pairs, &products);
                // The streamed values are visible to other threads once fenced.
                pages::fence();
            });
        for column in &mut codes {
            // SAFETY: the tasks' rows cover 0..len (`cut` hands out consecutive rows, as many
            // as the pairs), and each task writes every row of every column it is given: the
            // steps cover its pairs, the streamed writes each step's rows, and
            // `fisher_greater_each` every p-value.
            unsafe { column.set_len(len) };
        }
        for column in &mut rules {
            // SAFETY: as above.
            unsafe { column.set_len(len) };
        }
        let [product_a, product_b, count] = codes;
        let [support, confidence_a_b, confidence_b_a, lift, leverage, conviction_a_b, conviction_b_a, jaccard, p_value] =
            rules;
        Measures {
            product_a,
            product_b,
            count,
            support,
            confidence_a_b,
            confidence_b_a,
            lift,
            leverage,
            conviction_a_b,
            conviction_b_a,
            jaccard,
            p_value,
        }
    }

    /// Keeps the `k` pairs of highest lift (ties: higher count, then lower product codes),
    /// in that order.
    pub fn strongest(&mut self, k: usize) {
        let n = self.baskets as f64;
        let counts = &self.product_counts;
        // Lift compared exactly as the measures compute it, so the order matches the column.
        let lift = |p: &Pair| {
            let conf = p.count as f64 / counts[p.a as usize] as f64;
            conf / (counts[p.b as usize] as f64 / n)
        };
        let mut pairs: Vec<Pair> = self.pairs().copied().collect();
        top_k(&mut pairs, k, |x, y| {
            lift(y)
                .total_cmp(&lift(x))
                .then(y.count.cmp(&x.count))
                .then((x.a, x.b).cmp(&(y.a, y.b)))
        });
        self.runs = vec![PairRuns::whole(pairs)];
    }
}

/// The first `rows` of each of `rest`'s slices, which keep the others.
fn cut<'a, T, const N: usize>(rest: &mut [&'a mut [T]; N], rows: usize) -> [&'a mut [T]; N] {
    rest.each_mut().map(|r| {
        let (head, tail) = std::mem::take(r).split_at_mut(rows);
        *r = tail;
        head
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::basket::{baskets, baskets_tallied, lines, Level};

    fn counts(orders: &[i64], products: &[i64], n: usize, t: Thresholds) -> PairCounts {
        count_pairs(
            &baskets(&lines(orders, products, n), Level::Order).unwrap(),
            &t,
        )
    }

    #[test]
    fn tallies_taken_while_grouping_count_the_same_pairs() {
        // Orders as consecutive runs of 1 to 7 lines (repeats included), over 40 products;
        // with several threads the runs pass cuts pieces, each tallied.
        let mut next = crate::core::basket::numbers(3);
        let (mut orders, mut products) = (Vec::new(), Vec::new());
        for order in 0..3_000 {
            for _ in 0..1 + next(7) {
                orders.push(order * 7 % 3_001);
                products.push(next(40) as i64);
            }
        }
        let l = lines(&orders, &products, 40);
        let tallied = baskets_tallied(&l, Level::Order).unwrap();
        assert!(!tallied.tallies.is_empty());
        let covered: usize = tallied.tallies.iter().map(|t| t.baskets.len()).sum();
        assert_eq!(covered, tallied.len());
        let t = Thresholds::new(None, 1).unwrap();
        let (with, without) = (
            count_pairs(&tallied, &t),
            count_pairs(&baskets(&l, Level::Order).unwrap(), &t),
        );
        assert!(with.pairs().eq(without.pairs()));
        assert_eq!(with.product_counts, without.product_counts);
        assert_eq!(with.measures(), without.measures());
        // Lines of one order split into two runs: grouped by the sort, with no tallies.
        let (mut split, mut split_products) = (orders.clone(), products.clone());
        split.push(orders[0]);
        split_products.push(1);
        let sorted = baskets_tallied(&lines(&split, &split_products, 40), Level::Order).unwrap();
        assert!(sorted.tallies.is_empty());
    }

    #[test]
    fn pairs_are_counted_once_per_basket() {
        // Baskets {0,1,2}, {0,1}, {1,2}, {0}.
        let orders = [1, 1, 1, 1, 2, 2, 3, 3, 4];
        let products = [0, 1, 2, 1, 0, 1, 1, 2, 0];
        let t = Thresholds::new(None, 1).unwrap();
        let c = counts(&orders, &products, 3, t);
        let got: Vec<(u32, u32, u32)> = c.pairs().map(|p| (p.a, p.b, p.count)).collect();
        assert_eq!(got, vec![(0, 1, 2), (0, 2, 1), (1, 2, 2)]);
        assert_eq!(c.product_counts, vec![3, 3, 2]);
        let m = c.measures();
        assert_eq!(m.support[0], 0.5);
        assert_eq!(m.confidence_a_b[0], 2.0 / 3.0);
        assert_eq!(m.lift[2], (2.0 / 3.0) / 0.5);
    }

    #[test]
    fn single_product_support_prunes_before_pairs() {
        let orders = [1, 1, 2, 2, 3, 3];
        let products = [0, 1, 0, 1, 0, 2];
        let t = Thresholds::new(Some(0.5), 1).unwrap();
        let c = counts(&orders, &products, 3, t);
        assert_eq!(c.frequent_products, 2);
        assert_eq!(
            c.pairs().copied().collect::<Vec<_>>(),
            vec![Pair {
                a: 0,
                b: 1,
                count: 2
            }]
        );
    }

    #[test]
    fn measures_do_not_depend_on_how_the_pairs_are_split_into_runs() {
        let orders: Vec<i64> = (0..600).map(|i| i / 4).collect();
        let products: Vec<i64> = (0..600u64)
            .map(|i| ((i.wrapping_mul(6364136223846793005) >> 33) % 23) as i64)
            .collect();
        let counted = counts(&orders, &products, 23, Thresholds::new(None, 1).unwrap());
        let pairs: Vec<Pair> = counted.pairs().copied().collect();
        assert!(pairs.len() > 100);
        let split = |size: usize| PairCounts {
            runs: pairs
                .chunks(size)
                .map(|run| PairRuns::whole(run.to_vec()))
                .collect(),
            product_counts: counted.product_counts.clone(),
            ..PairCounts::default()
        };
        let whole = PairCounts {
            baskets: counted.baskets,
            ..split(pairs.len())
        }
        .measures();
        let codes: Vec<(i64, i64, i64)> = pairs
            .iter()
            .map(|p| (p.a as i64, p.b as i64, p.count as i64))
            .collect();
        let columns =
            (0..pairs.len()).map(|i| (whole.product_a[i], whole.product_b[i], whole.count[i]));
        assert!(columns.eq(codes));
        // Runs of odd lengths start rows off the 16-byte grid of the streamed stores.
        for size in [1, 3, 17, 40] {
            let measures = PairCounts {
                baskets: counted.baskets,
                ..split(size)
            }
            .measures();
            assert_eq!(measures, whole, "runs of {size}");
        }
    }

    #[test]
    fn support_outside_the_unit_interval_is_refused() {
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(Thresholds::new(Some(bad), 1).is_err());
        }
    }

    #[test]
    fn counts_in_several_passes_equal_one_pass() {
        let orders = [1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4];
        let products = [0, 1, 2, 3, 0, 2, 3, 1, 3, 0, 1, 2];
        let b = baskets(&lines(&orders, &products, 4), Level::Order).unwrap();
        let t = Thresholds::new(None, 1).unwrap();
        let one = count_pairs(&b, &t);
        for budget in [1, 2, 3, 5] {
            let passes = count_in_passes(&b, &t, budget);
            assert!(passes.pairs().eq(one.pairs()), "{budget}");
        }
        assert_eq!(one.len(), 6);
    }
}
