//! Cost of the one-pass summary per frame (the flow table calls it once per captured packet).
//! Target: a few nanoseconds per frame.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringcap_wire::summarize;
use std::hint::black_box;

fn syn_60() -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
    ]);
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.resize(60, 0);
    f
}

fn udp6_1514() -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
    let payload = 1514 - 14 - 40;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload as u16).to_be_bytes());
    f.extend_from_slice(&[17, 64]);
    f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    f.extend_from_slice(&[0x30, 0x39, 0x10, 0x92]);
    f.extend_from_slice(&(payload as u16).to_be_bytes());
    f.resize(1514, 0x5a);
    f
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("summarize");
    g.throughput(Throughput::Elements(1));
    for (name, frame) in [("tcp_syn_60B", syn_60()), ("ipv6_udp_1514B", udp6_1514())] {
        let s = summarize(&frame);
        assert!(s.src_port != 0 && s.dst_port != 0, "{name}: {s:?}");
        g.bench_function(name, |b| b.iter(|| summarize(black_box(&frame))));
    }
    // Four loads from the same frame: what "one call" costs on this machine, to read the figures
    // above against (the shared 2-core test machine is several times slower than a desktop).
    let f = syn_60();
    g.bench_function("baseline_4_loads", |b| {
        b.iter(|| {
            let f = black_box(&f);
            (f[12], f[23], f[36], f[47])
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
