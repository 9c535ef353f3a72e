//! The condition tree the code generator builds and the optimizer turns into blocks: boolean
//! combinations of tests, each one of libpcap's blocks (statements, then a jump), and the
//! protochain walk, unrolled into blocks later.
//!
//! A chain of `and`/`or` of any length nests to the left, and may be deeper than the stack
//! allows recursion: dropping a tree and walking it are iterative along that spine.

use crate::Insn;
use std::rc::Rc;

/// One test: statements that leave a value in A (and maybe X), then a jump on it. Tests are
/// self-contained as the code generator emits them (each loads what it tests).
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
    /// Only as the neutral element while building (`and` with true, `or` with false): the code
    /// generator emits tests for what libpcap tests, constants included.
    Const(bool),
    Chain(Rc<Chain>),
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

fn take_children(c: &mut Cond, out: &mut Vec<Cond>) {
    let mut take = |b: &mut Box<Cond>| {
        if matches!(**b, Cond::And(..) | Cond::Or(..) | Cond::Not(_)) {
            out.push(std::mem::replace(&mut **b, Cond::Const(true)));
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
