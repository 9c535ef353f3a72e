//! Relations and arithmetic (libpcap's `arth`, `narth`, `relop`, `irelop`).
//!
//! Operator grouping follows grammar.y's precedence declarations: `|` lowest, then `&`, `<<`
//! `>>`, `+ -`, `* /`, unary minus; all left-associative. `%` and `^` appear in no
//! declaration, so bison resolves every conflict involving them by shifting: they bind their
//! left operand tighter than anything (even unary minus: `-a % b` is `-(a % b)`) and take
//! everything after them as their right operand. In binding powers: left 100, right 0.

use super::{Parser, R};
use crate::ast::*;
use crate::lexer::Tok;

const UNARY_MINUS: u8 = 11;

/// Tokens that can follow a `)` closing arithmetic, and never a boolean expression.
pub(super) fn is_operator(p: &str) -> bool {
    binop(p).is_some() || relop(p).is_some()
}

fn relop(p: &str) -> Option<RelOp> {
    Some(match p {
        ">" => RelOp::Gt,
        ">=" => RelOp::Ge,
        "<" => RelOp::Lt,
        "<=" => RelOp::Le,
        "=" | "==" => RelOp::Eq,
        "!=" => RelOp::Ne,
        _ => return None,
    })
}

/// The operator, its left and its right binding power.
fn binop(p: &str) -> Option<(ArithOp, u8, u8)> {
    Some(match p {
        "|" => (ArithOp::Or, 1, 2),
        "&" => (ArithOp::And, 3, 4),
        "<<" => (ArithOp::Shl, 5, 6),
        ">>" => (ArithOp::Shr, 5, 6),
        "+" => (ArithOp::Add, 7, 8),
        "-" => (ArithOp::Sub, 7, 8),
        "*" => (ArithOp::Mul, 9, 10),
        "/" => (ArithOp::Div, 9, 10),
        "%" => (ArithOp::Mod, 100, 0),
        "^" => (ArithOp::Xor, 100, 0),
        _ => return None,
    })
}

impl Parser {
    /// `arth relop arth | arth irelop arth`
    pub(super) fn relation(&mut self) -> R<Expr> {
        let left = self.arith(0)?;
        let op = match self.tok() {
            Tok::Punct(p) => relop(p),
            _ => None,
        };
        let Some(op) = op else {
            if matches!(left.kind, ArithKind::Number(_)) {
                return Err(self.syntax(
                    "a bare number needs a qualifier (port, proto, ...) before it, or a relation",
                ));
            }
            return Err(self.syntax("expected a relation (=, !=, <, <=, >, >=)"));
        };
        self.pos += 1;
        let right = self.arith(0)?;
        let span = left.span.to(right.span);
        Ok(Expr {
            kind: ExprKind::Relation(Relation { op, left, right }),
            span,
        })
    }

    /// Operators binding at least `min` to their left operand, from left to right.
    fn arith(&mut self, min: u8) -> R<Arith> {
        let first = self.arith_operand()?;
        let mut rest = Vec::new();
        while let Some((op, left, right)) = match self.tok() {
            Tok::Punct(p) => binop(p),
            _ => None,
        } {
            if left < min {
                break;
            }
            self.pos += 1;
            let operand = if right == 0 {
                // `%` and `^`: everything to the end of the arithmetic, one level deeper
                self.nested(|p| p.arith(0))?
            } else {
                self.arith(right)?
            };
            rest.push((op, operand));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        let span = first.span.to(rest.last().map_or(first.span, |r| r.1.span));
        Ok(Arith {
            kind: ArithKind::Chain {
                first: Box::new(first),
                rest,
            },
            span,
        })
    }

    /// A number, `len`, `proto[index[:size]]`, `-operand` or `( arith )`.
    fn arith_operand(&mut self) -> R<Arith> {
        let start = self.span();
        let kind = match self.tok().clone() {
            Tok::Num(n) => {
                self.pos += 1;
                ArithKind::Number(n)
            }
            Tok::Punct("-") => {
                self.pos += 1;
                let a = self.nested(|p| p.arith(UNARY_MINUS))?;
                ArithKind::Neg(Box::new(a))
            }
            Tok::Punct("(") => {
                let mut a = self.nested(|p| {
                    p.pos += 1;
                    let a = p.arith(0)?;
                    p.expect(")")?;
                    Ok(a)
                })?;
                a.span = self.since(start);
                return Ok(a);
            }
            Tok::Id(w) if w == "len" || w == "length" => {
                self.pos += 1;
                ArithKind::Len
            }
            Tok::Id(w) if matches!(self.tok_at(1), Tok::Punct("[")) => {
                let Some(proto) = super::primitive::pname(&w) else {
                    return Err(self.syntax("expected a protocol before '['"));
                };
                self.pos += 2;
                self.nested(|p| {
                    let index = p.arith(0)?;
                    let mut size = 1;
                    if p.is_punct(":") {
                        p.pos += 1;
                        size = p.num_token()?;
                    }
                    p.expect("]")?;
                    Ok(ArithKind::Load {
                        proto,
                        index: Box::new(index),
                        size,
                    })
                })?
            }
            _ => {
                return Err(self.syntax("expected a number, 'len', a byte access like ip[0] or '('"))
            }
        };
        Ok(Arith {
            kind,
            span: self.since(start),
        })
    }

    fn num_token(&mut self) -> R<u32> {
        match *self.tok() {
            Tok::Num(n) => {
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.syntax("expected a number")),
        }
    }
}
