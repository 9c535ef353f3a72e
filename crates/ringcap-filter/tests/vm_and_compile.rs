//! The interpreter's edge semantics (as the kernel's), the live program's ancillary loads, and
//! compile-time behaviour that the differential test cannot see.

use ringcap_filter::bpf::*;
use ringcap_filter::{Aux, Insn, LinkType, Program, Target};

/// The compiler with a fixed table of service names (tests must not depend on the host).
fn compile(
    expr: &str,
    link: LinkType,
    snaplen: u32,
    target: Target,
    optimize: bool,
) -> Result<Program, ringcap_filter::CompileError> {
    let services = ringcap_filter::Services::well_known();
    let opts = ringcap_filter::Options {
        snaplen,
        target,
        optimize,
        ..ringcap_filter::Options::new(link, &services)
    };
    ringcap_filter::compile(expr, &opts)
}

fn p(insns: &[(u16, u8, u8, u32)]) -> Program {
    Program {
        insns: insns
            .iter()
            .map(|&(code, jt, jf, k)| Insn { code, jt, jf, k })
            .collect(),
    }
}

#[test]
fn out_of_bounds_loads_reject() {
    let prog = p(&[(LD | W | ABS, 0, 0, 10), (RET | K, 0, 0, 99)]);
    assert_eq!(prog.run(&[0; 14], 14, &Aux::default()), 99);
    assert_eq!(prog.run(&[0; 13], 13, &Aux::default()), 0);
    let ind = p(&[
        (LDX | IMM, 0, 0, u32::MAX),
        (LD | B | IND, 0, 0, 2),
        (RET | K, 0, 0, 1),
    ]);
    assert_eq!(ind.run(&[0; 64], 64, &Aux::default()), 0, "X + k overflow");
    let msh = p(&[(LDX | B | MSH, 0, 0, 20), (RET | K, 0, 0, 1)]);
    assert_eq!(msh.run(&[0; 20], 20, &Aux::default()), 0);
}

#[test]
fn division_and_modulo_by_zero_reject() {
    for op in [DIV, MOD] {
        let prog = p(&[
            (LD | IMM, 0, 0, 7),
            (LDX | IMM, 0, 0, 0),
            (ALU | op | X, 0, 0, 0),
            (RET | A, 0, 0, 0),
        ]);
        assert_eq!(prog.run(&[], 0, &Aux::default()), 0);
    }
    let ok = p(&[
        (LD | IMM, 0, 0, 7),
        (ALU | MOD | K, 0, 0, 4),
        (RET | A, 0, 0, 0),
    ]);
    assert_eq!(ok.run(&[], 0, &Aux::default()), 3);
}

#[test]
fn alu_jumps_scratch_and_len() {
    let prog = p(&[
        (LD | W | LEN, 0, 0, 0),  // A = 60
        (ST, 0, 0, 3),            // M[3] = 60
        (ALU | LSH | K, 0, 0, 2), // 240
        (ALU | NEG, 0, 0, 0),     // -240
        (ALU | NEG, 0, 0, 0),     // 240
        (MISC | TAX, 0, 0, 0),
        (LD | MEM, 0, 0, 3),
        (ALU | ADD | X, 0, 0, 0), // 300
        (JMP | JGE | K, 1, 0, 300),
        (RET | K, 0, 0, 0),
        (JMP | JSET | K, 0, 1, 0x4),
        (RET | K, 0, 0, 5),
        (JMP | JA, 0, 0, 1),
        (RET | K, 0, 0, 0),
        (RET | A, 0, 0, 0),
    ]);
    assert_eq!(prog.run(&[0; 60], 60, &Aux::default()), 5); // 300 & 4 != 0
}

#[test]
fn ancillary_loads_answer_from_aux() {
    let live = compile(
        "vlan 10 and inbound",
        LinkType::Ethernet,
        1000,
        Target::LinuxLive,
        true,
    )
    .unwrap();
    let frame = [0u8; 60];
    let tagged = |tci, pkttype| Aux {
        vlan_tci: Some(tci),
        vlan_tpid: 0x8100,
        pkttype,
    };
    assert_eq!(live.run(&frame, 60, &tagged(10, 0)), 1000);
    assert_eq!(live.run(&frame, 60, &tagged((5 << 13) | 10, 0)), 1000);
    assert_eq!(live.run(&frame, 60, &tagged(11, 0)), 0);
    assert_eq!(live.run(&frame, 60, &tagged(10, 4)), 0, "outgoing");
    assert_eq!(live.run(&frame, 60, &Aux::default()), 0, "untagged");
    // the file program has no metadata to test direction on Ethernet
    assert!(compile("inbound", LinkType::Ethernet, 1000, Target::File, true).is_err());
    let d = live.dump_d();
    assert!(
        d.contains("[vlanp]") && d.contains("[vlan_tci]") && d.contains("[type]"),
        "{d}"
    );
}

#[test]
fn accepted_packets_return_the_snaplen() {
    let prog = compile("", LinkType::Ethernet, 1234, Target::File, true).unwrap();
    assert_eq!(prog.insns.len(), 1);
    assert_eq!(prog.run(&[], 0, &Aux::default()), 1234);
}

#[test]
fn errors_point_at_the_place() {
    let e = compile(
        "tcp and port 80 and (",
        LinkType::Ethernet,
        100,
        Target::File,
        true,
    )
    .unwrap_err();
    assert_eq!(e.offset, Some(21));
    let r = e.render("tcp and port 80 and (");
    let lines: Vec<&str> = r.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2].find('^'), Some(2 + 21));
    let e = compile(
        "port 80 and host foo.example",
        LinkType::Ethernet,
        100,
        Target::File,
        true,
    )
    .unwrap_err();
    assert!(e.message.contains("not supported"), "{}", e.message);
    assert_eq!(e.offset, Some(17));
}

#[test]
fn unoptimized_and_optimized_programs_agree() {
    // every byte pattern of a small header space, for a few expressions with shared tests
    for expr in [
        "tcp port 80 or udp port 53",
        "host 10.0.0.1 or 10.0.0.2 and not port 22",
        "vlan and vlan 5 and ip",
    ] {
        let a = compile(expr, LinkType::Ethernet, 9, Target::File, true).unwrap();
        let b = compile(expr, LinkType::Ethernet, 9, Target::File, false).unwrap();
        assert!(a.insns.len() <= b.insns.len(), "{expr}");
        let mut seed = 0x1234_5678u32;
        for _ in 0..20_000 {
            let mut pkt = [0u8; 80];
            for x in pkt.iter_mut() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *x = (seed >> 16) as u8;
            }
            // make the interesting fields likely
            pkt[12..14].copy_from_slice(
                &[[0x08, 0x00], [0x86, 0xdd], [0x81, 0x00], [0x08, 0x06]][(seed % 4) as usize],
            );
            pkt[14] = 0x45;
            pkt[20] = 0;
            pkt[23] = [6, 17, 1][(seed % 3) as usize];
            assert_eq!(a.matches(&pkt, 80), b.matches(&pkt, 80), "{expr}");
        }
    }
}

/// Protocol names come from the table the caller passes in (tcpdump reads the host's
/// /etc/protocols): a name the table gives compiles as its number, aliases included, and one
/// it lacks is refused; the well-known table is the default.
#[test]
fn protocol_names_come_from_the_table_passed_in() {
    let services = ringcap_filter::Services::well_known();
    let table = ringcap_filter::Protocols::parse(
        "# a comment\nip 0 IP\nxyz 99 XYZ-ALIAS # trailing\ngre 47 GRE\nxyz 98\nbad line\n",
    );
    assert_eq!(table.number("XYZ-ALIAS"), Some(99));
    assert_eq!(
        table.number("xyz"),
        Some(99),
        "the first entry of a name wins"
    );
    let opts = ringcap_filter::Options {
        protocols: &table,
        ..ringcap_filter::Options::new(LinkType::Ethernet, &services)
    };
    let by_number = compile(
        "ip proto 99",
        LinkType::Ethernet,
        262144,
        Target::File,
        true,
    )
    .unwrap();
    for name in ["ip proto \\xyz", "ip proto \\XYZ-ALIAS"] {
        assert_eq!(
            ringcap_filter::compile(name, &opts).unwrap(),
            by_number,
            "{name}"
        );
    }
    let err = ringcap_filter::compile("ip proto \\tcp", &opts).unwrap_err();
    assert!(
        err.message.contains("unknown ip proto 'tcp'"),
        "{}",
        err.message
    );
    // the default: the well-known names, no aliases
    let tcp = compile("ip proto 6", LinkType::Ethernet, 262144, Target::File, true).unwrap();
    assert_eq!(
        compile(
            "ip proto \\tcp",
            LinkType::Ethernet,
            262144,
            Target::File,
            true
        )
        .unwrap(),
        tcp
    );
    assert!(compile(
        "ip proto \\xyz",
        LinkType::Ethernet,
        262144,
        Target::File,
        true
    )
    .is_err());
}
