//! Item-to-item recommendations (Linden, Smith & York 2003): products are similar when the
//! same customers buy them — cosine over the customer × product incidence (0/1),
//! sim(p, q) = customers(p, q) / √(customers(p) · customers(q)) — and a customer's score for
//! a product is the sum of its similarities to the products the customer bought.
//!
//! The similar-items table is built once from the exact pair counts (customer baskets) and,
//! as Amazon's is, may be cut to each product's most similar neighbours, which bounds the
//! work per customer; scoring runs one customer per task with a dense score array, so each
//! customer's sum runs in the same order whatever the thread count.
use rayon::prelude::*;

use crate::core::basket::pairs::{count_pairs, Thresholds};
use crate::core::basket::{top_k, Baskets};
use crate::core::interrupt::checkpoint;

/// Each product's similar products (ascending similarity order is not kept: the most
/// similar first, ties by product code), in compressed sparse rows.
#[derive(Debug, Default)]
pub struct Neighbours {
    pub offsets: Vec<usize>,
    pub products: Vec<u32>,
    pub similarity: Vec<f64>,
}

impl Neighbours {
    /// The similar-items table of customer baskets; `limit` keeps each product's most
    /// similar neighbours only.
    pub fn of(customers: &Baskets, limit: Option<usize>) -> Neighbours {
        let counts = count_pairs(customers, &Thresholds::new(None, 1).expect("valid"));
        let n = customers.n_products;
        let mut offsets = vec![0usize; n + 1];
        for pair in counts.pairs() {
            offsets[pair.a as usize + 1] += 1;
            offsets[pair.b as usize + 1] += 1;
        }
        for p in 0..n {
            offsets[p + 1] += offsets[p];
        }
        let mut cursor = offsets.clone();
        let mut entries = vec![(0u32, 0.0f64); offsets[n]];
        for pair in counts.pairs() {
            let (na, nb) = (
                counts.product_counts[pair.a as usize] as f64,
                counts.product_counts[pair.b as usize] as f64,
            );
            let sim = pair.count as f64 / (na * nb).sqrt();
            for (from, to) in [(pair.a, pair.b), (pair.b, pair.a)] {
                entries[cursor[from as usize]] = (to, sim);
                cursor[from as usize] += 1;
            }
        }
        let lists: Vec<Vec<(u32, f64)>> = (0..n)
            .into_par_iter()
            .map(|p| {
                let mut list = entries[offsets[p]..offsets[p + 1]].to_vec();
                let k = limit.unwrap_or(list.len());
                top_k(&mut list, k, |x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
                list
            })
            .collect();
        let mut out = Neighbours {
            offsets: vec![0],
            ..Neighbours::default()
        };
        for list in lists {
            for (q, s) in list {
                out.products.push(q);
                out.similarity.push(s);
            }
            out.offsets.push(out.products.len());
        }
        out
    }

    #[inline]
    fn of_product(&self, p: usize) -> (&[u32], &[f64]) {
        let range = self.offsets[p]..self.offsets[p + 1];
        (&self.products[range.clone()], &self.similarity[range])
    }
}

/// How products are scored for a customer.
pub enum Scorer<'a> {
    /// Σ over the customer's products q of sim(p, q).
    Similar(&'a Neighbours),
    /// Customers who bought p (the popularity baseline), the same for everyone.
    Popular(&'a [u64]),
}

/// One recommendation: `rank` (from 1) of `product` for the customer of basket `basket`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recommendation {
    pub basket: u32,
    pub rank: u32,
    pub product: u32,
    pub score: f64,
}

/// The `k` best-scored products of each customer basket (scores > 0 only, ties by product
/// code), already bought ones left out when `exclude_purchased`; by basket, then rank.
pub fn recommend(
    customers: &Baskets,
    scorer: &Scorer,
    k: usize,
    exclude_purchased: bool,
) -> Vec<Recommendation> {
    let n = customers.n_products;
    let ranking: Vec<u32> = match scorer {
        Scorer::Popular(counts) => {
            let mut all: Vec<u32> = (0..n as u32).filter(|&p| counts[p as usize] > 0).collect();
            all.sort_by(|&x, &y| counts[y as usize].cmp(&counts[x as usize]).then(x.cmp(&y)));
            all
        }
        Scorer::Similar(_) => Vec::new(),
    };
    let better = |x: &(u32, f64), y: &(u32, f64)| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0));
    (0..customers.len())
        .into_par_iter()
        .map_init(
            || (vec![0.0f64; n], Vec::<u32>::new()),
            |(score, touched), i| {
                checkpoint();
                let bought = customers.basket(i);
                let owned = |p: u32| exclude_purchased && bought.binary_search(&p).is_ok();
                let mut best: Vec<(u32, f64)> = match scorer {
                    Scorer::Similar(neighbours) => {
                        for &q in bought {
                            let (products, sims) = neighbours.of_product(q as usize);
                            for (&p, &s) in products.iter().zip(sims) {
                                if score[p as usize] == 0.0 {
                                    touched.push(p);
                                }
                                score[p as usize] += s;
                            }
                        }
                        let found = touched
                            .iter()
                            .map(|&p| (p, std::mem::take(&mut score[p as usize])))
                            .filter(|&(p, s)| s > 0.0 && !owned(p))
                            .collect();
                        touched.clear();
                        found
                    }
                    Scorer::Popular(counts) => ranking
                        .iter()
                        .filter(|&&p| !owned(p))
                        .take(k)
                        .map(|&p| (p, counts[p as usize] as f64))
                        .collect(),
                };
                top_k(&mut best, k, better);
                best.into_iter()
                    .enumerate()
                    .map(|(r, (product, score))| Recommendation {
                        basket: i as u32,
                        rank: r as u32 + 1,
                        product,
                        score,
                    })
                    .collect::<Vec<_>>()
            },
        )
        .flatten_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::basket::{baskets, Level, Lines};

    fn customer_baskets(customers: &[i64], products: &[i64], n: usize) -> Baskets {
        let lines = Lines {
            orders: None,
            products,
            customers: Some(customers),
            times: None,
            n_products: n,
            product_name: "product_id",
            customer_name: "customer_id",
        };
        baskets(&lines, Level::Customer).unwrap()
    }

    #[test]
    fn scores_sum_cosine_similarities_of_bought_products() {
        // Customers: 1 {0, 1}, 2 {0, 1}, 3 {0, 2}, 4 {3} (bought by nobody else).
        let customers = [1, 1, 2, 2, 3, 3, 4];
        let products = [0, 1, 0, 1, 0, 2, 3];
        let b = customer_baskets(&customers, &products, 4);
        let table = Neighbours::of(&b, None);
        let recs = recommend(&b, &Scorer::Similar(&table), 10, true);
        // Customer 3 (basket 2) bought {0, 2}: product 1 scores sim(1,0) + sim(1,2) =
        // 2/√(3·2) + 0.
        let for3: Vec<_> = recs.iter().filter(|r| r.basket == 2).collect();
        assert_eq!(for3.len(), 1);
        assert_eq!(for3[0].product, 1);
        assert!((for3[0].score - 2.0 / 6f64.sqrt()).abs() < 1e-15);
        // Customer 4 bought only a product nobody else bought: nothing, not NaN.
        assert!(recs.iter().all(|r| r.basket != 3 && r.score.is_finite()));
    }

    #[test]
    fn popularity_skips_what_the_customer_owns() {
        let customers = [1, 1, 2, 3, 3];
        let products = [0, 1, 0, 0, 2];
        let b = customer_baskets(&customers, &products, 3);
        let counts = b.product_counts();
        let recs = recommend(&b, &Scorer::Popular(&counts), 1, true);
        let got: Vec<(u32, u32)> = recs.iter().map(|r| (r.basket, r.product)).collect();
        assert_eq!(got, vec![(0, 2), (1, 1), (2, 1)]);
    }
}
