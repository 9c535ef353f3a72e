//! Who is talking: per-worker counters of source hosts, destination hosts and flows, kept
//! without allocation on the packet path, and ranked once per interval by the display.
//!
//! Each worker's handler owns a [`Counts`] behind a mutex that it takes once per batch (never
//! per packet); the display swaps in an empty one once per second and ranks what it took, so an
//! interval's counts are exactly the packets of the batches taken in it. Tables are sized once
//! (open addressing, linear probing); a key that finds no slot is counted as "other", never
//! allocated for.
//!
//! Keys come from ringcap-wire's one-pass header summary. [`Talkers`] is the seam for the flow
//! tables: when ringcap-flow's per-worker tables are on main, it can be filled from their flow
//! records instead (hosts summed from flows), and the display stays as it is.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ringcap::{Batch, Flow, Handler};
use ringcap_wire::Addrs;

/// An IPv4 or IPv6 address as 16 bytes (IPv4 in the first four), and which one it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Host {
    pub v6: bool,
    pub addr: [u8; 16],
}

impl Host {
    fn v4(b: &[u8]) -> Host {
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&b[..4]);
        Host { v6: false, addr }
    }
    fn v6(b: &[u8]) -> Host {
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&b[..16]);
        Host { v6: true, addr }
    }
    pub fn ip(&self) -> IpAddr {
        if self.v6 {
            IpAddr::from(self.addr)
        } else {
            IpAddr::from([self.addr[0], self.addr[1], self.addr[2], self.addr[3]])
        }
    }
}

/// A flow: protocol, addresses and ports (0 for protocols without ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    pub proto: u8,
    pub src: Host,
    pub dst: Host,
    pub sport: u16,
    pub dport: u16,
}

impl std::fmt::Display for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = match self.proto {
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            1 => "icmp".to_string(),
            58 => "icmp6".to_string(),
            p => format!("proto {p}"),
        };
        let end = |h: &Host, port: u16| match (h.v6, self.proto) {
            (_, 6 | 17) if h.v6 => format!("[{}]:{port}", h.ip()),
            (_, 6 | 17) => format!("{}:{port}", h.ip()),
            _ => h.ip().to_string(),
        };
        write!(
            f,
            "{} > {} {proto}",
            end(&self.src, self.sport),
            end(&self.dst, self.dport)
        )
    }
}

trait Key: Copy + Eq + Default {
    fn hash(&self) -> u64;
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

fn host_hash(h: &Host) -> u64 {
    let a = u64::from_le_bytes(h.addr[..8].try_into().unwrap_or([0; 8]));
    let b = u64::from_le_bytes(h.addr[8..].try_into().unwrap_or([0; 8]));
    mix(mix(u64::from(h.v6), a), b)
}

impl Key for Host {
    fn hash(&self) -> u64 {
        host_hash(self)
    }
}

impl Key for FlowKey {
    fn hash(&self) -> u64 {
        let ports = (u64::from(self.sport) << 24) | (u64::from(self.dport) << 8);
        mix(
            mix(host_hash(&self.src), host_hash(&self.dst)),
            ports | u64::from(self.proto),
        )
    }
}

#[derive(Clone, Copy, Default)]
struct Slot<K> {
    key: K,
    packets: u64,
    bytes: u64,
    used: bool,
}

/// A fixed-size open-addressing table of packet and byte counts.
struct Table<K> {
    slots: Vec<Slot<K>>,
    /// Indices in use, so clearing touches only those.
    used: Vec<u32>,
    mask: usize,
    /// Packets and bytes whose key found no slot.
    other: (u64, u64),
}

/// Slots probed before a key counts as "other".
const PROBES: usize = 16;

impl<K: Key> Table<K> {
    fn new(capacity: usize) -> Table<K> {
        let n = capacity.next_power_of_two();
        Table {
            slots: vec![Slot::default(); n],
            used: Vec::with_capacity(n),
            mask: n - 1,
            other: (0, 0),
        }
    }

    #[inline]
    fn add(&mut self, key: K, bytes: u64) {
        let mut i = key.hash() as usize & self.mask;
        for _ in 0..PROBES {
            let s = &mut self.slots[i];
            if s.used && s.key == key {
                s.packets += 1;
                s.bytes += bytes;
                return;
            }
            if !s.used {
                *s = Slot {
                    key,
                    packets: 1,
                    bytes,
                    used: true,
                };
                self.used.push(i as u32);
                return;
            }
            i = (i + 1) & self.mask;
        }
        self.other.0 += 1;
        self.other.1 += bytes;
    }

    fn clear(&mut self) {
        for &i in &self.used {
            self.slots[i as usize].used = false;
        }
        self.used.clear();
        self.other = (0, 0);
    }

    fn drain_into(&mut self, into: &mut HashMap<K, (u64, u64)>, other: &mut (u64, u64))
    where
        K: std::hash::Hash,
    {
        for &i in &self.used {
            let s = &self.slots[i as usize];
            let e = into.entry(s.key).or_default();
            e.0 += s.packets;
            e.1 += s.bytes;
        }
        other.0 += self.other.0;
        other.1 += self.other.1;
        self.clear();
    }
}

/// One worker's counts for the current interval.
pub struct Counts {
    src: Table<Host>,
    dst: Table<Host>,
    flows: Table<FlowKey>,
    /// Frames that are not IPv4/IPv6.
    non_ip: (u64, u64),
}

impl Counts {
    pub fn new(hosts: usize, flows: usize) -> Counts {
        Counts {
            src: Table::new(hosts),
            dst: Table::new(hosts),
            flows: Table::new(flows),
            non_ip: (0, 0),
        }
    }

    /// Counts one frame by its bytes (`wire` = its length on the wire).
    #[inline]
    pub fn add_frame(&mut self, data: &[u8], wire: u64) {
        match parse(data) {
            Some(k) => {
                self.src.add(k.src, wire);
                self.dst.add(k.dst, wire);
                self.flows.add(k, wire);
            }
            None => {
                self.non_ip.0 += 1;
                self.non_ip.1 += wire;
            }
        }
    }
}

/// The flow key of an Ethernet frame (ringcap-wire's one-pass summary): addresses, protocol,
/// ports (ICMP: type and code); `None` when it is not IPv4/IPv6.
#[inline]
fn parse(d: &[u8]) -> Option<FlowKey> {
    let s = ringcap_wire::summarize(d);
    let (src, dst) = match s.addrs {
        Addrs::V4 { src, dst } => (Host::v4(&src), Host::v4(&dst)),
        Addrs::V6 { src, dst } => (Host::v6(&src), Host::v6(&dst)),
        Addrs::None => return None,
    };
    Some(FlowKey {
        proto: s.proto,
        src,
        dst,
        sport: s.src_port,
        dport: s.dst_port,
    })
}

/// The handler of one `top` worker: counts every packet of a batch under one lock.
pub struct TalkerHandler(pub Arc<Mutex<Box<Counts>>>);

impl Handler for TalkerHandler {
    fn batch(&mut self, batch: &mut Batch<'_>) -> Flow {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for pkt in batch {
            c.add_frame(pkt.data(), u64::from(pkt.len()));
        }
        Flow::Continue
    }
}

/// One ranked entry: what, packets and bytes in the interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub name: String,
    pub packets: u64,
    pub bytes: u64,
}

/// What to rank by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Packets,
    Bytes,
}

/// One interval's talkers, summed over the workers (unordered: rank with [`top`]).
#[derive(Debug, Clone, Default)]
pub struct Talkers {
    pub src: Vec<Ranked>,
    pub dst: Vec<Ranked>,
    pub flows: Vec<Ranked>,
    /// Packets and bytes counted under no key (not IP, or a full table).
    pub other: (u64, u64),
}

fn entries<K: Copy>(m: HashMap<K, (u64, u64)>, name: impl Fn(&K) -> String) -> Vec<Ranked> {
    m.into_iter()
        .map(|(k, (p, b))| Ranked {
            name: name(&k),
            packets: p,
            bytes: b,
        })
        .collect()
}

/// The first `n` of `list` by packets or bytes (ties: the other count, then the name).
pub fn top(list: &[Ranked], by: SortBy, n: usize) -> Vec<Ranked> {
    let mut v = list.to_vec();
    let key = |r: &Ranked| match by {
        SortBy::Packets => (r.packets, r.bytes),
        SortBy::Bytes => (r.bytes, r.packets),
    };
    v.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name)));
    v.truncate(n);
    v
}

/// Takes every worker's counts of the interval just ended (leaving them empty) and sums them.
/// `spare` is an empty [`Counts`] swapped in for each worker in turn.
pub fn collect(workers: &[Arc<Mutex<Box<Counts>>>], spare: &mut Box<Counts>) -> Talkers {
    let mut src = HashMap::new();
    let mut dst = HashMap::new();
    let mut flows = HashMap::new();
    let mut other = (0, 0);
    for w in workers {
        {
            let mut g = w.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut *g, spare);
        }
        spare.src.drain_into(&mut src, &mut other);
        spare.dst.drain_into(&mut dst, &mut (0, 0));
        spare.flows.drain_into(&mut flows, &mut (0, 0));
        other.0 += spare.non_ip.0;
        other.1 += spare.non_ip.1;
        spare.non_ip = (0, 0);
    }
    Talkers {
        src: entries(src, |h: &Host| h.ip().to_string()),
        dst: entries(dst, |h: &Host| h.ip().to_string()),
        flows: entries(flows, |f: &FlowKey| f.to_string()),
        other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp4(src: [u8; 4], sport: u16, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((len - 14) as u16).to_be_bytes());
        f[23] = 17;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&[10, 0, 0, 9]);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&53u16.to_be_bytes());
        f
    }

    #[test]
    fn ranks_hosts_by_packets_or_bytes_and_empties_the_workers() {
        let w = vec![Arc::new(Mutex::new(Box::new(Counts::new(64, 64))))];
        {
            let mut c = w[0].lock().unwrap();
            for _ in 0..5 {
                c.add_frame(&udp4([10, 0, 0, 1], 1000, 60), 60);
            }
            for _ in 0..2 {
                c.add_frame(&udp4([10, 0, 0, 2], 2000, 1000), 1000);
            }
            c.add_frame(&[0u8; 60], 60); // not IP
        }
        let mut spare = Box::new(Counts::new(64, 64));
        let t = collect(&w, &mut spare);
        let by_pkts = top(&t.src, SortBy::Packets, 10);
        assert_eq!(by_pkts[0].name, "10.0.0.1");
        assert_eq!((by_pkts[0].packets, by_pkts[0].bytes), (5, 300));
        assert_eq!(by_pkts[1].name, "10.0.0.2");
        assert_eq!(top(&t.src, SortBy::Bytes, 1)[0].name, "10.0.0.2");
        assert_eq!(t.dst.len(), 1);
        assert_eq!(t.dst[0].packets, 7);
        assert_eq!(
            top(&t.flows, SortBy::Packets, 1)[0].name,
            "10.0.0.1:1000 > 10.0.0.9:53 udp"
        );
        assert_eq!(t.other, (1, 60));
        let t = collect(&w, &mut spare);
        assert!(t.src.is_empty(), "the interval's counts were taken");
    }

    #[test]
    fn a_full_table_counts_the_rest_as_other() {
        let mut c = Counts::new(2, 2);
        for i in 0..40u8 {
            c.add_frame(&udp4([10, 0, 1, i], 1, 60), 60);
        }
        let w = vec![Arc::new(Mutex::new(Box::new(c)))];
        let t = collect(&w, &mut Box::new(Counts::new(2, 2)));
        let counted: u64 = t.src.iter().map(|r| r.packets).sum();
        assert_eq!(counted + t.other.0, 40);
        assert!(t.src.len() <= 2);
    }

    #[test]
    fn vlan_and_ipv6_frames_and_short_frames() {
        let mut f = udp4([192, 168, 1, 1], 7, 64);
        f.splice(12..12, [0x81, 0x00, 0x00, 0x64]);
        let k = parse(&f).unwrap();
        assert_eq!(k.src.ip().to_string(), "192.168.1.1");
        assert_eq!(k.sport, 7);
        let mut v6 = vec![0u8; 80];
        v6[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        v6[14] = 0x60;
        v6[18..20].copy_from_slice(&26u16.to_be_bytes());
        v6[20] = 6;
        v6[22 + 15] = 1;
        v6[38 + 15] = 2;
        v6[54..56].copy_from_slice(&443u16.to_be_bytes());
        v6[66] = 0x50; // TCP data offset: 20 bytes
        let k = parse(&v6).unwrap();
        assert_eq!(k.to_string(), "[::1]:443 > [::2]:0 tcp");
        assert!(parse(&f[..20]).is_none());
    }
}
