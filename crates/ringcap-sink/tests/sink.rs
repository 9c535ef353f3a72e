//! The sink without a capture: producers (as capture workers would) append records from
//! threads of their own, and the files are read back. No root needed.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringcap_pcap::{Format, IfStats, Interface, Precision, Rotation, WriterOptions};
use ringcap_sink::{Go, Output, RecordConsumer, SinkOptions, Spool};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ringcap-sink-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn file_opts(format: Format) -> WriterOptions {
    let mut o = WriterOptions::new(format, 1, 2000);
    o.interfaces = vec![Interface::new(Some("t0"), 1, 2000)];
    o
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Producer `w` of `n` sends `count` packets whose timestamps interleave with the others'
/// (`t = t0 + (k * n + w) µs`, t0 now, as a live capture's are), in batches, going idle now and
/// then, as a capture worker does.
fn produce(mut s: Spool, t0: u64, w: u64, n: u64, count: u64, batch: u64) {
    let mut k = 0;
    while k < count {
        assert_eq!(s.begin_batch(), Go::On);
        for _ in 0..batch.min(count - k) {
            let ts = t0 + (k * n + w) * 1_000;
            let data = [(w as u8); 100];
            s.append(ts, 100, &[&data[..(60 + (k % 40) as usize)]]);
            k += 1;
        }
        s.end_batch();
        if k % (batch * 7) == 0 {
            s.idle();
        }
    }
    s.finish(IfStats {
        received: Some(count),
        dropped: Some(0),
        ..Default::default()
    });
}

fn read_all(path: &str) -> Vec<(u64, Vec<u8>)> {
    let mut r = ringcap_pcap::open(path).unwrap();
    let mut v = Vec::new();
    while let Some((m, d)) = r.next_packet().unwrap() {
        v.push((m.ts_ns, d.to_vec()));
    }
    v
}

#[test]
fn one_ordered_file_from_three_workers() {
    let d = dir("ordered");
    for format in [Format::Pcap, Format::Pcapng] {
        let path = d
            .join(format!("all.{format}"))
            .to_string_lossy()
            .into_owned();
        let output = Output::Files {
            base: path.clone(),
            rotation: Rotation::default(),
            per_worker: false,
        };
        let mut o = SinkOptions::new(3, output, file_opts(format));
        o.chunk_size = 64 << 10;
        o.chunks = 64;
        let (spools, sink) = ringcap_sink::open(o).unwrap();
        let t0 = now_ns();
        let hs: Vec<_> = spools
            .into_iter()
            .enumerate()
            .map(|(w, s)| std::thread::spawn(move || produce(s, t0, w as u64, 3, 20_000, 300)))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let s = sink.close();
        assert_eq!(
            (s.taken, s.written, s.behind, s.files),
            (60_000, 60_000, 0, 1)
        );
        assert!(s.adds_up() && s.errors.is_empty(), "{s:?}");
        let got = read_all(&path);
        assert_eq!(got.len(), 60_000);
        let out_of_order = got.windows(2).filter(|p| p[0].0 >= p[1].0).count();
        assert_eq!((out_of_order, s.inversions), (0, 0), "{format}: {s:?}");
    }
}

#[test]
fn per_worker_files_and_rotation() {
    let d = dir("perworker");
    let base = d.join("w.pcap").to_string_lossy().into_owned();
    let output = Output::Files {
        base: base.clone(),
        rotation: Rotation {
            size_limit: Some(200_000),
            interval_s: None,
            max_files: None,
        },
        per_worker: true,
    };
    let (spools, sink) =
        ringcap_sink::open(SinkOptions::new(2, output, file_opts(Format::Pcap))).unwrap();
    let t0 = now_ns();
    let hs: Vec<_> = spools
        .into_iter()
        .enumerate()
        .map(|(w, s)| std::thread::spawn(move || produce(s, t0, w as u64, 2, 10_000, 500)))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let s = sink.close();
    assert_eq!((s.taken, s.written), (20_000, 20_000), "{s:?}");
    let mut total = 0;
    let mut files = 0;
    for w in 0..2 {
        for k in 0.. {
            let p = if k == 0 {
                format!("{}/w.{w}.pcap", d.display())
            } else {
                format!("{}/w.{w}.pcap{k}", d.display())
            };
            if !std::path::Path::new(&p).exists() {
                break;
            }
            let len = std::fs::metadata(&p).unwrap().len();
            // tcpdump's -C: a file is closed at the first packet past the limit.
            assert!(len < 200_000 + 200, "{p}: {len}");
            let got = read_all(&p);
            assert!(got.iter().all(|(_, b)| b[0] == w as u8));
            total += got.len();
            files += 1;
        }
    }
    assert_eq!(total, 20_000);
    assert_eq!(files as u64, s.files);
    assert!(files > 4);
}

/// A consumer that takes 2 ms per packet: the workers' buffers fill and they count what they
/// cannot take; nothing waits, and the counts add up.
struct Slow(Arc<Mutex<Vec<u64>>>);
impl RecordConsumer for Slow {
    fn packet(&mut self, ts: u64, _: u32, _: &[u8]) -> io::Result<()> {
        std::thread::sleep(Duration::from_millis(2));
        self.0.lock().unwrap().push(ts);
        Ok(())
    }
}

#[test]
fn a_slow_consumer_makes_workers_count_behind() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let output = Output::Lines(Box::new(Slow(seen.clone())));
    let mut o = SinkOptions::new(2, output, file_opts(Format::Pcap));
    o.chunk_size = 16 << 10;
    o.chunks = 4;
    let (spools, sink) = ringcap_sink::open(o).unwrap();
    let start = std::time::Instant::now();
    let t0 = now_ns();
    let hs: Vec<_> = spools
        .into_iter()
        .enumerate()
        .map(|(w, s)| std::thread::spawn(move || produce(s, t0, w as u64, 2, 50_000, 1000)))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    // The producers never waited for the consumer.
    assert!(start.elapsed() < Duration::from_secs(5));
    let s = sink.close();
    assert!(s.lines);
    assert!(s.behind > 0, "{s:?}");
    assert_eq!(s.received(), 100_000);
    assert!(s.adds_up(), "{s:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len() as u64, s.written);
    assert_eq!(s.written + s.not_written(), 100_000);
}

#[test]
fn stdout_flags_and_bad_paths() {
    let output = Output::Files {
        base: "/nonexistent-dir/x.pcap".into(),
        rotation: Rotation::default(),
        per_worker: false,
    };
    let e = ringcap_sink::open(SinkOptions::new(2, output, file_opts(Format::Pcap)))
        .err()
        .unwrap();
    assert!(e.to_string().contains("/nonexistent-dir/x.pcap"), "{e}");
    let mut o = file_opts(Format::Pcap);
    o.precision = Precision::Micro;
    o.interfaces.push(Interface::new(None, 1, 100));
    let output = Output::Files {
        base: dir("bad").join("x.pcap").to_string_lossy().into_owned(),
        rotation: Rotation::default(),
        per_worker: false,
    };
    assert!(ringcap_sink::open(SinkOptions::new(1, output, o)).is_err());
}
