//! The flow-table update per packet, on one core: `cargo bench -p ringcap-flow --bench table`
//! (run it as `heavy cargo bench ...` on the shared machine).
//!
//! Each table is filled with N active flows first (N = 10 k and 1 M); then packets visit the
//! flows in random order — every flow once per N packets, no locality at all, the worst case
//! for the caches — in batches of 256 (one ring block's worth), each batch followed by the
//! amortised expiry sweep as a worker runs it. Packet times advance 100 ns per packet
//! (10 Mpps on the core), so every flow stays active and the sweep visits its share of slots.
//! Throughput is in packets: criterion prints the time per batch; divide by 256 for ns/packet
//! (the `thrpt` line gives packets per second).
//!
//! What one timed batch includes: reading 256 flow numbers from a prepared random sequence
//! (4 MB, read in order), writing each packet's observation — the parsed fields: key, time,
//! lengths, TCP flags — into one reused batch buffer, as a worker's meter does, then
//! `FlowTable::update` on the batch and one `FlowTable::expire`. `table_update/harness/N`
//! times the same loop without the table: the table's own cost is the difference, which
//! `table_update/table_only/N` measures directly (the two loops alternating within each
//! sample, so the machine's drift cancels).
//!
//! `table_churn` is `bench --flows`'s case: every packet a new flow (a SYN flood walking
//! its ports), 10 µs apart (100 kpps), with 1 s idle and active timeouts and the default
//! `--max-flows`, so about 100 k flows are in the table and as many end each second. One
//! batch: 256 inserts, the sweep's share of the table, and the records of the flows it ends.
//!
//! `key_and_table` adds the header summary and key extraction from real 60-byte frames, i.e.
//! all of a worker's per-packet flow work.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringcap_flow::key::{FlowKey, Hasher, Kind, VLAN_NONE};
use ringcap_flow::table::{FlowTable, Observation, Timeouts};
use ringcap_flow::FlowRecord;

const BATCH: usize = 256;
/// Packets in the prepared stream (a multiple of BATCH).
const STREAM: usize = 1 << 20;
/// Batches per run in `table_only`'s alternation (8 batches: tens of microseconds).
const INTERLEAVE: u64 = 8;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn key(n: u64) -> FlowKey {
    let mut k = FlowKey {
        kind: Kind::V4,
        proto: if n.is_multiple_of(5) { 17 } else { 6 },
        src_port: 1024 + (n % 50_000) as u16,
        dst_port: 443,
        ethertype: 0x0800,
        vlan: VLAN_NONE,
        ..FlowKey::default()
    };
    k.src[..4].copy_from_slice(&(0x0a00_0000 | (n as u32 >> 4)).to_be_bytes());
    k.dst[..4].copy_from_slice(&[192, 0, 2, (n % 16) as u8]);
    k
}

/// `len` flow numbers: random permutations of `0..flows` one after another, so that each
/// flow comes once per `flows` packets, in an order with no locality.
fn shuffles(flows: u32, len: usize, rng: &mut Rng) -> Vec<u32> {
    let mut out = Vec::with_capacity(len);
    let mut perm: Vec<u32> = (0..flows).collect();
    while out.len() < len {
        // Fisher-Yates.
        for i in (1..perm.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            perm.swap(i, j);
        }
        let take = perm.len().min(len - out.len());
        out.extend_from_slice(&perm[..take]);
    }
    out
}

/// One batch of packets of the flows numbered in `seq`, stamped 100 ns apart.
#[inline(always)]
fn make_batch(batch: &mut [Observation], seq: &[u32], ts: &mut u64) {
    for (o, &n) in batch.iter_mut().zip(seq) {
        *ts += 100;
        *o = Observation {
            key: key(n as u64),
            ts_ns: *ts,
            octets: 52,
            l2_octets: 66,
            tcp_flags: 0x10,
        };
    }
}

fn table_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("table_update");
    g.throughput(Throughput::Elements(BATCH as u64));
    for flows in [10_000u64, 1_000_000] {
        // The default idle timeout (which sets the sweep's pace), and an active timeout no
        // run reaches: criterion's runs together span minutes of packet time, past the
        // default 60 s, and every flow would end at once mid-measurement.
        let timeouts = Timeouts {
            active_ns: 3_600_000_000_000,
            ..Timeouts::default()
        };
        let mut table = FlowTable::with_hasher(
            flows as usize + flows as usize / 4,
            timeouts,
            Hasher::fixed(),
        );
        let mut sink = |r: &FlowRecord| {
            black_box(r);
        };
        let keys: Vec<FlowKey> = (0..flows).map(key).collect();
        let mut ts = 1_700_000_000_000_000_000u64;
        let fill: Vec<Observation> = keys
            .iter()
            .map(|&key| Observation {
                key,
                ts_ns: ts,
                octets: 52,
                l2_octets: 66,
                tcp_flags: 0x10,
            })
            .collect();
        table.update(&fill, &mut sink);
        assert_eq!(table.len() as u64, flows);
        // A long random sequence of flows, drawn beforehand and read in order (drawing a
        // random flow per packet would time the generator): 4 bytes a packet, so reading it
        // costs little memory bandwidth beside the table's own. Shuffles of all the flows one
        // after another, so every flow is active: independent draws would leave 37 % of a
        // million flows untouched by a stream of a million packets (1/e), the table's busy
        // part that much smaller than it claims (and those flows idle out mid-bench).
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let seq = shuffles(flows as u32, STREAM, &mut rng);
        // The packets of a batch are written into one reused buffer, as a worker's meter
        // writes its pending observations from the parsed headers; the key is made from the
        // flow's number by arithmetic (no table of keys, which would add a miss of its own).
        let mut batch = vec![Observation::default(); BATCH];
        let mut at = 0usize;
        g.bench_function(BenchmarkId::from_parameter(flows), |b| {
            b.iter(|| {
                make_batch(&mut batch, &seq[at..at + BATCH], &mut ts);
                table.update(&batch, &mut sink);
                table.expire(ts, &mut sink);
                at = (at + BATCH) % STREAM;
            })
        });
        // The harness alone (the same batches made, no table), so its share of the figure
        // above can be told apart: table cost = table_update - harness.
        // (Its packet times are its own: the table's clock stands still meanwhile, as if the
        // link had paused, so that no flow goes idle when the table's packets resume.)
        let mut harness_ts = ts;
        g.bench_function(BenchmarkId::new("harness", flows), |b| {
            b.iter(|| {
                make_batch(&mut batch, &seq[at..at + BATCH], &mut harness_ts);
                black_box(&batch);
                at = (at + BATCH) % STREAM;
            })
        });
        // The table's own cost measured directly: runs of the harness alone and of harness
        // plus table alternate every few dozen microseconds within each sample, and the
        // sample is their difference. The two figures above are measured seconds apart, and
        // this shared machine's speed moves by tens of percent between seconds (the same
        // loop's time, when a neighbour shares the core), so their difference is far noisier.
        // The harness runs read the sequence from a cursor of their own, so that the table's
        // runs read it whole and in order (taking turns on one cursor, the table saw the same
        // half of every shuffle: half the flows).
        let mut harness_at = 0usize;
        g.bench_function(BenchmarkId::new("table_only", flows), |b| {
            b.iter_custom(|iters| {
                let (mut with, mut without) = (Duration::ZERO, Duration::ZERO);
                let mut left = iters;
                while left > 0 {
                    let k = left.min(INTERLEAVE);
                    let t0 = Instant::now();
                    let mut harness_ts = ts;
                    for _ in 0..k {
                        make_batch(
                            &mut batch,
                            &seq[harness_at..harness_at + BATCH],
                            &mut harness_ts,
                        );
                        black_box(&batch);
                        harness_at = (harness_at + BATCH) % STREAM;
                    }
                    let t1 = Instant::now();
                    for _ in 0..k {
                        make_batch(&mut batch, &seq[at..at + BATCH], &mut ts);
                        table.update(&batch, &mut sink);
                        table.expire(ts, &mut sink);
                        at = (at + BATCH) % STREAM;
                    }
                    let t2 = Instant::now();
                    without += t1 - t0;
                    with += t2 - t1;
                    left -= k;
                }
                with.saturating_sub(without)
            })
        });
        let st = table.stats();
        assert_eq!(
            table.len() as u64,
            flows,
            "a flow ended during the bench: {st:?}"
        );
        assert_eq!(st.records, 0, "{st:?}");
    }
    g.finish();
}

fn frame(n: u64) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&40u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&(0x0a00_0000 | (n as u32 >> 4)).to_be_bytes());
    f[30..34].copy_from_slice(&[192, 0, 2, (n % 16) as u8]);
    f[34..36].copy_from_slice(&(1024 + (n % 50_000) as u16).to_be_bytes());
    f[36..38].copy_from_slice(&443u16.to_be_bytes());
    f[46] = 0x50;
    f[47] = 0x10;
    f
}

fn key_and_table(c: &mut Criterion) {
    let mut g = c.benchmark_group("key_and_table");
    g.throughput(Throughput::Elements(BATCH as u64));
    let flows = 10_000u64;
    let frames: Vec<Vec<u8>> = (0..flows).map(frame).collect();
    let mut table = FlowTable::with_hasher(20_000, Timeouts::default(), Hasher::fixed());
    let mut sink = |r: &FlowRecord| {
        black_box(r);
    };
    let mut rng = Rng(7);
    let seq = shuffles(flows as u32, 1 << 20, &mut rng);
    let mut at = 0usize;
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut batch = vec![Observation::default(); BATCH];
    g.bench_function(BenchmarkId::from_parameter(flows), |b| {
        b.iter(|| {
            for o in batch.iter_mut() {
                ts += 100;
                let f = &frames[seq[at] as usize];
                let s = ringcap_flow::wire::summarize(f);
                *o = Observation {
                    key: FlowKey::from_summary(&s, None),
                    ts_ns: ts,
                    octets: s.l3_len,
                    l2_octets: 60,
                    tcp_flags: s.tcp_flags,
                };
                at = (at + 1) & ((1 << 20) - 1);
            }
            table.update(&batch, &mut sink);
            table.expire(ts, &mut sink);
        })
    });
    g.finish();
}

fn table_churn(c: &mut Criterion) {
    let mut g = c.benchmark_group("table_churn");
    g.throughput(Throughput::Elements(BATCH as u64));
    let second = 1_000_000_000;
    let timeouts = Timeouts {
        idle_ns: second,
        active_ns: second,
        fin_ns: second,
    };
    let mut table = FlowTable::with_hasher(262_144, timeouts, Hasher::fixed());
    let mut records = 0u64;
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut n = 0u64;
    let mut batch = vec![Observation::default(); BATCH];
    g.bench_function("100kpps_new_flows", |b| {
        b.iter(|| {
            for o in batch.iter_mut() {
                ts += 10_000;
                n += 1;
                *o = Observation {
                    key: key(n),
                    ts_ns: ts,
                    octets: 40,
                    l2_octets: 60,
                    tcp_flags: 0x02,
                };
            }
            let mut sink = |r: &FlowRecord| {
                records += black_box(r).packets;
            };
            table.update(&batch, &mut sink);
            table.expire(ts, &mut sink);
        })
    });
    g.finish();
    // Every flow but those still in the table ended in a record; none was evicted.
    assert_eq!(records + table.len() as u64, n);
    assert_eq!(table.stats().evicted(), 0);
}

criterion_group!(benches, table_update, table_churn, key_and_table);
criterion_main!(benches);
