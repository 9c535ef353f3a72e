//! Fuzzing both readers with proptest: random inputs behind every magic, and valid files
//! (pcap of both byte orders, pcapng with several sections, interfaces, simple packet blocks and
//! unknown blocks) with bytes flipped, words overwritten and tails cut, read through a source
//! that returns short reads. The reader must never panic or loop, must stop at the first error
//! and must not deliver more packets than the intact file holds.
//!
//! Budget: `RINGCAP_FUZZ_CASES` cases per strategy (default 4000); the number of inputs run is
//! printed (`cargo test -p ringcap-pcap --test fuzz_readers -- --nocapture`).

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use ringcap_pcap::{Format, Interface, Precision, Reader, Writer, WriterOptions};

static INPUTS: AtomicU64 = AtomicU64::new(0);

fn cases() -> u32 {
    std::env::var("RINGCAP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

/// A source handing out the input in reads of varying size, like a pipe.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    n: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.n += 1;
        let k = (1 + (self.n * 7919 + self.step) % 97)
            .min(buf.len())
            .min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

/// Reads everything; returns (packets, ended with an error).
fn read_all(data: &[u8], step: usize) -> (usize, bool) {
    INPUTS.fetch_add(1, Ordering::Relaxed);
    let src = Trickle { data, step, n: 0 };
    let Ok(mut r) = Reader::new(src) else {
        return (0, true);
    };
    let mut n = 0;
    loop {
        match r.next_record() {
            Ok(Some(m)) => {
                assert_eq!(r.data().len(), m.caplen as usize);
                assert!((m.interface as usize) < r.interfaces().len());
                n += 1;
                assert!(n <= data.len() / 12 + 1, "more packets than bytes allow");
            }
            Ok(None) => return (n, false),
            Err(e) => {
                assert!(e.offset <= data.len() as u64, "{e}");
                assert!(r.next_record().unwrap().is_none());
                return (n, true);
            }
        }
    }
}

fn be32(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

/// A big-endian pcapng section: SHB, an IDB with a power-of-two resolution (2^-3 s) and
/// link type RAW, an EPB, an SPB, a custom block, an ISB.
fn be_section() -> Vec<u8> {
    let mut s = Vec::new();
    let block = |s: &mut Vec<u8>, t: u32, body: &[u8]| {
        let len = 12 + body.len() as u32;
        s.extend_from_slice(&be32(t));
        s.extend_from_slice(&be32(len));
        s.extend_from_slice(body);
        s.extend_from_slice(&be32(len));
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&be32(0x1A2B_3C4D));
    shb.extend_from_slice(&1u16.to_be_bytes());
    shb.extend_from_slice(&0u16.to_be_bytes());
    shb.extend_from_slice(&(-1i64).to_be_bytes());
    block(&mut s, 0x0A0D_0D0A, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&101u16.to_be_bytes());
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&be32(1500));
    idb.extend_from_slice(&9u16.to_be_bytes());
    idb.extend_from_slice(&1u16.to_be_bytes());
    idb.extend_from_slice(&[0x83, 0, 0, 0]);
    idb.extend_from_slice(&[0, 0, 0, 0]);
    block(&mut s, 1, &idb);
    let ip = &ringcap_netlab::udp_frame(9, 9, 64)[14..];
    let mut epb = Vec::new();
    epb.extend_from_slice(&be32(0));
    let ts: u64 = 8 * 1_700_000_000 + 4; // 1_700_000_000.5 s
    epb.extend_from_slice(&be32((ts >> 32) as u32));
    epb.extend_from_slice(&be32(ts as u32));
    epb.extend_from_slice(&be32(ip.len() as u32));
    epb.extend_from_slice(&be32(ip.len() as u32));
    epb.extend_from_slice(ip);
    epb.resize(epb.len().div_ceil(4) * 4, 0);
    block(&mut s, 6, &epb);
    let mut spb = Vec::new();
    spb.extend_from_slice(&be32(ip.len() as u32));
    spb.extend_from_slice(ip);
    spb.resize(spb.len().div_ceil(4) * 4, 0);
    block(&mut s, 3, &spb);
    block(&mut s, 0x0000_0BAD, &[1, 2, 3, 4, 5, 6, 7, 8]);
    block(&mut s, 0x4000_0BAD, &[0; 4]);
    block(&mut s, 5, &[0; 12]);
    s
}

fn le_file(format: Format) -> Vec<u8> {
    let mut o = WriterOptions::new(format, 1, 200);
    o.precision = Precision::Micro;
    if format == Format::Pcapng {
        o.interfaces.push(Interface::new(Some("any"), 113, 300));
    }
    let mut w = Writer::new(Vec::new(), &o).unwrap();
    for i in 0..12u32 {
        let f = ringcap_netlab::udp_frame(i, 1, 60 + i as usize * 20);
        let iface = if format == Format::Pcapng { i % 2 } else { 0 };
        w.write_packet_on(
            iface,
            1_600_000_000_000_000_000 + i as u64 * 1000,
            f.len() as u32,
            &[&f],
        )
        .unwrap();
    }
    w.finish(&[]).unwrap();
    w.get_ref().clone()
}

/// The pcap file with every field swapped to big-endian.
fn be_pcap() -> Vec<u8> {
    let mut b = le_file(Format::Pcap);
    let swap = |b: &mut [u8], at: usize, n: usize| b[at..at + n].reverse();
    swap(&mut b, 0, 4);
    swap(&mut b, 4, 2);
    swap(&mut b, 6, 2);
    for f in [8, 12, 16, 20] {
        swap(&mut b, f, 4);
    }
    let mut p = 24;
    while p < b.len() {
        let cap = u32::from_le_bytes(b[p + 8..p + 12].try_into().unwrap()) as usize;
        for f in 0..4 {
            swap(&mut b, p + f * 4, 4);
        }
        p += 16 + cap;
    }
    b
}

fn corpus() -> Vec<Vec<u8>> {
    let mut ng = le_file(Format::Pcapng);
    ng.extend_from_slice(&be_section());
    vec![le_file(Format::Pcap), be_pcap(), ng]
}

#[test]
fn big_endian_pcap_and_mixed_sections() {
    let c = corpus();
    let mut le = Reader::new(&c[0][..]).unwrap();
    let mut be = Reader::new(&c[1][..]).unwrap();
    for _ in 0..12 {
        let a = le.next_record().unwrap().unwrap();
        let da = le.data().to_vec();
        let b = be.next_record().unwrap().unwrap();
        assert_eq!(
            (a.ts_ns, a.caplen, a.orig_len),
            (b.ts_ns, b.caplen, b.orig_len)
        );
        assert_eq!(da, be.data());
    }
    assert!(be.next_record().unwrap().is_none());

    let mut r = Reader::new(&c[2][..]).unwrap();
    let mut lts = Vec::new();
    let mut last = None;
    while let Some(m) = r.next_record().unwrap() {
        lts.push(m.linktype);
        last = Some(m);
    }
    assert_eq!(lts.len(), 14);
    assert_eq!(&lts[..4], &[1, 113, 1, 113]);
    assert_eq!(&lts[12..], &[101, 101]);
    assert_eq!(r.interfaces().len(), 3);
    assert_eq!(r.interfaces()[2].section, 1);
    assert_eq!(r.interfaces()[2].tsresol(), "2^-3");
    assert_eq!(last.unwrap().caplen, 50);
    // The EPB of the big-endian section: 2^-3 s units.
    let mut r = Reader::new(&c[2][..]).unwrap();
    let m = std::iter::from_fn(|| r.next_record().unwrap())
        .nth(12)
        .unwrap();
    assert_eq!(m.ts_ns, 1_700_000_000_500_000_000);
}

fn magic_prefixed() -> impl Strategy<Value = Vec<u8>> {
    let magics: Vec<Vec<u8>> = vec![
        vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0],
        vec![0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4],
        vec![0x0a, 0x0d, 0x0d, 0x0a],
        vec![
            0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0,
        ],
    ];
    (
        proptest::sample::select(magics),
        proptest::collection::vec(any::<u8>(), 0..400),
    )
        .prop_map(|(mut m, tail)| {
            m.extend(tail);
            m
        })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Word(usize, u32),
    Cut(usize),
}

fn mutations() -> impl Strategy<Value = (usize, Vec<Mutation>, usize)> {
    let m = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (
            any::<usize>(),
            prop_oneof![
                any::<u32>(),
                Just(0),
                Just(0xffff_fff0),
                Just(0x8000_0000),
                Just(12),
                Just(7)
            ]
        )
            .prop_map(|(a, w)| Mutation::Word(a, w)),
        any::<usize>().prop_map(Mutation::Cut),
    ];
    (
        0..3usize,
        proptest::collection::vec(m, 1..5),
        any::<usize>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_never_panic(data in magic_prefixed(), step in 0usize..100) {
        read_all(&data, step);
    }

    #[test]
    fn mutated_files_never_panic((which, muts, step) in mutations()) {
        let c = corpus();
        let mut d = c[which].clone();
        for m in muts {
            match m {
                Mutation::Flip(at, x) => { let i = at % d.len(); d[i] ^= x | 1; }
                Mutation::Word(at, w) => {
                    let i = at % d.len() / 4 * 4;
                    if i + 4 <= d.len() { d[i..i + 4].copy_from_slice(&w.to_le_bytes()); }
                }
                Mutation::Cut(at) => { let n = at % (d.len() + 1); d.truncate(n.max(1)); }
            }
        }
        let (n, _) = read_all(&d, step);
        // Damage can make a packet look like more, but never beyond what the bytes allow.
        prop_assert!(n <= d.len() / 12 + 1);
    }
}

/// Runs last by name with `--test-threads=1`: prints how many inputs the fuzz tests read.
#[test]
fn zz_report_inputs() {
    eprintln!("fuzz inputs so far: {}", INPUTS.load(Ordering::Relaxed));
}
