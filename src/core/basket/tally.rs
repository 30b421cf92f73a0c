//! One product's partners in a pair count: the dense counter each task of
//! [`super::pairs`] tallies a block of products with.
use std::mem::MaybeUninit;

use crate::core::basket::pairs::Pair;

/// Products `a` tallied by one task.
pub(crate) const PRODUCTS_PER_TASK: usize = 64;

/// One product's partners counted in a dense counter; the partners seen are marked in a
/// bitmap, itself summarised by a bitmap of its non-empty words, and read back in
/// ascending order (no sort, and no scan of empty words).
pub(crate) struct Tally {
    counter: Vec<u32>,
    seen: Vec<u64>,
    words: Vec<u64>,
}

impl Tally {
    pub(crate) fn new(products: usize) -> Tally {
        let seen = products.div_ceil(64);
        Tally {
            counter: vec![0; products],
            seen: vec![0; seen],
            words: vec![0; seen.div_ceil(64)],
        }
    }

    #[inline]
    pub(crate) fn add(&mut self, partners: &[u32]) {
        for &b in partners {
            let b = b as usize;
            self.counter[b] += 1;
            self.seen[b / 64] |= 1 << (b % 64);
            self.words[b / 4096] |= 1 << ((b / 64) % 64);
        }
    }

    /// Writes (a, b, count) for every partner `b` counted whose count `keep`s, by ascending
    /// `b`, into `out` from `*written` on (moving it past them), and clears the tally for the
    /// next product. `out` must have room for them: at most one per partner added.
    #[inline]
    pub(crate) fn drain(
        &mut self,
        a: u32,
        keep: impl Fn(u64) -> bool,
        out: &mut [MaybeUninit<Pair>],
        written: &mut usize,
    ) {
        for group in 0..self.words.len() {
            let mut words = std::mem::take(&mut self.words[group]);
            while words != 0 {
                let word = group * 64 + words.trailing_zeros() as usize;
                words &= words - 1;
                let mut bits = std::mem::take(&mut self.seen[word]);
                while bits != 0 {
                    let b = word * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let count = std::mem::take(&mut self.counter[b]);
                    if keep(count as u64) {
                        out[*written].write(Pair {
                            a,
                            b: b as u32,
                            count,
                        });
                        *written += 1;
                    }
                }
            }
        }
    }
}
