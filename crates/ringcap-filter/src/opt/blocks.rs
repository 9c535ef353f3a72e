//! The flow graph: the condition tree becomes test blocks, each ending in a jump to another
//! block or to a return; the protochain walk is unrolled here.

use crate::bpf::*;
use crate::cond::{ins, Chain, Cond};
use crate::Insn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Tgt {
    Ret(bool),
    Blk(usize),
}

#[derive(Debug, Clone)]
pub(super) struct Blk {
    pub stmts: Vec<Insn>,
    pub code: u16,
    pub k: u32,
    pub jt: Tgt,
    pub jf: Tgt,
    /// Value numbers of A and X after the statements.
    pub aval: u32,
    pub xval: u32,
    /// Part of a protochain walk: its registers feed the next block, never skip or drop it.
    pub keep: bool,
    /// Reads the packet: skipping it would skip a load that may fail.
    pub loads: bool,
}

impl Blk {
    /// The block may be skipped when both its branches go to the same place: it is not part
    /// of a protochain walk, and reads nothing (a load may fail, and the unoptimized code whose
    /// verdicts ringcap's own optimizer keeps runs every load it reaches).
    pub fn skippable(&self) -> bool {
        !self.keep && !self.loads
    }
}

/// How many extension headers a protochain walk follows at most. RFC 8200's recommended order
/// has at most six extension headers before the upper layer (hop-by-hop, destination options,
/// routing, fragment, AH, destination options); 8 leaves room, and keeps the bare
/// `protochain N` (IPv4 and IPv6 walks) within classic BPF's 255-instruction jump reach. A
/// protocol further down a longer chain is not found (the test is false).
pub const CHAIN_STEPS: usize = 8;

/// IPv6 extension headers libpcap's walk steps over with the length (len + 1) * 8.
const V6_EXT: [u32; 4] = [0, 60, 43, 44];
const IPPROTO_AH: u32 = 51;

impl Chain {
    /// Statements of the first block: A = protocol after the fixed header, X = its length.
    fn first(&self) -> Vec<Insn> {
        if self.v6 {
            vec![ins(LD | B | ABS, self.nl + 6), ins(LDX | IMM, 40)]
        } else {
            vec![ins(LD | B | ABS, self.nl + 9), ins(LDX | B | MSH, self.nl)]
        }
    }
    /// Steps over an extension header at X: X += (P[X+1] + 1) * 8, A = P[X].
    fn ext(&self) -> Vec<Insn> {
        vec![
            ins(LD | B | IND, self.nl + 1),
            ins(ALU | ADD | K, 1),
            ins(ALU | MUL | K, 8),
            ins(ALU | ADD | X, 0),
            ins(ST, 0),
            ins(LD | B | IND, self.nl),
            ins(LDX | MEM, 0),
        ]
    }
    /// Steps over an AH header at X as libpcap 1.x does: X = (P[X+1] + 2) * 4 (libpcap's code
    /// loses the base offset here; kept to give libpcap's verdicts), A = P[X].
    fn ah(&self) -> Vec<Insn> {
        vec![
            ins(LD | B | IND, self.nl + 1),
            ins(ALU | ADD | K, 2),
            ins(ALU | MUL | K, 4),
            ins(ST, 0),
            ins(LD | B | IND, self.nl),
            ins(LDX | MEM, 0),
        ]
    }
}

fn reads_packet(stmts: &[Insn]) -> bool {
    stmts
        .iter()
        .any(|s| matches!(class(s.code), LD | LDX) && matches!(mode(s.code), ABS | IND | MSH))
}

/// Builds every test, even one whose branches meet: unoptimized code runs them all (the
/// optimizers decide what to skip).
#[derive(Default)]
pub(super) struct Builder {
    pub blocks: Vec<Blk>,
}

impl Builder {
    /// The blocks of `c`, going to `t` when it holds and to `f` when not; returns the entry.
    /// Iterative along the left operands, so chains of any length are built without deep
    /// recursion (right operands nest only as deep as the expression's parentheses).
    pub fn gen(&mut self, c: &Cond, t: Tgt, f: Tgt) -> Tgt {
        let (mut c, mut t, mut f) = (c, t, f);
        loop {
            match c {
                Cond::Const(true) => return t,
                Cond::Const(false) => return f,
                Cond::Not(x) => {
                    c = x;
                    std::mem::swap(&mut t, &mut f);
                }
                Cond::And(a, b) => {
                    let eb = self.gen(b, t, f);
                    c = a;
                    t = eb;
                }
                Cond::Or(a, b) => {
                    let eb = self.gen(b, t, f);
                    c = a;
                    f = eb;
                }
                Cond::Test(tt) => return self.push(tt.stmts.clone(), tt.code, tt.k, t, f, false),
                Cond::Chain(ch) => return self.chain(ch, t, f),
            }
        }
    }

    fn push(&mut self, stmts: Vec<Insn>, code: u16, k: u32, jt: Tgt, jf: Tgt, keep: bool) -> Tgt {
        self.blocks.push(Blk {
            loads: reads_packet(&stmts),
            stmts,
            code,
            k,
            jt,
            jf,
            aval: 0,
            xval: 0,
            keep,
        });
        Tgt::Blk(self.blocks.len() - 1)
    }

    /// The unrolled walk, built from its last step back. After each step A holds the protocol
    /// of the current header and X its offset; `rest` is what follows when A is not the
    /// protocol looked for: the tests for the headers the walk steps over.
    fn chain(&mut self, c: &Chain, t: Tgt, f: Tgt) -> Tgt {
        let jeq = JEQ | K;
        let mut rest = f;
        for _ in 0..CHAIN_STEPS {
            let ext = self.push(c.ext(), jeq, c.proto, t, rest, true);
            let ah = self.push(c.ah(), jeq, c.proto, t, rest, true);
            // a header of the protocol looked for was caught by the test before
            let mut r = if c.proto == IPPROTO_AH {
                f
            } else {
                self.push(Vec::new(), jeq, IPPROTO_AH, ah, f, true)
            };
            if c.v6 {
                for e in V6_EXT.iter().rev().filter(|e| **e != c.proto) {
                    r = self.push(Vec::new(), jeq, *e, ext, r, true);
                }
            }
            rest = r;
        }
        self.push(c.first(), jeq, c.proto, t, rest, true)
    }
}

/// Blocks reachable from `entry` in reverse postorder (every jump goes forward in it).
pub(super) fn topo(blocks: &[Blk], entry: Tgt) -> Vec<usize> {
    let mut seen = vec![false; blocks.len()];
    let mut post = Vec::new();
    let mut stack: Vec<(usize, u8)> = Vec::new();
    if let Tgt::Blk(e) = entry {
        stack.push((e, 0));
        seen[e] = true;
    }
    while let Some((b, st)) = stack.pop() {
        if st == 2 {
            post.push(b);
            continue;
        }
        stack.push((b, st + 1));
        let next = if st == 0 { blocks[b].jf } else { blocks[b].jt };
        if let Tgt::Blk(n) = next {
            if !seen[n] {
                seen[n] = true;
                stack.push((n, 0));
            }
        }
    }
    post.reverse();
    post
}
