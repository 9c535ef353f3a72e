use super::*;

const MAPS: MapFds = MapFds {
    xskmap: 7,
    counters: 8,
    passed: 9,
};

fn jumps_in_range(p: &[Insn]) {
    for (pc, i) in p.iter().enumerate() {
        let class = i.code & 0x07;
        if (class == op::JMP || class == op::JMP32) && i.code & 0xf0 != op::CALL {
            if i.code & 0xf0 == op::EXIT {
                continue;
            }
            let to = pc as i64 + 1 + i.off as i64;
            assert!(
                to > pc as i64 && to < p.len() as i64,
                "{pc}: {}",
                i.text(pc)
            );
        }
    }
}

#[test]
fn jumps_land_on_ret_and_exit() {
    let p = instructions(MAPS, None);
    let exit = p.len() - 1;
    assert_eq!(p[exit].code, op::JMP | op::EXIT);
    let jne = p
        .iter()
        .position(|i| i.code == op::JMP | op::JNE | op::K)
        .unwrap();
    assert_eq!(jne + 1 + p[jne].off as usize, exit);
    let jeq = p
        .iter()
        .position(|i| i.code == op::JMP | op::JEQ | op::K)
        .unwrap();
    assert_eq!(jeq + 1 + p[jeq].off as usize, exit - 1);
    // Both map loads carry the pseudo-fd marker in src_reg.
    let loads: Vec<_> = p.iter().filter(|i| i.code == 0x18).collect();
    assert_eq!(loads.len(), 2);
    assert!(loads.iter().all(|i| i.src == bpf::BPF_PSEUDO_MAP_FD));
    assert_eq!((loads[0].imm, loads[1].imm), (7, 8));
    jumps_in_range(&p);
}

#[test]
fn the_filter_comes_first_and_a_miss_is_counted_and_passed() {
    let prog = {
        let services = ringcap_filter::Services::well_known();
        let mut opts = ringcap_filter::Options::new(ringcap_filter::LinkType::Ethernet, &services);
        opts.snaplen = 262144;
        ringcap_filter::compile("udp port 9999", &opts)
    }
    .unwrap();
    let f = ebpf::translate(&prog).unwrap();
    let p = instructions(MAPS, Some(&f));
    assert_eq!(&p[1..1 + f.insns.len()], &f.insns[..]);
    // right after the filter: a match jumps past the passed count to the redirect
    let jne = 1 + f.insns.len();
    assert_eq!(p[jne].code, op::JMP | op::JNE | op::K);
    let take = jne + 1 + p[jne].off as usize;
    assert_eq!(p[take - 1].code, op::JMP | op::EXIT);
    assert_eq!(p[take - 2].imm, XDP_PASS);
    let loads: Vec<i32> = p.iter().filter(|i| i.code == 0x18).map(|i| i.imm).collect();
    assert_eq!(loads, [9, 7, 8]);
    jumps_in_range(&p);
    let text = listing(&prog).unwrap();
    assert_eq!(text.lines().count(), p.len());
    assert!(text.lines().next().unwrap().ends_with("; xdp"), "{text}");
    assert!(text.contains("; (000) ldh      [12]"), "{text}");
}

/// The program as loaded, run by the kernel (BPF_PROG_TEST_RUN) with no socket in the XSKMAP:
/// both verdicts give XDP_PASS then, and only a frame the filter refused is in `passed`.
#[test]
fn the_kernel_counts_what_the_filter_passes() {
    if !ringcap_netlab::can_run("the_kernel_counts_what_the_filter_passes") {
        return;
    }
    let filter = {
        let services = ringcap_filter::Services::well_known();
        let mut opts = ringcap_filter::Options::new(ringcap_filter::LinkType::Ethernet, &services);
        opts.snaplen = 262144;
        ringcap_filter::compile("udp port 9999", &opts)
    }
    .unwrap();
    let prog = load(1, Some(&filter)).unwrap();
    let passed = prog.passed.as_ref().unwrap();
    let mut hit = ringcap_netlab::udp_frame(1, 0, 80);
    hit[36..38].copy_from_slice(&9999u16.to_be_bytes());
    let miss = ringcap_netlab::udp_frame(2, 0, 80);
    assert!(filter.matches(&hit, hit.len() as u32));
    assert!(!filter.matches(&miss, miss.len() as u32));
    let run = |f: &[u8]| bpf::prog_test_run(prog.prog.as_fd(), f).unwrap();
    assert_eq!(run(&hit), XDP_PASS as u32);
    assert_eq!(super::passed(passed, 0).unwrap(), 0);
    for n in 1..=3 {
        assert_eq!(run(&miss), XDP_PASS as u32);
        assert_eq!(super::passed(passed, 0).unwrap(), n);
    }
    assert_eq!(run(&hit), XDP_PASS as u32);
    assert_eq!(super::passed(passed, 0).unwrap(), 3);
    assert_eq!(redirected(&prog.counters, 0).unwrap(), 0);
}

/// 90 groups of 100 tests on one byte each, `or`ed within a group and the groups `and`ed: a
/// test that matches jumps to the next group, so the verifier walks on with a pending branch
/// for every test behind it, more than its limit of 8192 ("The sequence of 8193 jumps is too
/// complex"). Compiled and refused in well under a second. (A long `or` chain no longer does:
/// its tests jump to the accept far away, through libpcap's long-jump `ja`s, so the pending
/// branch is the chain's continuation and is taken up at once.)
fn refused_expression() -> String {
    let group = |k: usize| {
        let tests: Vec<String> = (0..100).map(|c| format!("ether[{k}] = {c}")).collect();
        format!("({})", tests.join(" or "))
    };
    let groups: Vec<String> = (1..=90).map(group).collect();
    groups.join(" and ")
}

#[test]
fn a_refused_filter_is_one_line_with_the_verifiers_message() {
    if !ringcap_netlab::can_run("a_refused_filter_is_one_line_with_the_verifiers_message") {
        return;
    }
    let expr = refused_expression();
    let filter = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let services = ringcap_filter::Services::well_known();
            let mut opts =
                ringcap_filter::Options::new(ringcap_filter::LinkType::Ethernet, &services);
            opts.snaplen = 262144;
            ringcap_filter::compile(&expr, &opts)
        })
        .unwrap()
        .join()
        .unwrap()
        .unwrap();
    let e = load(1, Some(&filter)).err().expect("refused").to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("jumps is too complex"), "{e}");
    assert!(e.contains("--xdp-filter user"), "{e}");
}
