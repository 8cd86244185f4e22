//! A bounded map from device id to per-device state, forgetting the least
//! recently used device when full.
//!
//! Recency is tracked with the CLOCK algorithm, a standard approximation of
//! LRU: a hit only sets a flag (no allocation, no reordering), and eviction
//! sweeps a hand over the slots, sparing each flagged slot once. Evicting
//! costs amortized O(1).

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug)]
struct Slot<V> {
    key: Arc<str>,
    value: V,
    referenced: bool,
}

#[derive(Debug)]
pub(crate) struct ClockMap<V> {
    index: HashMap<Arc<str>, usize>,
    slots: Vec<Slot<V>>,
    hand: usize,
    capacity: usize,
    evictions: u64,
}

impl<V> ClockMap<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            index: HashMap::new(),
            slots: Vec::new(),
            hand: 0,
            capacity: capacity.max(1),
            evictions: 0,
        }
    }

    /// Every entry, in no particular order (recency is not touched).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &V)> {
        self.slots.iter().map(|s| (&s.key, &s.value))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Keys evicted so far to make room for new ones.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    /// The value of `key`, marking it used.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let i = *self.index.get(key)?;
        let slot = &mut self.slots[i];
        slot.referenced = true;
        Some(&mut slot.value)
    }

    /// The value of `key`, marking it used; a new key gets `init()`
    /// (evicting as [`insert`](Self::insert) does). Returns whether the key
    /// was new.
    pub(crate) fn get_or_insert_with(
        &mut self,
        key: &str,
        init: impl FnOnce() -> V,
    ) -> (&mut V, bool) {
        if let Some(&i) = self.index.get(key) {
            let slot = &mut self.slots[i];
            slot.referenced = true;
            return (&mut slot.value, false);
        }
        // A new key: the second lookup is paid once per key, not per hit.
        self.insert(key, init());
        let i = self.index[key];
        (&mut self.slots[i].value, true)
    }

    /// Inserts or replaces `key`; when a new key does not fit, evicts the
    /// least recently used one and returns its key.
    pub(crate) fn insert(&mut self, key: &str, value: V) -> Option<Arc<str>> {
        if let Some(v) = self.get_mut(key) {
            *v = value;
            return None;
        }
        let key: Arc<str> = Arc::from(key);
        if self.slots.len() < self.capacity {
            self.index.insert(key.clone(), self.slots.len());
            self.slots.push(Slot {
                key,
                value,
                referenced: true,
            });
            return None;
        }
        // Sweep: clear flags until an unflagged slot comes up.
        loop {
            let slot = &mut self.slots[self.hand];
            if slot.referenced {
                slot.referenced = false;
                self.hand = (self.hand + 1) % self.slots.len();
                continue;
            }
            let evicted = std::mem::replace(&mut slot.key, key.clone());
            slot.value = value;
            slot.referenced = true;
            self.index.remove(&evicted);
            self.index.insert(key, self.hand);
            self.hand = (self.hand + 1) % self.slots.len();
            self.evictions += 1;
            return Some(evicted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut m = ClockMap::new(3);
        for k in ["a", "b", "c"] {
            assert_eq!(m.insert(k, 0), None);
        }
        // All referenced: the sweep clears a, b, c, then evicts a.
        assert_eq!(m.insert("d", 1).as_deref(), Some("a"));
        // b and c are unreferenced now; touching b spares it.
        *m.get_mut("b").unwrap() += 1;
        assert_eq!(m.insert("e", 2).as_deref(), Some("c"));
        assert_eq!(m.len(), 3);
        assert!(m.get_mut("a").is_none());
        assert_eq!(m.get_mut("b").copied(), Some(1));
        assert_eq!(m.get_mut("d").copied(), Some(1));
        assert_eq!(m.get_mut("e").copied(), Some(2));
    }

    #[test]
    fn replace_keeps_size() {
        let mut m = ClockMap::new(1);
        m.insert("a", 1);
        assert_eq!(m.insert("a", 2), None);
        assert_eq!(m.get_mut("a").copied(), Some(2));
        assert_eq!(m.insert("b", 3).as_deref(), Some("a"));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn get_or_insert_with_inits_once_and_evicts() {
        let mut m = ClockMap::new(2);
        let mut inits = 0;
        for k in ["a", "a", "b", "a"] {
            let (v, new) = m.get_or_insert_with(k, || {
                inits += 1;
                0
            });
            *v += 1;
            assert_eq!(new, *v == 1, "{k}");
        }
        assert_eq!(inits, 2);
        assert_eq!(m.get_mut("a").copied(), Some(3));
        let (v, new) = m.get_or_insert_with("c", || 10);
        assert_eq!((*v, new), (10, true));
        assert_eq!(m.len(), 2, "bounded");
    }
}
