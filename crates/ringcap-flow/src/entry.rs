//! The two slot layouts of a flow table.
//!
//! An IPv4 flow fits one 64-byte cache line whole — hash tag, key, counters, times — so a
//! packet of a flow in a table far larger than the caches costs one memory access (measured
//! here: a random DRAM access costs ~17 ns at best even with many in flight, so every extra
//! line per packet shows). IPv6 and non-IP flows carry 32 bytes of addresses and take 96 bytes.

use crate::key::{FlowKey, Hasher, Kind};
use crate::record::{EndReason, FlowRecord};
use crate::table::Observation;

/// A slot layout: a hash tag, a key, and the counters of one flow. Whether a slot is in use
/// is not kept here but in the table's control bytes, so a probe reads no entry it passes.
pub(crate) trait Entry: Copy + Default {
    /// The key as this layout stores and compares it.
    type Key: Copy + Default;
    fn key_of(o: &Observation) -> Self::Key;
    /// The 64-bit keyed hash: its high half is the tag that picks the home slot, another byte
    /// the control byte that filters the probes.
    fn hash_of(h: &Hasher, k: &Self::Key) -> u64;
    /// The tag stored at [`Entry::start`]: where this entry's home slot is, for removals.
    fn tag(&self) -> u32;
    fn matches(&self, k: &Self::Key) -> bool;
    /// What an empty slot holds: an entry whose key no packet can have, so that an entry
    /// found holding a packet's key is in use without a look at the control byte (the hot
    /// path tests only the key of the slot it prefetched).
    fn vacant() -> Self;
    fn start(tag: u32, k: &Self::Key, o: &Observation) -> Self;
    fn add(&mut self, o: &Observation);
    fn first_ns(&self) -> u64;
    fn last_ns(&self) -> u64;
    fn tcp_flags(&self) -> u8;
    fn packets(&self) -> u64;
    fn octets(&self) -> u64;
    fn record(&self, end: EndReason) -> FlowRecord;
    /// Starts loading the cache lines a lookup and an update of this slot touch, without
    /// waiting for them.
    fn prefetch(&self);
}

/// The counters every layout keeps, in the same order.
macro_rules! counters_impl {
    () => {
        #[inline(always)]
        fn add(&mut self, o: &Observation) {
            self.packets += 1;
            self.octets += o.octets as u64;
            self.l2_octets += o.l2_octets as u64;
            self.last_ns = self.last_ns.max(o.ts_ns);
            self.tcp_flags |= o.tcp_flags;
        }
        #[inline(always)]
        fn first_ns(&self) -> u64 {
            self.first_ns
        }
        #[inline(always)]
        fn last_ns(&self) -> u64 {
            self.last_ns
        }
        #[inline(always)]
        fn tcp_flags(&self) -> u8 {
            self.tcp_flags
        }
        #[inline(always)]
        fn packets(&self) -> u64 {
            self.packets
        }
        #[inline(always)]
        fn octets(&self) -> u64 {
            self.octets
        }
        #[inline(always)]
        fn tag(&self) -> u32 {
            self.tag
        }
    };
}

/// An IPv4 flow in one cache line. The key is two words — addresses; ports, VLAN and
/// protocol — so one hash multiply makes its tag and two compares match it.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
pub(crate) struct V4Entry {
    tag: u32,
    tcp_flags: u8,
    key: [u64; 2],
    packets: u64,
    octets: u64,
    l2_octets: u64,
    first_ns: u64,
    last_ns: u64,
}

impl Entry for V4Entry {
    type Key = [u64; 2];
    counters_impl!();

    #[inline(always)]
    fn key_of(o: &Observation) -> [u64; 2] {
        let k = &o.key;
        let src = u32::from_ne_bytes([k.src[0], k.src[1], k.src[2], k.src[3]]);
        let dst = u32::from_ne_bytes([k.dst[0], k.dst[1], k.dst[2], k.dst[3]]);
        [
            src as u64 | (dst as u64) << 32,
            k.src_port as u64
                | (k.dst_port as u64) << 16
                | (k.vlan as u64) << 32
                | (k.proto as u64) << 48,
        ]
    }

    #[inline(always)]
    fn hash_of(h: &Hasher, k: &[u64; 2]) -> u64 {
        h.hash_words(k[0], k[1])
    }

    #[inline(always)]
    fn matches(&self, k: &[u64; 2]) -> bool {
        (self.key[0] ^ k[0]) | (self.key[1] ^ k[1]) == 0
    }

    fn vacant() -> Self {
        // The top byte of a key's second word is always 0 (see `key_of`).
        V4Entry {
            key: [u64::MAX; 2],
            ..V4Entry::default()
        }
    }

    #[inline(always)]
    fn start(tag: u32, k: &[u64; 2], o: &Observation) -> Self {
        V4Entry {
            tag,
            tcp_flags: o.tcp_flags,
            key: *k,
            packets: 1,
            octets: o.octets as u64,
            l2_octets: o.l2_octets as u64,
            first_ns: o.ts_ns,
            last_ns: o.ts_ns,
        }
    }

    fn record(&self, end: EndReason) -> FlowRecord {
        let [a, b] = self.key;
        let mut key = FlowKey {
            src_port: b as u16,
            dst_port: (b >> 16) as u16,
            vlan: (b >> 32) as u16,
            ethertype: crate::key::ETHERTYPE_IPV4,
            proto: (b >> 48) as u8,
            kind: Kind::V4,
            ..FlowKey::default()
        };
        key.src[..4].copy_from_slice(&(a as u32).to_ne_bytes());
        key.dst[..4].copy_from_slice(&((a >> 32) as u32).to_ne_bytes());
        FlowRecord {
            key,
            packets: self.packets,
            octets: self.octets,
            l2_octets: self.l2_octets,
            first_ns: self.first_ns,
            last_ns: self.last_ns,
            tcp_flags: self.tcp_flags,
            end,
        }
    }

    #[inline(always)]
    fn prefetch(&self) {
        // One line, 64-byte aligned.
        ringcap_sys::hint::prefetch(self);
    }
}

/// An IPv6 or non-IP flow: the whole key, 96 bytes.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
pub(crate) struct WideEntry {
    tag: u32,
    tcp_flags: u8,
    key: FlowKey,
    packets: u64,
    octets: u64,
    l2_octets: u64,
    first_ns: u64,
    last_ns: u64,
}

impl Entry for WideEntry {
    type Key = FlowKey;
    counters_impl!();

    #[inline(always)]
    fn key_of(o: &Observation) -> FlowKey {
        o.key
    }

    #[inline(always)]
    fn hash_of(h: &Hasher, k: &FlowKey) -> u64 {
        h.hash(k)
    }

    #[inline(always)]
    fn matches(&self, k: &FlowKey) -> bool {
        self.key == *k
    }

    fn vacant() -> Self {
        // IPv4 flows live in the other array: no key looked up here is of this kind.
        WideEntry {
            key: FlowKey {
                kind: Kind::V4,
                ..FlowKey::default()
            },
            ..WideEntry::default()
        }
    }

    #[inline(always)]
    fn start(tag: u32, _k: &FlowKey, o: &Observation) -> Self {
        WideEntry {
            tag,
            tcp_flags: o.tcp_flags,
            key: o.key,
            packets: 1,
            octets: o.octets as u64,
            l2_octets: o.l2_octets as u64,
            first_ns: o.ts_ns,
            last_ns: o.ts_ns,
        }
    }

    fn record(&self, end: EndReason) -> FlowRecord {
        FlowRecord {
            key: self.key,
            packets: self.packets,
            octets: self.octets,
            l2_octets: self.l2_octets,
            first_ns: self.first_ns,
            last_ns: self.last_ns,
            tcp_flags: self.tcp_flags,
            end,
        }
    }

    #[inline(always)]
    fn prefetch(&self) {
        // 96 bytes at a 32-byte boundary always span two lines: the tag's and `last_ns`'s.
        ringcap_sys::hint::prefetch(self);
        ringcap_sys::hint::prefetch(&self.last_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<V4Entry>(), 64);
        assert_eq!(std::mem::size_of::<WideEntry>(), 96);
    }

    #[test]
    fn a_v4_entry_gives_back_its_key() {
        let mut key = FlowKey {
            kind: Kind::V4,
            proto: 17,
            src_port: 5,
            dst_port: 53,
            vlan: 12,
            ethertype: 0x0800,
            ..FlowKey::default()
        };
        key.src[..4].copy_from_slice(&[1, 2, 3, 4]);
        key.dst[..4].copy_from_slice(&[5, 6, 7, 8]);
        let o = Observation {
            key,
            ts_ns: 9,
            octets: 100,
            l2_octets: 118,
            tcp_flags: 0,
        };
        let k = V4Entry::key_of(&o);
        let e = V4Entry::start(3, &k, &o);
        assert!(e.matches(&k));
        let r = e.record(EndReason::Idle);
        assert_eq!(r.key, key);
        assert_eq!((r.packets, r.octets, r.l2_octets), (1, 100, 118));
    }
}
