//! The condition tree the code generator builds and the optimizer turns into blocks: boolean
//! combinations of self-contained tests (each loads what it tests), plus the few forms that
//! stay symbolic until block building (port and host sets that `or` may still merge, the
//! protochain walk, and tests whose outcome libpcap's optimizer only learns late).
//!
//! A chain of `and`/`or` of any length nests to the left, and may be deeper than the stack
//! allows recursion: dropping a tree and walking it are iterative along that spine.

use crate::bpf::*;
use crate::Insn;
use std::rc::Rc;

/// One test: statements that leave a value in A (and maybe X), then a jump on it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Test {
    pub stmts: Vec<Insn>,
    /// JMP opcode (op | K or X).
    pub code: u16,
    pub k: u32,
}

pub fn ins(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
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

#[derive(Debug, Clone)]
pub enum Cond {
    Const(bool),
    /// A test whose outcome libpcap's optimizer learns only in its second pass (when it folds
    /// statements, after it has stopped moving branches): it has this outcome, but the block
    /// stays where it is, which decides whether libpcap calls the filter "rejects all packets".
    Late(bool),
    Chain(Rc<Chain>),
    Ports(Box<PortSet>),
    Hosts(Box<HostSet>),
    Test(Rc<Test>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

impl Drop for Cond {
    /// Iterative, so a chain of a hundred thousand `or`s does not overflow the stack.
    fn drop(&mut self) {
        let mut stack = Vec::new();
        take_children(self, &mut stack);
        while let Some(mut c) = stack.pop() {
            take_children(&mut c, &mut stack);
        }
    }
}

fn take_children(c: &mut Cond, out: &mut Vec<Box<Cond>>) {
    let mut take = |b: &mut Box<Cond>| {
        if matches!(**b, Cond::And(..) | Cond::Or(..) | Cond::Not(_)) {
            out.push(std::mem::replace(b, Box::new(Cond::Const(true))));
        }
    };
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => {
            take(a);
            take(b);
        }
        Cond::Not(a) => take(a),
        _ => {}
    }
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

    /// `self or o`, merging two port (or host) sets with the same prerequisites and direction
    /// into one.
    pub fn or_merge(mut self, o: Cond) -> Cond {
        match (&mut self, &o) {
            (Cond::Ports(x), Cond::Ports(y)) if x.key == y.key => {
                x.ranges.extend(y.ranges.iter().copied());
                self
            }
            (Cond::Hosts(x), Cond::Hosts(y)) if x.key == y.key => {
                x.values.extend(y.values.iter().copied());
                self
            }
            _ => self.or(o),
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(mut self) -> Cond {
        match &mut self {
            Cond::Const(b) => Cond::Const(!*b),
            Cond::Not(c) => std::mem::replace(&mut **c, Cond::Const(true)),
            _ => Cond::Not(Box::new(self)),
        }
    }

    /// `a or b or ...`
    pub fn any_of(v: impl IntoIterator<Item = Cond>) -> Cond {
        v.into_iter().fold(Cond::Const(false), Cond::or)
    }
}

impl HostSet {
    pub fn expand(&self) -> Cond {
        let field = |o: u32| {
            self.values.iter().fold(Cond::Const(false), |c, (v, m)| {
                let mut st = vec![ins(LD | W | ABS, o)];
                if *m != u32::MAX {
                    st.push(ins(ALU | AND | K, *m));
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
        let v6 = self
            .v6_pre
            .clone()
            .and(dirs(&|o| field(vec![ins(LD | H | ABS, nl + 40 + o)])));
        let v4 = self.v4_pre.clone().and(dirs(&|o| {
            field(vec![ins(LDX | B | MSH, nl), ins(LD | H | IND, nl + o)])
        }));
        v6.or(v4)
    }
}
