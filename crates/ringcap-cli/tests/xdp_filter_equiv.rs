//! The filter in the kernel: every expression of the differential corpus, compiled to classic BPF,
//! translated to eBPF, loaded into the kernel as an XDP program and run with BPF_PROG_TEST_RUN
//! on every Ethernet test frame. The kernel's verdict must equal ringcap's interpreter's and
//! tcpdump's (`tcpdump -r FILE -w OUT EXPR`) on the same frame; programs the kernel refuses are
//! listed. Needs root (loading XDP programs) and tcpdump.
//!
//! At XDP a frame's length is the bytes there are, so the frames are written to the file with
//! their wire length equal to their captured length (the corpus's truncated captures become
//! short frames), and frames under 14 bytes are left out: BPF_PROG_TEST_RUN refuses them for
//! XDP, as a device never hands them to the hook.

mod filter_common;
/// The filter issue's random expression grammar (shared with the filter_random test).
#[path = "filter_random/gen.rs"]
#[allow(dead_code)]
mod gen;

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::Command;

use filter_common::*;
use ringcap_filter::{ebpf, LinkType, Program, Target};
use ringcap_sys::bpf;

const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

/// A whole XDP program around the filter: XDP_TX for a match, XDP_PASS otherwise, two codes
/// the test can tell apart without a socket to redirect to.
fn test_program(f: &ebpf::Filter) -> Vec<bpf::Insn> {
    let mut v: Vec<bpf::Insn> = f
        .insns
        .iter()
        .map(|i| bpf::Insn::new(i.code, i.dst, i.src, i.off, i.imm))
        .collect();
    let jne = ebpf::op::JMP | ebpf::op::JNE | ebpf::op::K;
    let mov = ebpf::op::ALU64 | ebpf::op::MOV | ebpf::op::K;
    let exit = ebpf::op::JMP | ebpf::op::EXIT;
    v.push(bpf::Insn::new(jne, 0, 0, 2, 0));
    v.push(bpf::Insn::new(mov, 0, 0, 0, XDP_PASS as i32));
    v.push(bpf::Insn::new(exit, 0, 0, 0, 0));
    v.push(bpf::Insn::new(mov, 0, 0, 0, XDP_TX as i32));
    v.push(bpf::Insn::new(exit, 0, 0, 0, 0));
    v
}

/// Loads `prog` translated to eBPF; the error is one line (the translator's, or the kernel's
/// errno with the verifier's last message).
fn load(prog: &Program) -> Result<OwnedFd, String> {
    let f = ebpf::translate(prog).map_err(|e| format!("translation: {e}"))?;
    bpf::prog_load_explained(
        bpf::BPF_PROG_TYPE_XDP,
        &test_program(&f),
        c"MIT OR Apache-2.0",
        "ringcap_test",
    )
    .map_err(|r| match r.reason {
        Some(why) => format!("{}: {why}", r.error),
        None => r.error.to_string(),
    })
}

/// The frames `tcpdump [-O] -r FILE -w OUT EXPR` keeps, or its error.
fn tcpdump_keeps(
    file: &Path,
    expr: &str,
    out: &Path,
    optimize: bool,
) -> Result<Vec<usize>, String> {
    let mut cmd = Command::new("tcpdump");
    if !optimize {
        cmd.arg("-O");
    }
    let o = cmd
        .arg("-r")
        .arg(file)
        .arg("-w")
        .arg(out)
        .arg("--")
        .arg(expr)
        .output()
        .expect("run tcpdump");
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    Ok(read_pcap_indices(out))
}

/// Frames as the XDP hook sees them: the bytes there are.
fn xdp_frames() -> (Vec<Pkt>, usize) {
    let all = ethernet_traffic();
    let n = all.len();
    let frames: Vec<Pkt> = all
        .into_iter()
        .filter(|p| p.data.len() >= 14)
        .map(|p| Pkt {
            wirelen: p.data.len() as u32,
            data: p.data,
        })
        .collect();
    let short = n - frames.len();
    (frames, short)
}

/// Beyond the corpus: expressions reaching the translation's rarer paths (A op X, division and
/// modulo by a run-time zero, shifts by 32 or more, constants with the top bit set, loads at
/// offsets past any frame, indirect loads through large X, the frame's length).
const EXTRA: &[&str] = &[
    "ip[0] << ip[8] = 0",
    "ip[0] << (ip[8] - 40) = 0x45000000",
    "ip[0] >> (ip[9] & 7) = 2",
    "ip[8] >> (len - 60) = 0",
    "ip[0] << len = 0",
    "ip[2:2] / ip[1] = 0",
    "ip[2:2] % ip[1] = 0",
    "ip[2:2] / (ip[8] - 64) = 0",
    "ip[2:2] % (ip[8] + 1) = 1",
    "len / (len - 54) = 1",
    "len % (len - 54) = 0",
    "ip[8] * 0x10000000 = 0",
    "len * len > 10000",
    "-len = 0xffffffc4",
    "ip[12:4] > 0x80000000",
    "ip[12:4] & 0x80000000 != 0",
    "ip[2:2] - ip[0] > 0x80000000",
    "ip[0] | ip[1] ^ ip[8] = 5",
    "tcp[tcpflags] & ip[1] = 0",
    "ether[70000] = 0",
    "ether[65534:2] = 0",
    "ether[65533:2] = 0 or ip",
    "ip[ip[0] * 1000] = 0",
    "ip[ip[8]:4] = 0",
    "ether[len - 1] = 0x21",
    "ether[len - 2:2] = 0x6421",
    "ether[len - 4:4] != 0",
    "ether[len:1] = 0",
];

#[derive(Default)]
struct Counts {
    exprs: usize,
    refused_by_both: usize,
    programs: usize,
    verdicts: usize,
    matched: usize,
    kernel_refused: Vec<String>,
    failures: Vec<String>,
    /// Kernel = interpreter, but the compiled program and tcpdump disagree: the compiler's
    /// difference, not the translation's (told apart in the failure message).
    compiler: Vec<String>,
}

impl Counts {
    /// Prints the counts and what the kernel refused, and fails on any difference: between
    /// the kernel and the interpreter (the translation's), or between both and tcpdump run
    /// the same way (the compiler's; 0 since programs equal libpcap's, -O against `tcpdump -O`).
    fn finish(&self, title: &str, frames: &str) {
        eprintln!(
            "xdp_filter_equiv: {title}: {} expressions ({} refused by both compilers), {} XDP \
             programs loaded (optimized and -O), {frames}, {} kernel verdicts compared ({} \
             matches), {} differences, {} programs the kernel refused",
            self.exprs,
            self.refused_by_both,
            self.programs,
            self.verdicts,
            self.matched,
            self.failures.len() + self.compiler.len(),
            self.kernel_refused.len()
        );
        for r in &self.kernel_refused {
            eprintln!("xdp_filter_equiv: kernel refused {r}");
        }
        assert!(
            self.failures.is_empty() && self.compiler.is_empty(),
            "{} differences between the kernel and the interpreter:\n{}\n{} where both differ \
             from tcpdump (the compiler's):\n{}",
            self.failures.len(),
            self.failures.join("\n"),
            self.compiler.len(),
            self.compiler.join("\n")
        );
    }
}

/// tcpdump's verdicts on one expression: optimized, and unoptimized (`-O`).
struct Keeps {
    opt: Result<Vec<usize>, String>,
    unopt: Result<Vec<usize>, String>,
}

impl Keeps {
    fn of(file: &Path, expr: &str, out: &Path) -> Keeps {
        let opt = tcpdump_keeps(file, expr, out, true);
        // -O compiles what the optimizer would refuse ("rejects all packets"): only asked for
        // when the optimized run compiled, as that is when the -O program is compared
        let unopt = match &opt {
            Ok(_) => tcpdump_keeps(file, expr, out, false),
            Err(_) => Ok(Vec::new()),
        };
        Keeps { opt, unopt }
    }
}

fn check_expr(c: &mut Counts, expr: &str, frames: &[Pkt], keeps: Keeps) {
    c.exprs += 1;
    let keep = keeps.opt;
    let ours = compile(expr, LinkType::Ethernet, 262144, Target::File, true);
    let (keep, ours) = match (keep, ours) {
        (Err(_), Err(_)) => {
            c.refused_by_both += 1;
            return;
        }
        (Ok(k), Ok(p)) => (k, p),
        (Err(e), Ok(_)) => {
            let e = e.lines().last().unwrap_or("").to_string();
            return c
                .failures
                .push(format!("{expr:?}: tcpdump refuses ({e}), ringcap compiles"));
        }
        (Ok(_), Err(e)) => {
            return c
                .failures
                .push(format!("{expr:?}: tcpdump compiles, ringcap: {e}"))
        }
    };
    // the optimized program, and the unoptimized one (other shapes: scratch memory, more
    // indirect loads), each against tcpdump's verdicts with the same optimization: they may
    // differ on a short frame, where libpcap's optimizer folded away a load past its end
    // (`net 0.0.0.0/0`: `ld [26]; and #0; jeq #0` is always true, so the load goes)
    let unopt = compile(expr, LinkType::Ethernet, 262144, Target::File, false).unwrap();
    let keep_unopt = match keeps.unopt {
        Ok(k) => k,
        Err(e) => {
            let e = e.lines().last().unwrap_or("").to_string();
            return c.failures.push(format!(
                "{expr:?}: tcpdump -O refuses ({e}), tcpdump compiles"
            ));
        }
    };
    for (what, p, keep) in [("", &ours, &keep), (" (-O)", &unopt, &keep_unopt)] {
        let fd = match load(p) {
            Ok(fd) => fd,
            Err(e) => {
                c.kernel_refused.push(format!("{expr:?}{what}: {e}"));
                continue;
            }
        };
        c.programs += 1;
        for (i, f) in frames.iter().enumerate() {
            let ret = bpf::prog_test_run(fd.as_fd(), &f.data).expect("BPF_PROG_TEST_RUN");
            assert!(
                ret == XDP_PASS || ret == XDP_TX,
                "{expr:?}{what} frame {i}: XDP action {ret}"
            );
            let kernel = ret == XDP_TX;
            let interp = p.matches(&f.data, f.wirelen);
            let tcpdump = keep.contains(&i);
            c.verdicts += 1;
            c.matched += kernel as usize;
            if kernel == interp && kernel != tcpdump {
                c.compiler.push(format!(
                    "{expr:?}{what} frame {i}: kernel and interpreter {kernel}, tcpdump {tcpdump}"
                ));
            } else if kernel != interp || kernel != tcpdump {
                c.failures.push(format!(
                    "{expr:?}{what} frame {i}: kernel {kernel}, interpreter {interp}, tcpdump {tcpdump}"
                ));
            }
        }
    }
}

#[test]
fn xdp_filter_verdicts_equal_interpreter_and_tcpdump() {
    if !ringcap_netlab::can_run("xdp_filter_verdicts_equal_interpreter_and_tcpdump")
        || !ringcap_netlab::tools::have("tcpdump")
    {
        return;
    }
    let dir = ringcap_netlab::tools::tmpdir("xdp-equiv");
    let (frames, short) = xdp_frames();
    let file = dir.join("xdp.pcap");
    let out = dir.join("out.pcap");
    write_pcap(&file, 1, &frames);
    let mut c = Counts::default();
    for expr in EXPRS.iter().chain(EXTRA) {
        let keeps = Keeps::of(&file, expr, &out);
        check_expr(&mut c, expr, &frames, keeps);
    }
    let _ = std::fs::remove_dir_all(&dir);
    c.finish(
        &format!("corpus and {} more", EXTRA.len()),
        &format!(
            "{} frames ({short} shorter than 14 bytes left out)",
            frames.len()
        ),
    );
}

/// The random grammar of the filter issue: expressions nobody here wrote, each compiled,
/// loaded and run in the kernel on every frame, against the interpreter and tcpdump.
/// `XDP_RANDOM_EXPRS` (default 300) and `XDP_RANDOM_SEED` run more or other ones.
#[test]
fn random_grammar_expressions_run_alike_in_the_kernel() {
    if !ringcap_netlab::can_run("random_grammar_expressions_run_alike_in_the_kernel")
        || !ringcap_netlab::tools::have("tcpdump")
    {
        return;
    }
    let n: usize = std::env::var("XDP_RANDOM_EXPRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let seed = std::env::var("XDP_RANDOM_SEED")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0x18_0001);
    let dir = ringcap_netlab::tools::tmpdir("xdp-random");
    let (frames, _) = xdp_frames();
    let file = dir.join("xdp.pcap");
    let out = dir.join("out.pcap");
    write_pcap(&file, 1, &frames);
    let mut g = gen::Gen::new(seed);
    let mut c = Counts::default();
    for _ in 0..n {
        let expr = g.expr().text();
        let keeps = Keeps::of(&file, &expr, &out);
        check_expr(&mut c, &expr, &frames, keeps);
    }
    let _ = std::fs::remove_dir_all(&dir);
    c.finish(
        &format!("random grammar (seed {seed:#x})"),
        &format!("{} frames", frames.len()),
    );
}

/// A deterministic generator (xorshift64*), so a failing program can be found again.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    /// Mostly small offsets (inside the test frames), sometimes ones no frame reaches.
    fn offset(&mut self) -> u32 {
        match self.below(8) {
            0 => self.pick(&[
                65533,
                65534,
                65535,
                65536,
                1 << 20,
                0x7fff_ffff,
                0xffff_efff,
            ]),
            _ => self.below(90) as u32,
        }
    }
    fn constant(&mut self) -> u32 {
        match self.below(4) {
            0 => self.next() as u32,
            1 => self.pick(&[0, 1, 2, 31, 32, 33, 0x8000_0000, 0xffff_ffff]),
            _ => self.below(256) as u32,
        }
    }
}

/// A random classic program: every opcode the interpreter runs (except the ancillary loads),
/// forward jumps within the program, ending in a `ret`.
fn random_program(r: &mut Rng) -> Program {
    use ringcap_filter::bpf::*;
    let n = 2 + r.below(40) as usize;
    let mut insns = Vec::with_capacity(n);
    for pc in 0..n - 1 {
        // a jump may land anywhere up to the final ret
        let room = (n - 2 - pc) as u64;
        let size = r.pick(&[W, H, B]);
        let (code, k, jt, jf) = match r.below(14) {
            0 => (LD | ABS | size, r.offset(), 0, 0),
            1 => (LD | IND | size, r.offset(), 0, 0),
            2 => (LD | r.pick(&[IMM, LEN]), r.constant(), 0, 0),
            3 => (r.pick(&[LD, LDX]) | MEM, r.below(16) as u32, 0, 0),
            4 => (
                LDX | r.pick(&[IMM, LEN]),
                r.pick(&[0, 1, 14, 32, 40, 65535]),
                0,
                0,
            ),
            5 => (LDX | MSH | B, r.offset(), 0, 0),
            6 => (r.pick(&[ST, STX]), r.below(16) as u32, 0, 0),
            7 | 8 => {
                let o = r.pick(&[ADD, SUB, MUL, DIV, MOD, OR, AND, XOR, LSH, RSH, NEG]);
                (ALU | o | r.pick(&[K, X]), r.constant(), 0, 0)
            }
            9 => (JMP | JA, r.below(room + 1) as u32, 0, 0),
            10 | 11 => {
                let o = r.pick(&[JEQ, JGT, JGE, JSET]);
                let t = r.below(room.min(255) + 1) as u8;
                let f = r.below(room.min(255) + 1) as u8;
                (JMP | o | r.pick(&[K, X]), r.constant(), t, f)
            }
            12 => (MISC | r.pick(&[TAX, TXA]), 0, 0, 0),
            _ => (RET | r.pick(&[K, A]), r.pick(&[0, 1, 262144]), 0, 0),
        };
        insns.push(ringcap_filter::Insn { code, jt, jf, k });
    }
    let last = r.pick(&[(RET | K, 0), (RET | K, 262144), (RET | A, 0)]);
    insns.push(ringcap_filter::Insn {
        code: last.0,
        jt: 0,
        jf: 0,
        k: last.1,
    });
    Program { insns }
}

/// Random classic programs, with shapes and opcodes the compiler never emits: the kernel's
/// verdict equals the interpreter's on every frame, and the verifier accepts every program.
#[test]
fn random_classic_programs_run_alike_in_the_kernel() {
    if !ringcap_netlab::can_run("random_classic_programs_run_alike_in_the_kernel") {
        return;
    }
    let (frames, _) = xdp_frames();
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let (programs, mut verdicts, mut matched) = (2000, 0usize, 0usize);
    let mut failures = Vec::new();
    for n in 0..programs {
        let p = random_program(&mut r);
        let fd = match load(&p) {
            Ok(fd) => fd,
            Err(e) => {
                failures.push(format!("program {n} refused: {e}\n{}", p.dump_d()));
                continue;
            }
        };
        for (i, f) in frames.iter().enumerate() {
            let ret = bpf::prog_test_run(fd.as_fd(), &f.data).expect("BPF_PROG_TEST_RUN");
            let (kernel, interp) = (ret == XDP_TX, p.matches(&f.data, f.wirelen));
            verdicts += 1;
            matched += kernel as usize;
            if kernel != interp || (ret != XDP_TX && ret != XDP_PASS) {
                failures.push(format!(
                    "program {n} frame {i}: kernel {ret}, interpreter {interp}\n{}",
                    p.dump_d()
                ));
            }
        }
    }
    eprintln!(
        "xdp_filter_equiv: {programs} random classic programs, {verdicts} kernel verdicts \
         compared ({matched} matches), {} differences",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences, first:\n{}",
        failures.len(),
        failures[..failures.len().min(3)].join("\n")
    );
}

/// An expression the verifier refuses gives one line carrying the verifier's own last message.
/// Here 90 groups of 100 tests on one byte, `or`ed within a group and the groups `and`ed: a
/// test that matches jumps to the next group, so the verifier walks on with a pending branch
/// for every test behind it, more than its limit of 8192. (A plain long `or` chain passes: its
/// tests reach the far accept through libpcap's long-jump `ja`s, so the branch left pending
/// is the chain's continuation, taken up at once.)
#[test]
fn a_program_the_verifier_refuses_says_why_in_one_line() {
    if !ringcap_netlab::can_run("a_program_the_verifier_refuses_says_why_in_one_line") {
        return;
    }
    let group = |k: usize| {
        let tests: Vec<String> = (0..100).map(|c| format!("ether[{k}] = {c}")).collect();
        format!("({})", tests.join(" or "))
    };
    let groups: Vec<String> = (1..=90).map(group).collect();
    let expr = groups.join(" and ");
    // the parser recurses along the expression: room for 9000 terms
    let p = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || compile(&expr, LinkType::Ethernet, 262144, Target::File, true))
        .unwrap()
        .join()
        .unwrap()
        .expect("compiles");
    let err = load(&p).expect_err("the verifier refuses it");
    eprintln!("xdp_filter_equiv: refused: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("jumps is too complex"), "{err}");
}
