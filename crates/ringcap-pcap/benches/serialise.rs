//! Serialisation speed of the writers, in memory: 64-byte records into the writer's buffer, the
//! buffer handed to `io::sink()` when full (so no I/O is measured). The targets:
//! pcap ≥ 100 M records/s on one core, pcapng ≥ half of that.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringcap_pcap::{vlan_parts, Format, Writer, WriterOptions};
use std::hint::black_box;

const N: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let pkt = [0x5au8; 64];
    let mut g = c.benchmark_group("serialise_64B");
    g.throughput(Throughput::Elements(N));
    for format in [Format::Pcap, Format::Pcapng] {
        let mut w = Writer::new(std::io::sink(), &WriterOptions::new(format, 1, 262_144)).unwrap();
        g.bench_function(format.to_string(), |b| {
            b.iter(|| {
                for i in 0..N {
                    w.write_packet(
                        black_box(1_700_000_000_000_000_000 + i),
                        64,
                        &[black_box(&pkt)],
                    )
                    .unwrap();
                }
            })
        });
        let mut w = Writer::new(std::io::sink(), &WriterOptions::new(format, 1, 262_144)).unwrap();
        g.bench_function(format!("{format}_vlan_restore"), |b| {
            b.iter(|| {
                for i in 0..N {
                    let mut tag = [0u8; 4];
                    let (parts, len) = vlan_parts(black_box(&pkt), 64, 10, 0x8100, &mut tag);
                    w.write_packet(1_700_000_000_000_000_000 + i, len, &parts)
                        .unwrap();
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
