//! Which partition a row goes to, and the key that identifies its customer.
//!
//! Integer ids are mixed by a bijection, so the key is both the hash and the identity of the
//! customer and the id can be recovered from it ([`unmix`]); string ids are hashed with a
//! fixed seed. Partition numbers come from the key's middle bits, fewer than the `SKIP`
//! marker, so one byte per row can hold a row's partition or say it is skipped.
use foldhash::fast::FixedState;

pub(crate) const HASH_SEED: u64 = 0x5EED_C057_0A1E_u64;

pub(crate) fn hasher() -> FixedState {
    FixedState::with_seed(HASH_SEED)
}

/// Bits of a partition number for a log of about `rows` rows.
pub(crate) fn partition_bits(rows: usize) -> u32 {
    // About 32k rows a partition keeps each hash table in cache; at most 128 partitions, so a
    // partition number fits 7 bits and never collides with the `SKIP` marker.
    let wanted = (rows / 32_768).max(1).next_power_of_two();
    wanted.trailing_zeros().min(7)
}

#[inline]
pub(crate) fn partition_of(hash: u64, bits: u32) -> usize {
    // Middle bits: hashbrown uses the low bits for buckets and the top 7 for tags.
    ((hash >> 32) & ((1u64 << bits) - 1)) as usize
}

/// A bijective mix of an integer id (murmur3's finaliser): equal keys mean equal ids, so the
/// key is both the hash and the identity of an integer customer.
#[inline]
pub(crate) fn mix(id: i64) -> u64 {
    let mut h = (id as u64) ^ HASH_SEED;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The multiplicative inverse of an odd `c` modulo 2^64 (Newton's iteration: each step
/// doubles the correct low bits, from 3).
const fn inverse(c: u64) -> u64 {
    let mut x = c;
    let mut step = 0;
    while step < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(x)));
        step += 1;
    }
    x
}

/// The integer id whose [`mix`] is `key`.
pub fn unmix(key: u64) -> i64 {
    // `h ^= h >> 33` is its own inverse, as 33 ≥ 64 / 2.
    let mut h = key ^ (key >> 33);
    h = h.wrapping_mul(inverse(0xc4ce_b9fe_1a85_ec53));
    h ^= h >> 33;
    h = h.wrapping_mul(inverse(0xff51_afd7_ed55_8ccd));
    h ^= h >> 33;
    (h ^ HASH_SEED) as i64
}

/// Partition byte of a row outside the time window (partition numbers stay below 128).
pub(crate) const SKIP: u8 = u8::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ids_come_back_from_their_key() {
        for id in [0, 1, -1, 42, i64::MIN, i64::MAX, 0x1234_5678_9abc] {
            assert_eq!(unmix(mix(id)), id);
        }
    }

    #[test]
    fn partition_numbers_never_reach_the_skip_marker() {
        for rows in [0, 1, 40_000, 10_000_000, usize::MAX] {
            assert!((1usize << partition_bits(rows)) <= SKIP as usize);
        }
    }
}
