//! Nesting is bounded (ringcap_filter::MAX_NESTING), so no expression overflows the stack:
//! random mixes of every nesting construct, at random depths on both sides of the bound,
//! compile when within it and get the one nesting error beyond it; long flat chains (which
//! nest to the left in the tree) compile at any length. Each compile runs on a thread with a
//! 2 MiB stack (Rust's default for spawned threads), debug build or not.

use proptest::prelude::*;
use ringcap_filter::{compile, CompileError, LinkType, Options, Program, Services, MAX_NESTING};

fn on_small_stack(expr: String, optimize: bool) -> Result<Program, CompileError> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let services = Services::well_known();
            let opts = Options {
                optimize,
                ..Options::new(LinkType::Ethernet, &services)
            };
            compile(&expr, &opts)
        })
        .unwrap()
        .join()
        .expect("the compiler does not panic")
}

/// One level of nesting around a boolean expression.
#[derive(Debug, Clone, Copy)]
enum Boolean {
    Paren,
    Not,
    Bang,
}

/// One level of nesting around an arithmetic expression.
#[derive(Debug, Clone, Copy)]
enum Arith {
    Paren,
    Neg,
    Load,
    /// `7 % (x)`: the right operand of `%` nests one level (plus the parentheses' one); at most
    /// a few, as every one holds a scratch register.
    Mod,
}

/// `bools` around a relation whose left side is `ariths` around `ip[1]`; its nesting depth.
fn build(bools: &[Boolean], ariths: &[Arith]) -> (String, usize) {
    let mut a = String::from("ip[1]");
    let mut depth = 1; // the brackets of ip[1]
    for w in ariths {
        (a, depth) = match w {
            Arith::Paren => (format!("({a})"), depth + 1),
            Arith::Neg => (format!("-{a}"), depth + 1),
            Arith::Load => (format!("ip[{a}]"), depth + 1),
            Arith::Mod => (format!("7 % ({a})"), depth + 2),
        };
    }
    let mut e = format!("{a} != 9");
    for w in bools {
        (e, depth) = match w {
            Boolean::Paren => (format!("({e})"), depth + 1),
            Boolean::Not => (format!("not {e}"), depth + 1),
            Boolean::Bang => (format!("! {e}"), depth + 1),
        };
    }
    (e, depth)
}

fn boolean() -> impl Strategy<Value = Boolean> {
    prop_oneof![
        Just(Boolean::Paren),
        Just(Boolean::Not),
        Just(Boolean::Bang)
    ]
}

fn arith() -> impl Strategy<Value = Arith> {
    prop_oneof![
        8 => Just(Arith::Paren),
        8 => Just(Arith::Neg),
        8 => Just(Arith::Load),
        1 => Just(Arith::Mod),
    ]
}

fn too_deep(e: &CompileError) -> bool {
    e.message.contains("nested too deeply")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn nesting_compiles_within_the_bound_and_errs_beyond(
        bools in proptest::collection::vec(boolean(), 0..2 * MAX_NESTING),
        ariths in proptest::collection::vec(arith(), 0..2 * MAX_NESTING),
        optimize in any::<bool>(),
    ) {
        // keep the `%` levels few: each holds a scratch register (16 in all)
        let mut mods = 0;
        let ariths: Vec<Arith> = ariths
            .into_iter()
            .filter(|a| !matches!(a, Arith::Mod) || { mods += 1; mods <= 8 })
            .collect();
        let (expr, depth) = build(&bools, &ariths);
        let r = on_small_stack(expr, optimize);
        if depth <= MAX_NESTING {
            prop_assert!(r.is_ok(), "depth {depth}: {:?}", r.err());
        } else {
            let e = r.expect_err("beyond the bound");
            prop_assert!(too_deep(&e), "depth {depth}: {}", e.message);
            prop_assert!(e.offset.is_some());
        }
    }

    #[test]
    fn pid_and_pnum_nesting_is_bounded_too(depth in 1usize..2 * MAX_NESTING) {
        // `port 80 or (((443)))`: a parenthesized number after `or`
        let e = format!("port 80 or {}443{}", "(".repeat(depth), ")".repeat(depth));
        let r = on_small_stack(e, true);
        if depth <= MAX_NESTING {
            prop_assert!(r.is_ok(), "depth {depth}: {:?}", r.err());
        } else {
            prop_assert!(too_deep(&r.expect_err("beyond the bound")));
        }
    }
}

#[test]
fn exactly_at_the_bound_and_one_past() {
    for (e, d) in [
        (
            "(".repeat(MAX_NESTING) + "tcp" + &")".repeat(MAX_NESTING),
            MAX_NESTING,
        ),
        ("not ".repeat(MAX_NESTING) + "tcp", MAX_NESTING),
        ("-".repeat(MAX_NESTING - 1) + "ip[0] = 1", MAX_NESTING),
    ] {
        assert!(on_small_stack(e.clone(), true).is_ok(), "depth {d}");
        let deeper = format!("({e})");
        assert!(too_deep(&on_small_stack(deeper, true).unwrap_err()));
    }
}

#[test]
fn the_cases_from_the_issue_are_errors() {
    let parens = "(".repeat(50_000) + "tcp" + &")".repeat(50_000);
    let nots = "not ".repeat(20_000) + "tcp";
    for e in [parens, nots] {
        let err = on_small_stack(e, true).unwrap_err();
        assert!(too_deep(&err), "{}", err.message);
    }
}

#[test]
fn long_flat_chains_compile() {
    // a chain nests to the left in the tree, as deep as it is long: built, walked, optimized
    // and dropped without recursion (libpcap's optimizer, emulated, is quadratic: a shorter
    // chain for it)
    let chain = |n: usize| {
        (0..n)
            .map(|i| format!("ip[{}] = {}", i % 40, i % 7))
            .collect::<Vec<_>>()
            .join(if n.is_multiple_of(2) { " and " } else { " or " })
            .replacen(" and ", " or ", n / 3)
    };
    let ors = vec!["tcp"; 20_000].join(" or ");
    for (e, optimize) in [(ors, false), (chain(20_000), false), (chain(1_501), true)] {
        on_small_stack(e, optimize).expect("a long chain compiles");
    }
}
