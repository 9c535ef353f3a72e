//! The classic → eBPF translation's shape, checked without a kernel: the encoding of
//! `struct bpf_insn`, jumps that stay inside the fragment, no unreachable instruction (the verifier
//! refuses those), long jumps where a 16-bit offset is too short, refused ancillary loads, and
//! the dump. The kernel's verdicts are checked against the interpreter and tcpdump by
//! ringcap-cli's xdp_filter_equiv test (root).

use ringcap_filter::ebpf::{self, op, Insn, Origin};
use ringcap_filter::{LinkType, Options, Program, Services, Target};

/// ringcap's compiler with the well-known names (the translation does not depend on them).
fn compile(
    expr: &str,
    link: LinkType,
    snaplen: u32,
    target: Target,
    optimize: bool,
) -> Result<Program, ringcap_filter::CompileError> {
    let services = Services::well_known();
    let opts = Options {
        snaplen,
        target,
        optimize,
        ..Options::new(link, &services)
    };
    ringcap_filter::compile(expr, &opts)
}

fn prog(expr: &str) -> Program {
    compile(expr, LinkType::Ethernet, 262144, Target::File, true).unwrap()
}

/// Where control can go after instruction `pc`.
fn successors(f: &[Insn], pc: usize) -> Vec<usize> {
    let i = f[pc];
    let class = i.code & 0x07;
    let next = pc + 1;
    if class != op::JMP && class != op::JMP32 {
        return vec![next];
    }
    let to = |off: i64| (pc as i64 + 1 + off) as usize;
    match i.code & 0xf0 {
        op::EXIT => vec![],
        op::JA if class == op::JMP32 => vec![to(i.imm as i64)],
        op::JA => vec![to(i.off as i64)],
        op::CALL => vec![next],
        _ => vec![next, to(i.off as i64)],
    }
}

/// Checks the fragment contract: every jump lands inside it or just past its end, and every
/// instruction is reached.
fn check_shape(f: &ebpf::Filter) {
    let n = f.insns.len();
    assert_eq!(f.origins.len(), n);
    let mut reached = vec![false; n + 1];
    reached[0] = true;
    for pc in 0..n {
        if !reached[pc] {
            panic!("instruction {pc} is unreachable: {}", f.insns[pc].text(pc));
        }
        for s in successors(&f.insns, pc) {
            assert!(s > pc && s <= n, "jump from {pc} to {s} (of {n})");
            reached[s] = true;
        }
    }
    assert!(reached[n], "nothing reaches the end");
}

#[test]
fn encoding_is_struct_bpf_insn() {
    // r6 = r1; if w4 == 0x800 goto +3; w4 = -1
    let b = Insn::new(op::ALU64 | op::MOV | op::X, 6, 1, 0, 0).encode();
    let j = Insn::new(op::JMP32 | op::JEQ | op::K, 4, 0, 3, 0x800).encode();
    let m = Insn::new(op::ALU | op::MOV | op::K, 4, 0, -2, -1).encode();
    if cfg!(target_endian = "little") {
        assert_eq!(b, [0xbf, 0x16, 0, 0, 0, 0, 0, 0]);
        assert_eq!(j, [0x16, 0x04, 3, 0, 0x00, 0x08, 0, 0]);
        assert_eq!(m, [0xb4, 0x04, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
    }
}

#[test]
fn fragments_are_well_formed() {
    for expr in [
        "tcp port 80",
        "ip",
        "1 = 1",
        "vlan 10 and udp",
        "ip[2:2] / ip[1] = 0",
        "ip[0] << ip[8] = 0",
        "tcp[(tcp[12] >> 4) * 4] = 0x70",
        "ip6 protochain 6",
        "len > 100",
        "ether[70000] = 0 or arp",
        "ip and not tcp",
    ] {
        for p in [
            prog(expr),
            compile(expr, LinkType::Ethernet, 262144, Target::File, false).unwrap(),
        ] {
            let f = ebpf::translate(&p).unwrap();
            check_shape(&f);
            assert_eq!(f.origins[0], Origin::Entry, "{expr}");
            assert!(f.origins.contains(&Origin::Verdict), "{expr}");
        }
    }
}

#[test]
fn every_classic_instruction_is_kept_or_threaded() {
    // `tcp port 80` ends in `ret #262144; ret #0`: jumps to them go to the verdict directly,
    // so the fragment carries no instruction from them
    let p = prog("tcp port 80");
    let f = ebpf::translate(&p).unwrap();
    let n = p.insns.len();
    for pc in 0..n - 2 {
        assert!(f.origins.contains(&Origin::Cbpf(pc)), "classic {pc} lost");
    }
    assert!(!f.origins.contains(&Origin::Cbpf(n - 1)));
}

#[test]
fn long_programs_use_long_jumps() {
    // more than 32767 eBPF instructions: conditional jumps to the verdict go over a gotol
    let expr: Vec<String> = (1..=100).map(|i| format!("ip6 protochain {i}")).collect();
    let p = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || prog(&expr.join(" or ")))
        .unwrap()
        .join()
        .unwrap();
    let f = ebpf::translate(&p).unwrap();
    assert!(f.insns.len() > 32767, "{}", f.insns.len());
    assert!(f.insns.iter().any(|i| i.code == op::JMP32 | op::JA));
    check_shape(&f);
}

#[test]
fn ancillary_loads_are_refused() {
    // the live target reads VLAN tags from kernel metadata, which XDP does not have
    let p = compile(
        "vlan 10",
        LinkType::Ethernet,
        262144,
        Target::LinuxLive,
        true,
    )
    .unwrap();
    let e = ebpf::translate(&p).unwrap_err();
    assert!(matches!(e, ebpf::Error::Ancillary { .. }), "{e}");
    assert!(e.to_string().contains("file target"), "{e}");
    assert_eq!(e.to_string().lines().count(), 1);
}

#[test]
fn dump_names_each_instruction_and_its_origin() {
    let p = prog("tcp port 80");
    let f = ebpf::translate(&p).unwrap();
    let d = f.dump(&p);
    assert_eq!(d.lines().count(), f.insns.len());
    let first = d.lines().next().unwrap();
    assert_eq!(
        first,
        format!("(000) {:<34} ; entry", "r2 = *(u32 *)(r1 +0)")
    );
    assert!(d.contains("r1 = r2"), "{d}");
    assert!(d.contains("r4 = be16 r4"), "{d}");
    assert!(d.contains("if w4 != 0x86dd goto"), "{d}");
    assert!(d.contains("; (000) ldh      [12]"), "{d}");
    assert!(d.lines().last().unwrap().ends_with("; verdict"), "{d}");
}
