//! Cost of the frame builder's per-frame step (`patch`: the varying fields and incremental
//! checksums written over a prefilled slot), the work the TX ring path does per frame.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringcap_gen::{FrameBuilder, FrameSpec, Proto};
use std::hint::black_box;

const N: u64 = 10_000;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_patch");
    g.throughput(Throughput::Elements(N));
    for (name, proto, v6, size) in [
        ("syn_60B", Proto::Syn, false, None),
        ("udp_1514B", Proto::Udp, false, Some(1514)),
        ("udp6_1514B", Proto::Udp, true, Some(1514)),
        ("icmp_60B", Proto::Icmp, false, None),
    ] {
        let mut spec = FrameSpec::new(proto, v6);
        spec.size = size;
        let mut b = FrameBuilder::new(&spec).unwrap();
        let mut slot = vec![0u8; b.len()];
        b.prefill(&mut slot);
        g.bench_function(name, |bch| {
            bch.iter(|| {
                for _ in 0..N {
                    black_box(b.patch(black_box(&mut slot)));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
