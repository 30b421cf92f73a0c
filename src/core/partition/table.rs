//! The per-partition lookup of the builders: [`KeyTable`] maps a customer's key to its dense
//! local index with linear probing, one slot read per lookup in the common case, and
//! [`IdArena`] keeps each string id once, so that later rows (of any batch) compare against
//! it and results can name their customers after the input is gone.
use crate::core::error::CoreError;
use crate::core::log::{Ids, Tx};
use crate::core::partition::mem::prefetch;

/// Customer key → local index, by linear probing in a table at most half full, so a lookup
/// usually reads one slot whose address is known from the key alone (and can be prefetched).
pub(crate) struct KeyTable {
    slots: Vec<Slot>,
    len: usize,
}

#[derive(Clone, Copy)]
pub(crate) struct Slot {
    key: u64,
    /// Local index; [`EMPTY`] for a free slot.
    pub(crate) index: u32,
    /// Where the customer's string id starts in its partition's [`IdArena`] (0 for integer
    /// ids), so it can be prefetched and compared from the slot alone.
    pub(crate) name: u32,
}

pub(crate) const EMPTY: u32 = u32::MAX;
const EMPTY_SLOT: Slot = Slot {
    key: 0,
    index: EMPTY,
    name: 0,
};

impl KeyTable {
    pub(crate) fn new() -> Self {
        KeyTable {
            slots: vec![EMPTY_SLOT; 1024],
            len: 0,
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    #[inline]
    pub(crate) fn prefetch(&self, key: u64) {
        prefetch(&self.slots[key as usize & self.mask()]);
    }

    /// The slot under `key` that satisfies `same`.
    #[inline]
    pub(crate) fn find(&self, key: u64, same: impl Fn(&Slot) -> bool) -> Option<Slot> {
        let mask = self.mask();
        let mut at = key as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.index == EMPTY {
                return None;
            }
            if slot.key == key && same(&slot) {
                return Some(slot);
            }
            at = (at + 1) & mask;
        }
    }

    /// Local index of the customer of `tx` (whose row is in `ids`); string ids are compared
    /// with the stored `names`.
    #[inline]
    pub(crate) fn lookup(&self, ids: &Ids, names: &IdArena, tx: &Tx) -> Option<u32> {
        let found = match ids {
            Ids::Int(_) => self.find(tx.key, |_| true),
            _ => {
                let name = ids.bytes(tx.row as usize);
                self.find(tx.key, |slot| names.get(slot.name) == name)
            }
        };
        found.map(|slot| slot.index)
    }

    /// Adds the customer of `tx`, known to be absent, as local index `index` (storing its
    /// string id in `names`).
    pub(crate) fn add(&mut self, ids: &Ids, names: &mut IdArena, tx: &Tx, index: u32) {
        let at = match ids {
            Ids::Int(_) => 0,
            _ => names.push(ids.bytes(tx.row as usize)),
        };
        self.insert(tx.key, index, at);
    }

    /// Adds a key known to be absent.
    fn insert(&mut self, key: u64, index: u32, name: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(Slot { key, index, name });
        self.len += 1;
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.mask();
        let mut at = slot.key as usize & mask;
        while self.slots[at].index != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    #[cold]
    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; size]);
        for slot in old.into_iter().filter(|s| s.index != EMPTY) {
            self.place(slot);
        }
    }
}

/// The string ids of one partition's customers, each stored once when first met, so that
/// later rows (of any batch) compare against them and the result can name its customers
/// without the input.
#[derive(Debug, Default)]
pub(crate) struct IdArena {
    /// Each id as a little-endian `u32` length, then its bytes.
    bytes: Vec<u8>,
    /// Local index → where its id starts in `bytes`.
    at: Vec<u32>,
    /// Set when `bytes` would outgrow `u32` offsets (ids not stored from then on).
    pub(crate) full: bool,
}

impl IdArena {
    /// Stores `name` for the next local index; returns where it starts.
    fn push(&mut self, name: &[u8]) -> u32 {
        let at = self.bytes.len();
        if at + 4 + name.len() > u32::MAX as usize {
            self.full = true;
            self.at.push(0);
            return 0;
        }
        self.bytes
            .extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(name);
        self.at.push(at as u32);
        at as u32
    }

    #[inline]
    fn get(&self, at: u32) -> &[u8] {
        let at = at as usize;
        let b = &self.bytes[at..at + 4];
        let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        &self.bytes[at + 4..at + 4 + len]
    }

    #[inline]
    pub(crate) fn of(&self, index: usize) -> &[u8] {
        self.get(self.at[index])
    }

    #[inline]
    pub(crate) fn prefetch(&self, at: u32) {
        if let Some(byte) = self.bytes.get(at as usize) {
            prefetch(byte);
        }
    }
}

/// The error when some partition's [`IdArena`] is full.
pub(crate) fn ids_too_large() -> CoreError {
    CoreError::argument("data", "customer ids take more than 4 GiB in one partition")
}
