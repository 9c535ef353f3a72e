//! From the boolean condition tree to a flow graph of test blocks, the optimizer over that graph,
//! and the emission of linear cBPF.
//!
//! Every test block is built self-contained (it loads what it tests), so a block can be skipped or
//! shared freely; the one exception, the protochain walk, hands A, X and scratch memory from block
//! to block, and its blocks are marked `keep` (never skipped or dropped, only merged when equal).
//! The optimizer then: numbers the values each block computes; threads jumps along edges whose
//! outcome is already known from the tests on every path to them; folds tests on constants; drops
//! tests whose branches meet; merges identical blocks; and, on the final layout, removes loads
//! whose value every predecessor already left in A or X. Jumps beyond 255 instructions go through
//! stubs placed between blocks (`ja`, or a copy of a return).

use crate::bpf::*;
use crate::{CompileError, Insn};
use std::collections::HashMap;
use std::rc::Rc;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Test {
    pub stmts: Vec<Insn>,
    /// JMP opcode (op | K or X).
    pub code: u16,
    pub k: u32,
}

/// Port tests that `or` may still merge (`port 80 or 443` tests each port field once against
/// both values, as libpcap's optimizer ends up doing). Expanded before code generation.
#[derive(Debug, Clone)]
pub struct PortSet {
    /// What must hold before the port fields are read, for IPv6 and IPv4.
    pub v6_pre: Cond,
    pub v4_pre: Cond,
    pub nl: u32,
    /// 0 src, 1 dst, 2 src or dst.
    pub dir: u8,
    pub ranges: Vec<(u32, u32)>,
    /// Equal keys mean equal prerequisites and direction.
    pub key: (u8, u8, u32, u32, u32),
}

/// IPv4 host/net tests that `or` may still merge (`host a or b`): each address field is loaded
/// once and compared with every value. Expanded before code generation.
#[derive(Debug, Clone)]
pub struct HostSet {
    /// (prerequisite, offset of the source address, offset of the destination address)
    pub parts: Vec<(Cond, u32, u32)>,
    /// 0 src, 1 dst, 2 src or dst.
    pub dir: u8,
    /// (address, mask)
    pub values: Vec<(u32, u32)>,
    pub key: (u8, u8, u32, u32, u32),
}

impl HostSet {
    pub fn expand(&self) -> Cond {
        let field = |o: u32| {
            self.values.iter().fold(Cond::Const(false), |c, (v, m)| {
                let mut st = vec![Insn {
                    code: LD | W | ABS,
                    jt: 0,
                    jf: 0,
                    k: o,
                }];
                if *m != u32::MAX {
                    st.push(Insn {
                        code: ALU | AND | K,
                        jt: 0,
                        jf: 0,
                        k: *m,
                    });
                }
                c.or(if *m == 0 {
                    Cond::Const(*v == 0)
                } else {
                    Cond::test(st, JEQ | K, v & m)
                })
            })
        };
        self.parts
            .iter()
            .fold(Cond::Const(false), |acc, (pre, so, d)| {
                let f = match self.dir {
                    0 => field(*so),
                    1 => field(*d),
                    _ => field(*so).or(field(*d)),
                };
                acc.or(pre.clone().and(f))
            })
    }
}

/// `ip protochain N` / `ip6 protochain N`: a walk along the header chain, unrolled into a fixed
/// number of steps (classic BPF for the kernel has forward jumps only, so libpcap's loop cannot
/// be used). Unlike every other test, the walk's blocks hand their state (A = the protocol of the
/// current header, X = its offset from the network header) from one block to the next, so the
/// builder marks them `keep`: the optimizer never skips or removes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// IPv6 (hop-by-hop, destination options, routing, fragment and AH headers are followed)
    /// or IPv4 (only AH is followed), as libpcap's gen_protochain.
    pub v6: bool,
    /// Offset of the network-layer header.
    pub nl: u32,
    /// The protocol looked for.
    pub proto: u32,
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

fn ins(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

#[derive(Debug, Clone)]
pub enum Cond {
    Const(bool),
    Chain(Rc<Chain>),
    Ports(Box<PortSet>),
    Hosts(Box<HostSet>),
    Test(Rc<Test>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

impl Cond {
    pub fn test(stmts: Vec<Insn>, code: u16, k: u32) -> Cond {
        Cond::Test(Rc::new(Test { stmts, code, k }))
    }
    pub fn and(self, o: Cond) -> Cond {
        match (&self, &o) {
            (Cond::Const(true), _) => o,
            (_, Cond::Const(true)) => self,
            _ => Cond::And(Box::new(self), Box::new(o)),
        }
    }
    pub fn or(self, o: Cond) -> Cond {
        match (&self, &o) {
            (Cond::Const(false), _) => o,
            (_, Cond::Const(false)) => self,
            _ => Cond::Or(Box::new(self), Box::new(o)),
        }
    }
    /// Whether a protochain walk is part of the expression (libpcap does not optimize those,
    /// and so never calls them "rejects all packets").
    pub fn has_chain(&self) -> bool {
        match self {
            Cond::Chain(_) => true,
            Cond::And(a, b) | Cond::Or(a, b) => a.has_chain() || b.has_chain(),
            Cond::Not(c) => c.has_chain(),
            _ => false,
        }
    }
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Cond {
        match self {
            Cond::Const(b) => Cond::Const(!b),
            Cond::Not(c) => *c,
            c => Cond::Not(Box::new(c)),
        }
    }
}

impl PortSet {
    pub fn expand(&self) -> Cond {
        let range = |stmts: &Vec<Insn>, lo: u32, hi: u32| {
            if lo == hi {
                Cond::test(stmts.clone(), JEQ | K, lo)
            } else {
                Cond::test(stmts.clone(), JGE | K, lo)
                    .and(Cond::test(stmts.clone(), JGT | K, hi).not())
            }
        };
        let field = |stmts: Vec<Insn>| {
            self.ranges.iter().fold(Cond::Const(false), |c, (lo, hi)| {
                c.or(range(&stmts, *lo, *hi))
            })
        };
        let dirs = |f: &dyn Fn(u32) -> Cond| match self.dir {
            0 => f(0),
            1 => f(2),
            _ => f(0).or(f(2)),
        };
        let nl = self.nl;
        let v6 = self.v6_pre.clone().and(dirs(&|o| {
            field(vec![Insn {
                code: LD | H | ABS,
                jt: 0,
                jf: 0,
                k: nl + 40 + o,
            }])
        }));
        let v4 = self.v4_pre.clone().and(dirs(&|o| {
            field(vec![
                Insn {
                    code: LDX | B | MSH,
                    jt: 0,
                    jf: 0,
                    k: nl,
                },
                Insn {
                    code: LD | H | IND,
                    jt: 0,
                    jf: 0,
                    k: nl + o,
                },
            ])
        }));
        v6.or(v4)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Tgt {
    Ret(bool),
    Blk(usize),
}

#[derive(Debug, Clone)]
struct Blk {
    stmts: Vec<Insn>,
    code: u16,
    k: u32,
    jt: Tgt,
    jf: Tgt,
    aval: u32,
    xval: u32,
    /// Part of a protochain walk: its registers feed the next block, never skip or drop it.
    keep: bool,
}

/// Symbolic values, numbered: equal numbers mean equal values for the same packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum V {
    Abs(u16, u32),
    Ind(u16, u32, u32),
    Msh(u32),
    Len,
    Imm(u32),
    Alu(u16, u32, u32),
    Unknown(u32),
}

#[derive(Default)]
struct Vn {
    map: HashMap<V, u32>,
    vals: Vec<V>,
}

impl Vn {
    fn id(&mut self, v: V) -> u32 {
        if let Some(i) = self.map.get(&v) {
            return *i;
        }
        let i = self.vals.len() as u32;
        self.vals.push(v.clone());
        self.map.insert(v, i);
        i
    }
    fn fresh(&mut self) -> u32 {
        let n = self.vals.len() as u32;
        self.id(V::Unknown(n))
    }
    fn imm(&self, i: u32) -> Option<u32> {
        match self.vals.get(i as usize) {
            Some(V::Imm(k)) => Some(*k),
            _ => None,
        }
    }
    /// Simulates `stmts` from register values (a, x); returns the final (a, x) and, per
    /// statement, whether it only reloads a value the register already has.
    fn sim(&mut self, stmts: &[Insn], mut a: u32, mut x: u32) -> (u32, u32, Vec<bool>) {
        let mut mem: [Option<u32>; 16] = [None; 16];
        let mut red = Vec::with_capacity(stmts.len());
        for s in stmts {
            let k = s.k;
            let mut r = false;
            match class(s.code) {
                LD => {
                    let v = match mode(s.code) {
                        IMM => self.id(V::Imm(k)),
                        ABS => self.id(V::Abs(size(s.code), k)),
                        IND => self.id(V::Ind(size(s.code), x, k)),
                        LEN => self.id(V::Len),
                        MEM => match mem[(k & 15) as usize] {
                            Some(v) => v,
                            None => self.fresh(),
                        },
                        _ => self.fresh(),
                    };
                    r = v == a;
                    a = v;
                }
                LDX => {
                    let v = match mode(s.code) {
                        IMM => self.id(V::Imm(k)),
                        MSH => self.id(V::Msh(k)),
                        LEN => self.id(V::Len),
                        MEM => match mem[(k & 15) as usize] {
                            Some(v) => v,
                            None => self.fresh(),
                        },
                        _ => self.fresh(),
                    };
                    r = v == x;
                    x = v;
                }
                ST => mem[(k & 15) as usize] = Some(a),
                STX => mem[(k & 15) as usize] = Some(x),
                ALU => {
                    let o = op(s.code);
                    let bv = if src(s.code) == X {
                        x
                    } else {
                        self.id(V::Imm(k))
                    };
                    let folded = match (self.imm(a), self.imm(bv)) {
                        (Some(p), Some(q)) => match o {
                            ADD => Some(p.wrapping_add(q)),
                            SUB => Some(p.wrapping_sub(q)),
                            MUL => Some(p.wrapping_mul(q)),
                            DIV if q != 0 => Some(p / q),
                            MOD if q != 0 => Some(p % q),
                            AND => Some(p & q),
                            OR => Some(p | q),
                            XOR => Some(p ^ q),
                            LSH => Some(if q < 32 { p << q } else { 0 }),
                            RSH => Some(if q < 32 { p >> q } else { 0 }),
                            NEG => Some(p.wrapping_neg()),
                            _ => None,
                        },
                        _ => None,
                    };
                    a = match folded {
                        Some(c) => self.id(V::Imm(c)),
                        None if o == NEG => self.id(V::Alu(o, a, 0)),
                        None => self.id(V::Alu(o, a, bv)),
                    };
                }
                MISC => {
                    if s.code & 0xf8 == TXA {
                        r = a == x;
                        a = x;
                    } else {
                        r = a == x;
                        x = a;
                    }
                }
                _ => {}
            }
            red.push(r);
        }
        (a, x, red)
    }
}

/// A known test outcome on an edge: the value tested, the jump op (K operand), k, the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fact {
    v: u32,
    op: u16,
    k: u32,
    res: bool,
}

fn eval(op: u16, a: u32, k: u32) -> bool {
    match op {
        JEQ => a == k,
        JGT => a > k,
        JGE => a >= k,
        _ => a & k != 0,
    }
}

/// What a fact implies for the test `op k` on the same value, if anything.
fn implied(f: &Fact, op: u16, k: u32) -> Option<bool> {
    if f.op == op && f.k == k {
        return Some(f.res);
    }
    match (f.op, f.res) {
        (JEQ, true) => Some(eval(op, f.k, k)),
        (JEQ, false) => None,
        (JGT, true) => match op {
            JGT if k <= f.k => Some(true),
            JGE if k <= f.k.saturating_add(1) => Some(true),
            JEQ if k <= f.k => Some(false),
            _ => None,
        },
        (JGT, false) => match op {
            JGT if k >= f.k => Some(false),
            JGE if k > f.k => Some(false),
            JEQ if k > f.k => Some(false),
            _ => None,
        },
        (JGE, true) => match op {
            JGE if k <= f.k => Some(true),
            JGT if k < f.k => Some(true),
            JEQ if k < f.k => Some(false),
            _ => None,
        },
        (JGE, false) => match op {
            JGE if k >= f.k => Some(false),
            JGT if f.k > 0 && k >= f.k - 1 => Some(false),
            JEQ if k >= f.k => Some(false),
            _ => None,
        },
        (JSET, true) => match op {
            JSET if f.k & k == f.k => Some(true),
            _ => None,
        },
        (JSET, false) => match op {
            JSET if k & !f.k == 0 => Some(false),
            JEQ if k & f.k != 0 => Some(false),
            _ => None,
        },
        _ => None,
    }
}

struct Builder {
    blocks: Vec<Blk>,
}

impl Builder {
    fn gen(&mut self, c: &Cond, t: Tgt, f: Tgt) -> Tgt {
        match c {
            Cond::Const(true) => t,
            Cond::Const(false) => f,
            Cond::Ports(p) => self.gen(&p.expand(), t, f),
            Cond::Hosts(h) => self.gen(&h.expand(), t, f),
            Cond::Not(c) => self.gen(c, f, t),
            Cond::And(a, b) => {
                let eb = self.gen(b, t, f);
                self.gen(a, eb, f)
            }
            Cond::Or(a, b) => {
                let eb = self.gen(b, t, f);
                self.gen(a, t, eb)
            }
            Cond::Test(tt) => {
                if t == f {
                    return t;
                }
                self.push(tt.stmts.clone(), tt.code, tt.k, t, f, false)
            }
            Cond::Chain(c) => {
                if t == f {
                    return t;
                }
                self.chain(c, t, f)
            }
        }
    }

    fn push(&mut self, stmts: Vec<Insn>, code: u16, k: u32, jt: Tgt, jf: Tgt, keep: bool) -> Tgt {
        self.blocks.push(Blk {
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

fn topo(blocks: &[Blk], entry: Tgt) -> Vec<usize> {
    // reverse postorder of a DFS; the graph is acyclic (all jumps go forward)
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

pub fn compile_cond(c: &Cond, snaplen: u32, optimize: bool) -> Result<Vec<Insn>, CompileError> {
    let mut b = Builder { blocks: Vec::new() };
    let mut entry = b.gen(c, Tgt::Ret(true), Tgt::Ret(false));
    let mut blocks = b.blocks;
    let mut vn = Vn::default();
    if optimize {
        for bl in blocks.iter_mut() {
            // `and #k; jeq #0` is `jset #k` with the branches swapped
            if bl.code == JEQ | K && bl.k == 0 && !bl.keep {
                if let Some(last) = bl.stmts.last().copied() {
                    if last.code == ALU | AND | K {
                        bl.stmts.pop();
                        bl.code = JSET | K;
                        bl.k = last.k;
                        std::mem::swap(&mut bl.jt, &mut bl.jf);
                    }
                }
            }
        }
        for bl in blocks.iter_mut() {
            let (ua, ux) = (vn.fresh(), vn.fresh());
            let (a, x, _) = vn.sim(&bl.stmts, ua, ux);
            bl.aval = a;
            bl.xval = x;
        }
        for _round in 0..32 {
            let mut changed = false;
            // constant tests
            for bl in blocks.iter_mut() {
                if src(bl.code) == K {
                    if let Some(c) = vn.imm(bl.aval) {
                        let t = if eval(op(bl.code), c, bl.k) {
                            bl.jt
                        } else {
                            bl.jf
                        };
                        bl.jt = t;
                        bl.jf = t;
                    }
                }
            }
            // skip blocks whose branches meet
            let resolve = |blocks: &[Blk], mut t: Tgt| {
                while let Tgt::Blk(n) = t {
                    if blocks[n].jt == blocks[n].jf && !blocks[n].keep {
                        t = blocks[n].jt;
                    } else {
                        break;
                    }
                }
                t
            };
            entry = resolve(&blocks, entry);
            for i in 0..blocks.len() {
                let jt = resolve(&blocks, blocks[i].jt);
                let jf = resolve(&blocks, blocks[i].jf);
                blocks[i].jt = jt;
                blocks[i].jf = jf;
            }
            // jump threading with edge facts
            let order = topo(&blocks, entry);
            let mut facts_in: Vec<Option<Vec<Fact>>> = vec![None; blocks.len()];
            if let Tgt::Blk(e) = entry {
                facts_in[e] = Some(Vec::new());
            }
            for &bi in &order {
                let fin = facts_in[bi].clone().unwrap_or_default();
                for br in [true, false] {
                    let bl = &blocks[bi];
                    let mut facts = fin.clone();
                    if src(bl.code) == K {
                        facts.push(Fact {
                            v: bl.aval,
                            op: op(bl.code),
                            k: bl.k,
                            res: br,
                        });
                    }
                    let mut t = if br { bl.jt } else { bl.jf };
                    let orig = t;
                    while let Tgt::Blk(n) = t {
                        let s = &blocks[n];
                        if src(s.code) != K || s.keep {
                            break;
                        }
                        let r = facts
                            .iter()
                            .filter(|f| f.v == s.aval)
                            .find_map(|f| implied(f, op(s.code), s.k));
                        match r {
                            Some(true) => t = s.jt,
                            Some(false) => t = s.jf,
                            None => break,
                        }
                    }
                    if t != orig {
                        changed = true;
                        if br {
                            blocks[bi].jt = t;
                        } else {
                            blocks[bi].jf = t;
                        }
                    }
                    if let Tgt::Blk(n) = t {
                        facts_in[n] = Some(match facts_in[n].take() {
                            None => facts,
                            Some(old) => old.into_iter().filter(|f| facts.contains(f)).collect(),
                        });
                    }
                }
            }
            // merge identical blocks, bottom-up
            let order = topo(&blocks, entry);
            type Key = (Vec<Insn>, u16, u32, Tgt, Tgt, bool);
            let mut canon: HashMap<Key, usize> = HashMap::new();
            let mut remap: HashMap<usize, usize> = HashMap::new();
            for &bi in order.iter().rev() {
                let m = |t: Tgt| match t {
                    Tgt::Blk(n) => Tgt::Blk(*remap.get(&n).unwrap_or(&n)),
                    r => r,
                };
                let (jt, jf) = (m(blocks[bi].jt), m(blocks[bi].jf));
                blocks[bi].jt = jt;
                blocks[bi].jf = jf;
                let key = (
                    blocks[bi].stmts.clone(),
                    blocks[bi].code,
                    blocks[bi].k,
                    jt,
                    jf,
                    blocks[bi].keep,
                );
                match canon.get(&key) {
                    Some(&c) if c != bi => {
                        remap.insert(bi, c);
                        changed = true;
                    }
                    _ => {
                        canon.insert(key, bi);
                    }
                }
            }
            if let Tgt::Blk(e) = entry {
                entry = Tgt::Blk(*remap.get(&e).unwrap_or(&e));
            }
            if !changed {
                break;
            }
        }
        // a last pass: tests whose branches meet after the final threading
        for _ in 0..blocks.len() + 1 {
            let mut again = false;
            if let Tgt::Blk(e) = entry {
                if blocks[e].jt == blocks[e].jf && !blocks[e].keep {
                    entry = blocks[e].jt;
                    again = true;
                }
            }
            for i in 0..blocks.len() {
                for br in [true, false] {
                    let t = if br { blocks[i].jt } else { blocks[i].jf };
                    if let Tgt::Blk(n) = t {
                        if blocks[n].jt == blocks[n].jf && !blocks[n].keep {
                            let nt = blocks[n].jt;
                            if br {
                                blocks[i].jt = nt;
                            } else {
                                blocks[i].jf = nt;
                            }
                            again = true;
                        }
                    }
                }
            }
            if !again {
                break;
            }
        }
    }
    emit(&blocks, entry, snaplen, optimize, &mut vn)
}

fn emit(
    blocks: &[Blk],
    entry: Tgt,
    snaplen: u32,
    optimize: bool,
    vn: &mut Vn,
) -> Result<Vec<Insn>, CompileError> {
    let ret = |acc: bool| Insn {
        code: RET | K,
        jt: 0,
        jf: 0,
        k: if acc { snaplen } else { 0 },
    };
    let e = match entry {
        Tgt::Ret(acc) => return Ok(vec![ret(acc)]),
        Tgt::Blk(e) => e,
    };
    let order = topo(blocks, Tgt::Blk(e));
    // predecessor lists and the register state on entry to each block
    let mut preds: HashMap<usize, Vec<usize>> = HashMap::new();
    for &b in &order {
        for t in [blocks[b].jt, blocks[b].jf] {
            if let Tgt::Blk(n) = t {
                let p = preds.entry(n).or_default();
                if !p.contains(&b) {
                    p.push(b);
                }
            }
        }
    }
    let mut out_state: HashMap<usize, (u32, u32)> = HashMap::new();
    let mut code_of: HashMap<usize, Vec<Insn>> = HashMap::new();
    for &b in &order {
        let (mut ia, mut ix) = (vn.fresh(), vn.fresh()); // unknown
        if optimize && b != e {
            if let Some(ps) = preds.get(&b) {
                let st: Vec<(u32, u32)> = ps.iter().map(|p| out_state[p]).collect();
                if st.iter().all(|s| s.0 == st[0].0) {
                    ia = st[0].0;
                }
                if st.iter().all(|s| s.1 == st[0].1) {
                    ix = st[0].1;
                }
            }
        }
        let (a, x, red) = vn.sim(&blocks[b].stmts, ia, ix);
        out_state.insert(b, (a, x));
        let mut code: Vec<Insn> = blocks[b]
            .stmts
            .iter()
            .zip(red)
            .filter(|(_, r)| !(optimize && *r))
            .map(|(s, _)| *s)
            .collect();
        code.push(Insn {
            code: JMP | blocks[b].code,
            jt: 0,
            jf: 0,
            k: blocks[b].k,
        });
        code_of.insert(b, code);
    }
    let mut uses = [false, false];
    for &b in &order {
        for t in [blocks[b].jt, blocks[b].jf] {
            if let Tgt::Ret(a) = t {
                uses[a as usize] = true;
            }
        }
    }
    // Layout. Every block ends with a conditional jump (nothing falls through), so stubs can
    // sit between blocks: a copy of a return, or `ja` (32-bit reach) to a block. A stub goes
    // right after a block whose jump would reach beyond 255 instructions (long programs, such as
    // several protochain walks); the layout is redone until every jump reaches.
    let nrets = uses[0] as usize + uses[1] as usize;
    let mut stubs: Vec<Vec<Tgt>> = vec![Vec::new(); order.len() + 1];
    let too_complex = || CompileError {
        message: "expression too complex: a jump exceeds 255 instructions".into(),
        offset: None,
    };
    let (pos, locs) = loop {
        let mut pos: HashMap<usize, usize> = HashMap::new();
        let mut locs: HashMap<Tgt, Vec<usize>> = HashMap::new();
        let mut n = 0;
        for (i, &b) in order.iter().enumerate() {
            for t in &stubs[i] {
                locs.entry(*t).or_default().push(n);
                n += 1;
            }
            pos.insert(b, n);
            locs.entry(Tgt::Blk(b)).or_default().push(n);
            n += code_of[&b].len();
        }
        for acc in [true, false] {
            if uses[acc as usize] {
                locs.entry(Tgt::Ret(acc)).or_default().push(n);
                n += 1;
            }
        }
        // the first jump that does not reach gets a stub as far on as it can reach
        let mut bad = None;
        'find: for (i, &b) in order.iter().enumerate() {
            let here = pos[&b] + code_of[&b].len() - 1;
            for t in [blocks[b].jt, blocks[b].jf] {
                let to = locs[&t].iter().copied().find(|l| *l > here);
                if to.is_none_or(|l| l - here - 1 > 255) {
                    bad = Some((i, here, t));
                    break 'find;
                }
            }
        }
        let Some((i, here, t)) = bad else {
            break (pos, locs);
        };
        let at = |k: usize| {
            if k < order.len() {
                pos[&order[k]]
            } else {
                n - nrets
            }
        };
        let k = (i + 1..=order.len())
            .rev()
            .find(|&k| at(k) - here - 1 <= 255)
            .ok_or_else(too_complex)?;
        if stubs[k].contains(&t) || matches!(t, Tgt::Blk(_)) && k == order.len() {
            return Err(too_complex());
        }
        stubs[k].push(t);
        if stubs.iter().map(Vec::len).sum::<usize>() > 4096 {
            return Err(too_complex());
        }
    };
    let mut prog = Vec::new();
    let push_stubs = |prog: &mut Vec<Insn>, st: &[Tgt]| {
        for t in st {
            prog.push(match *t {
                Tgt::Ret(acc) => ret(acc),
                Tgt::Blk(n) => Insn {
                    code: JMP | JA,
                    jt: 0,
                    jf: 0,
                    k: (pos[&n] - prog.len() - 1) as u32,
                },
            });
        }
    };
    for (i, &b) in order.iter().enumerate() {
        push_stubs(&mut prog, &stubs[i]);
        let mut code = code_of[&b].clone();
        let here = pos[&b] + code.len() - 1;
        let target = |t: Tgt| {
            locs[&t]
                .iter()
                .copied()
                .find(|l| *l > here)
                .expect("every jump was given a place to go")
        };
        let (jt, jf) = (
            target(blocks[b].jt) - here - 1,
            target(blocks[b].jf) - here - 1,
        );
        let last = code.last_mut().expect("a block ends with its jump");
        last.jt = jt as u8;
        last.jf = jf as u8;
        prog.extend(code);
    }
    for acc in [true, false] {
        if uses[acc as usize] {
            prog.push(ret(acc));
        }
    }
    Ok(prog)
}
