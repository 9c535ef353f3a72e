//! User-space cost per packet of walking TPACKET_V3 blocks: synthetic blocks in memory laid out
//! as the kernel lays them out, every packet handed to a no-op sink as a `Packet` view through
//! the same `Batch` the workers use. The bar: at most 5 ns per packet, so the kernel, never
//! ringcap, is the bottleneck.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringcap::ring::{synthetic_block, Block};
use ringcap::Batch;

fn walk(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_walk");
    for size in [60usize, 1514] {
        let frame = vec![0xabu8; size];
        let frames: Vec<&[u8]> = std::iter::repeat_n(frame.as_slice(), 100_000).collect();
        let mut buf = vec![0u8; 1 << 20];
        let n = synthetic_block(&mut buf, &frames) as u64;
        group.throughput(Throughput::Elements(n));
        group.bench_function(format!("{size}B_frames_{n}_per_block"), |b| {
            b.iter(|| {
                let block = Block::from_bytes(black_box(&buf));
                let mut batch = Batch::from_block(&block);
                let mut bytes = 0u64;
                for p in &mut batch {
                    // The no-op sink: look at the view the way a handler would.
                    bytes += black_box(p).len() as u64;
                }
                bytes
            })
        });
    }
    group.finish();
}

criterion_group!(benches, walk);
criterion_main!(benches);
