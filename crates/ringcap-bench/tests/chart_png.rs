//! The chart renders: rsvg-convert (librsvg, what many report pipelines use) parses the SVG
//! and draws a PNG 800 px wide of a plausible size. (Set RINGCAP_CHART_PNG=FILE to keep the PNG
//! and look at it.)

use std::process::Command;

use ringcap_bench::chart::{self, Caption};
use ringcap_bench::run::{Counts, Failure, Run, Side};
use ringcap_bench::summary::Row;

fn row(name: &str, side: Side, offered: u64, captured: u64, user: u64, sys: u64) -> Row {
    Row {
        run: Run {
            name: name.into(),
            side,
            round: 0,
            counts: Counts {
                seen: offered,
                if_drops: 0,
                captured,
                drops: offered - captured,
                secs: 3.0,
                cpu_user_ns: user * captured,
                cpu_sys_ns: sys * captured,
                ring_bytes: 64 << 20,
                sent: Some(offered),
                output: None,
                marginal: None,
                window: None,
            },
            reconciles: true,
            background: 0,
            host: None,
            failure: None,
        },
        rounds: 3,
        failed_rounds: 0,
        all_add_up: true,
        marginal_per_pkt: None,
        marginal_per_offered: None,
    }
}

/// (width, height) from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |o: usize| u32::from_be_bytes(png[o..o + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn the_chart_renders_as_a_png_800_px_wide() {
    if !ringcap_netlab::skip::tools(&["rsvg-convert"]) {
        return;
    }
    let mut failed = row("netsniff-ng -w tmpfs", Side::Compared, 57_000, 0, 0, 0);
    failed.run.failure = Some(Failure::new(
        "captured nothing of 57000 frames offered (0.019 Mpps)",
    ));
    let mut flaky = row(
        "tcpdump -w /dev/null",
        Side::Compared,
        1_800_000,
        1_750_000,
        90,
        810,
    );
    flaky.failed_rounds = 1;
    let rows = vec![
        row("recv x1", Side::Ringcap, 1_100_000, 250_000, 200, 10_300),
        row("recv x2", Side::Ringcap, 1_500_000, 900_000, 150, 2_000),
        row("ring x1", Side::Ringcap, 1_800_000, 1_800_000, 33, 270),
        row("ring x2", Side::Ringcap, 1_900_000, 1_900_000, 30, 250),
        flaky,
        failed,
    ];
    let svg = chart::svg(
        &rows,
        &Caption {
            machine: "AMD EPYC 7B13 64-Core Processor, 2 CPUs, Linux 6.18.44-fc-v1045",
            command: "ringcap bench --runs 3 --svg bench.svg --compare tcpdump,netsniff-ng --filter 'tcp and dst port 80'",
            setup: "60-byte SYN frames, 3 s per run, median of 3 runs; generator on CPU 0, capture on CPU 1",
        },
    );
    let dir = ringcap_netlab::tools::tmpdir("chart");
    let (svg_path, png_path) = (dir.join("bench.svg"), dir.join("bench.png"));
    std::fs::write(&svg_path, &svg).unwrap();
    let out = Command::new("rsvg-convert")
        .arg(&svg_path)
        .arg("-o")
        .arg(&png_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rsvg-convert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&png_path).unwrap();
    if let Some(keep) = std::env::var_os("RINGCAP_CHART_PNG") {
        std::fs::write(keep, &png).unwrap();
    }
    let (w, h) = png_size(&png);
    assert_eq!(w, 800);
    // Six rows, the axes and a four-line caption.
    assert!((400..800).contains(&h), "height {h}");
    assert!(
        png.len() > 20_000,
        "a {} byte PNG is mostly empty",
        png.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
