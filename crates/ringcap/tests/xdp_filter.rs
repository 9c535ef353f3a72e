//! AF_XDP with the filter in the XDP program, through the engine: only matching frames reach the
//! sockets, every other one is counted as passed to the host, the counts reconcile, and a match
//! keeps what the filter's `ret #k` says. Needs root (CI is root); otherwise it says it skips.

mod common;

use std::time::Duration;

use common::{capture, check_reconciles, send};

use ringcap::{Config, Mode, Report};
use ringcap_netlab::{udp_frame, TestNet};

fn extra(r: &Report, name: &str) -> Option<u64> {
    r.extra.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

#[test]
fn xdp_kernel_filter_redirects_matches_and_passes_the_rest() {
    if !ringcap_netlab::can_run("xdp_kernel_filter_redirects_matches_and_passes_the_rest") {
        return;
    }
    // every third frame is TCP; "udp" with matches keeping 100 bytes
    let prog = {
        let services = ringcap_filter::Services::well_known();
        let mut opts = ringcap_filter::Options::new(ringcap_filter::LinkType::Ethernet, &services);
        opts.snaplen = 100;
        ringcap_filter::compile("udp", &opts)
    }
    .unwrap();
    let n = 300u32;
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut f = udp_frame(i, 3, 400);
            if i % 3 == 0 {
                f[23] = 6;
            }
            f
        })
        .collect();
    let net = TestNet::new().unwrap();
    let cfg = Config::new("rc0")
        .mode(Mode::Xdp)
        .pin(false)
        .filter(Some(prog))
        .duration(Some(Duration::from_millis(800)));
    let (report, seen) = capture(&net, cfg, Duration::ZERO, |net| send(net, &frames));
    check_reconciles(&report);
    assert_eq!(report.total.received, 200);
    assert_eq!(
        report.total.kernel_packets, 200,
        "kernel = frames redirected"
    );
    assert_eq!(extra(&report, "xdp_redirected"), Some(200));
    assert_eq!(extra(&report, "xdp_passed"), Some(100));
    assert_eq!(
        extra(&report, "xdp_filtered"),
        None,
        "nothing filtered in user space"
    );
    assert_eq!(seen.len(), 200);
    for s in &seen {
        assert_ne!(s.seq % 3, 0);
        assert_eq!(
            s.data.len(),
            100,
            "a match keeps the filter's accept length"
        );
        assert_eq!(s.len, 400);
        assert_eq!(s.data[..], frames[s.seq as usize][..100]);
    }
}
