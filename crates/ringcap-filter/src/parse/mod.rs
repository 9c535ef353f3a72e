//! Tokens to the typed syntax tree ([`crate::ast`]), following libpcap's grammar (grammar.y):
//! the boolean level here, primitives and their values in `primitive`, arithmetic in `arith`.
//!
//! Where libpcap's LALR(1) parser decides between two readings by what follows, this parser
//! decides the same way: a `(` that opens arithmetic is told apart by the token after its
//! matching `)` (an arithmetic or relational operator); a bare value after `and`/`or` is read
//! as a value with inherited qualifiers when one parses there and is followed by what may follow
//! a value (`and`, `or`, `)` or the end), else as a term. No reading is tried twice at one place,
//! so parsing stays linear in the length of the expression.
//!
//! Nesting (parentheses, `not`, unary minus, `[ ]`, the right operand of `%` and `^`) is bounded
//! by [`MAX_NESTING`]: deeper expressions get an error, never a stack overflow.

mod arith;
mod primitive;

use crate::ast::*;
use crate::lexer::{lex, Tok, Token};
use crate::CompileError;

/// How deeply constructs may nest: parentheses, `not`/`!`, unary minus, `proto[ ]` and the
/// right operand of `%`/`^` each count one level. libpcap's parser runs out of stack at about
/// 10,000 levels; real filters use a handful. This bound keeps every recursive pass over the
/// tree (the parser, the code generator, block building) within a 2 MiB thread stack (Rust's
/// default for spawned threads) even in an unoptimized debug build, whose frames are large:
/// parentheses, the costliest, overflow such a stack at about 280 levels there.
pub const MAX_NESTING: usize = 200;

type R<T> = Result<T, CompileError>;

/// The qualifiers a bare value after `and`/`or` inherits (libpcap's `struct qual`); `None` is
/// libpcap's `qerr`: there are none, and a bare value there is a syntax error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quals {
    pub proto: Option<Proto>,
    pub dir: Dir,
    pub kind: AddrKind,
}

pub(crate) struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// For each `(` token, the index of its matching `)`.
    closing: Vec<Option<usize>>,
    depth: usize,
    /// Set once the nesting bound is passed: that error ends the parse, nothing is retried.
    too_deep: bool,
}

/// Parses a filter expression. `Ok(None)` for an empty expression (which accepts everything).
pub fn parse(expr: &str) -> R<Option<Expr>> {
    let toks = lex(expr)?;
    let mut p = Parser::new(toks);
    if p.at_end() {
        return Ok(None);
    }
    let (e, _) = p.expr()?;
    if !p.at_end() {
        return Err(p.syntax("expected 'and', 'or' or the end of the expression"));
    }
    Ok(Some(e))
}

fn chain(first: Expr, rest: Vec<(BoolOp, Expr)>) -> Expr {
    if rest.is_empty() {
        return first;
    }
    let span = first.span.to(rest.last().map_or(first.span, |r| r.1.span));
    Expr {
        kind: ExprKind::Chain {
            first: Box::new(first),
            rest,
        },
        span,
    }
}

impl Parser {
    fn new(toks: Vec<Token>) -> Parser {
        let mut closing = vec![None; toks.len()];
        let mut open = Vec::new();
        for (i, t) in toks.iter().enumerate() {
            match t.tok {
                Tok::Punct("(") => open.push(i),
                Tok::Punct(")") => {
                    if let Some(o) = open.pop() {
                        closing[o] = Some(i);
                    }
                }
                _ => {}
            }
        }
        Parser {
            toks,
            pos: 0,
            closing,
            depth: 0,
            too_deep: false,
        }
    }

    // ---- tokens --------------------------------------------------------------------------

    fn tok(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn tok_at(&self, i: usize) -> &Tok {
        &self.toks[(self.pos + i).min(self.toks.len() - 1)].tok
    }
    fn at_end(&self) -> bool {
        matches!(self.tok(), Tok::End)
    }
    fn span(&self) -> Span {
        let t = &self.toks[self.pos];
        Span::new(t.off, t.off + t.text.len())
    }
    /// The span from `start` to the end of the last token taken.
    fn since(&self, start: Span) -> Span {
        let last = &self.toks[self.pos.saturating_sub(1)];
        start.to(Span::new(last.off, last.off + last.text.len()))
    }
    fn word(&self) -> Option<&str> {
        match self.tok() {
            Tok::Id(s) => Some(s),
            _ => None,
        }
    }
    fn is_word(&self, w: &str) -> bool {
        self.word() == Some(w)
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(self.tok(), Tok::Punct(q) if *q == p)
    }
    fn expect(&mut self, p: &str) -> R<()> {
        if self.is_punct(p) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax(&format!("expected '{p}'")))
        }
    }
    fn is_not(&self) -> bool {
        self.is_word("not") || self.is_punct("!")
    }
    /// `and`/`&&` or `or`/`||` next.
    fn bool_op(&self) -> Option<BoolOp> {
        if self.is_word("and") || self.is_punct("&&") {
            Some(BoolOp::And)
        } else if self.is_word("or") || self.is_punct("||") {
            Some(BoolOp::Or)
        } else {
            None
        }
    }

    fn err(&self, msg: impl Into<String>, span: Span) -> CompileError {
        CompileError {
            message: msg.into(),
            offset: Some(span.start),
        }
    }
    fn syntax(&self, what: &str) -> CompileError {
        let t = &self.toks[self.pos];
        let found = if matches!(t.tok, Tok::End) {
            "end of expression".to_string()
        } else {
            format!("'{}'", t.text)
        };
        self.err(format!("syntax error at {found}: {what}"), self.span())
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_NESTING`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        if self.depth >= MAX_NESTING {
            self.too_deep = true;
            return Err(self.err(
                format!("expression nested too deeply (more than {MAX_NESTING} levels)"),
                self.span(),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    // ---- the boolean level ---------------------------------------------------------------

    /// `expr: term | expr and|or term | expr and|or id`. Returns the expression and the
    /// qualifiers a following bare value would inherit.
    fn expr(&mut self) -> R<(Expr, Option<Quals>)> {
        let (first, mut q) = self.term(None)?;
        let mut rest = Vec::new();
        while let Some(op) = self.bool_op() {
            self.pos += 1;
            let (e, q2) = self.term_or_id(q)?;
            rest.push((op, e));
            q = q2;
        }
        Ok((chain(first, rest), q))
    }

    /// After `and`/`or`: a value with the qualifiers `q` when one parses here and ends where a
    /// value may end, else a term.
    fn term_or_id(&mut self, q: Option<Quals>) -> R<(Expr, Option<Quals>)> {
        if let Some(q) = q.filter(|_| self.may_start_id()) {
            let (pos, depth) = (self.pos, self.depth);
            match self.id(q, true) {
                Ok(e) if self.bool_op().is_some() || self.is_punct(")") || self.at_end() => {
                    return Ok((e, Some(q)));
                }
                Err(e) if self.too_deep => return Err(e),
                _ => {
                    self.pos = pos;
                    self.depth = depth;
                }
            }
        }
        self.term(q)
    }

    fn may_start_id(&self) -> bool {
        match self.tok() {
            Tok::Num(_) | Tok::V4(..) | Tok::V6(_) | Tok::Mac(_) | Tok::Esc(_) => true,
            Tok::Punct(p) => matches!(*p, "(" | "!"),
            Tok::Id(s) => s == "not" || !primitive::is_keyword(s),
            Tok::End => false,
        }
    }

    /// `term: rterm | not term`; `q` is what a parenthesized expression passes on (libpcap's
    /// `paren` takes the qualifiers before it).
    fn term(&mut self, q: Option<Quals>) -> R<(Expr, Option<Quals>)> {
        let start = self.span();
        if self.is_not() {
            self.pos += 1;
            let (e, q) = self.nested(|p| p.term(q))?;
            let span = self.since(start);
            return Ok((
                Expr {
                    kind: ExprKind::Not(Box::new(e)),
                    span,
                },
                q,
            ));
        }
        if self.is_punct("(") {
            if self.opens_arith() {
                return Ok((self.relation()?, None));
            }
            let e = self.nested(|p| {
                p.pos += 1;
                let (e, _) = p.expr()?;
                p.expect(")")?;
                Ok(e)
            })?;
            return Ok((e, q));
        }
        self.primitive()
    }

    /// Whether the `(` here opens arithmetic: its matching `)` is followed by an arithmetic or
    /// relational operator, which can never follow a boolean expression.
    fn opens_arith(&self) -> bool {
        let Some(close) = self.closing[self.pos] else {
            return false;
        };
        matches!(&self.toks[close + 1].tok, Tok::Punct(p) if arith::is_operator(p))
    }

    /// `id: nid | pnum | paren pid ')'`, with `pid: nid | qid and|or id` and
    /// `qid: pnum | pid`: values that take the qualifiers `q`.
    fn id(&mut self, q: Quals, implied: bool) -> R<Expr> {
        if !self.is_punct("(") {
            return if matches!(self.tok(), Tok::Num(_)) {
                let (n, span) = self.pnum()?;
                Ok(primitive::qualified(q, Value::Number(n), implied, span))
            } else {
                self.nid(q, implied)
            };
        }
        let start = self.span();
        if self.closing[self.pos].is_some_and(|c| !self.continues_pid(c)) {
            // `( pnum )`: a parenthesized number
            let (n, span) = self.pnum()?;
            return Ok(primitive::qualified(q, Value::Number(n), implied, span));
        }
        self.nested(|p| {
            p.pos += 1;
            let first = if p.is_punct("(") || matches!(p.tok(), Tok::Num(_)) {
                let (n, span) = p.pnum()?;
                primitive::qualified(q, Value::Number(n), implied, span)
            } else {
                p.nid(q, implied)?
            };
            let mut rest = Vec::new();
            while let Some(op) = p.bool_op() {
                p.pos += 1;
                rest.push((op, p.id(q, true)?));
            }
            p.expect(")")?;
            let mut e = chain(first, rest);
            e.span = p.since(start);
            Ok(e)
        })
    }

    /// Whether the parenthesized group opening here (closing at `close`) holds more than one
    /// number: anything but digits and parentheses inside makes it a `pid`.
    fn continues_pid(&self, close: usize) -> bool {
        !self.toks[self.pos..close]
            .iter()
            .all(|t| matches!(t.tok, Tok::Num(_) | Tok::Punct("(") | Tok::Punct(")")))
    }

    /// `nid`: an address, a name, or `not id`.
    fn nid(&mut self, q: Quals, implied: bool) -> R<Expr> {
        let start = self.span();
        if self.is_not() {
            self.pos += 1;
            let e = self.nested(|p| p.id(q, implied))?;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(e)),
                span: self.since(start),
            });
        }
        let value = self.value()?;
        Ok(primitive::qualified(q, value, implied, self.since(start)))
    }

    /// `pnum: NUM | paren pnum ')'`
    fn pnum(&mut self) -> R<(u32, Span)> {
        let start = self.span();
        match *self.tok() {
            Tok::Num(n) => {
                self.pos += 1;
                Ok((n, start))
            }
            Tok::Punct("(") => self.nested(|p| {
                p.pos += 1;
                let (n, _) = p.pnum()?;
                p.expect(")")?;
                Ok((n, p.since(start)))
            }),
            _ => Err(self.syntax("expected a number")),
        }
    }
}
