//! The command line as a tcpdump user types it, made into one clap parses, and clap's
//! refusals made into one line that says what to type instead.
//!
//! - **Option order.** tcpdump takes options after the filter expression (`tcpdump -r f tcp
//!   -c 1`). For a subcommand whose last argument is the expression, [`reorder`] moves every
//!   word that is one of the subcommand's options (with its value) before the expression, and
//!   puts `--` between them, so the filter parser only ever sees the expression. A word that
//!   starts with `-` and is not an option of the subcommand stays an option too: clap refuses
//!   it, and [`explain`] says what to use instead.
//! - **tcpdump's habits.** `-n`/`-nn` (no name resolution) are taken and ignored where the
//!   subcommand has no `-n` of its own: ringcap never resolves names.
//! - **Unknown flags** name the ringcap flag that does the same ([`HINTS`]), the subcommand that
//!   has it, or what tcpdump meant by it; a missing required argument names the argument and
//!   what it is for.
//!
//! Everything is read from the clap definitions themselves (`Command` introspection), so a flag
//! added to a subcommand is known here without a second list.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command};

/// One option of a subcommand: its names and whether it takes a value.
struct Opt {
    shorts: Vec<char>,
    longs: Vec<String>,
    /// 0: a flag; 1: a value is required; 2: an optional value (`--stats [json]`), taken from
    /// the next word only if it is one of `choices`.
    value: u8,
    choices: Vec<String>,
}

fn options_of(cmd: &Command) -> Vec<Opt> {
    cmd.get_arguments()
        .filter(|a| !a.is_positional())
        .map(|a| {
            let takes = a.get_action().takes_values();
            let min = a.get_num_args().map_or(1, |r| r.min_values());
            Opt {
                shorts: a.get_short().into_iter().chain(aliases_short(a)).collect(),
                longs: a
                    .get_long()
                    .into_iter()
                    .chain(a.get_all_aliases().unwrap_or_default())
                    .map(str::to_string)
                    .collect(),
                value: match (takes, min) {
                    (false, _) => 0,
                    (true, 0) => 2,
                    (true, _) => 1,
                },
                choices: a
                    .get_possible_values()
                    .iter()
                    .map(|p| p.get_name().to_string())
                    .collect(),
            }
        })
        .chain(std::iter::once(Opt {
            shorts: vec!['h'],
            longs: vec!["help".into()],
            value: 0,
            choices: Vec::new(),
        }))
        .collect()
}

fn aliases_short(a: &Arg) -> Vec<char> {
    a.get_all_short_aliases().unwrap_or_default()
}

/// Whether the subcommand ends with a free-form expression (a trailing positional).
fn has_expression(cmd: &Command) -> bool {
    cmd.get_arguments()
        .any(|a| a.is_positional() && a.is_trailing_var_arg_set())
}

fn has_short(cmd: &Command, c: char) -> bool {
    options_of(cmd).iter().any(|o| o.shorts.contains(&c))
}

/// Rewrites `argv` (program name first) for clap: see the module documentation.
pub fn reorder(root: &Command, argv: Vec<String>) -> Vec<String> {
    let Some(sub_name) = argv.get(1) else {
        return argv;
    };
    let Some(sub) = root.find_subcommand(sub_name) else {
        return argv;
    };
    if !has_expression(sub) {
        return argv;
    }
    let opts = options_of(sub);
    let drop_n = !has_short(sub, 'n');
    let mut options: Vec<String> = argv[..2].to_vec();
    let mut expr: Vec<String> = Vec::new();
    let mut words = argv.into_iter().skip(2).peekable();
    while let Some(w) = words.next() {
        if w == "--" {
            expr.extend(words.by_ref());
            break;
        }
        let is_negative_number = w.len() > 1 && w[1..].starts_with(|c: char| c.is_ascii_digit());
        if !w.starts_with('-') || w == "-" || (!expr.is_empty() && is_negative_number) {
            expr.push(w);
            continue;
        }
        if drop_n && w.len() > 1 && w[1..].chars().all(|c| c == 'n') {
            continue;
        }
        let value = if let Some(long) = w.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            opts.iter()
                .find(|o| o.longs.iter().any(|l| l == name))
                .filter(|_| !attached)
        } else {
            // A cluster of short flags ends at the first one that takes a value; the rest of
            // the word, if any, is that value.
            let mut found = None;
            for (i, c) in w.char_indices().skip(1) {
                match opts.iter().find(|o| o.shorts.contains(&c)) {
                    Some(o) if o.value > 0 => {
                        if i + c.len_utf8() == w.len() {
                            found = Some(o);
                        }
                        break;
                    }
                    Some(_) => continue,
                    None => break,
                }
            }
            found
        };
        options.push(w);
        if let Some(o) = value {
            let next_fits = match words.peek() {
                Some(_) if o.value == 1 => true,
                Some(n) => o.choices.iter().any(|c| c == n),
                None => false,
            };
            if next_fits {
                options.extend(words.next());
            }
        }
    }
    if !expr.is_empty() {
        options.push("--".into());
        options.extend(expr);
    }
    options
}

/// What a tcpdump flag meant, and what ringcap offers instead (a flag of the same subcommand,
/// tried in order), or a note when nothing does the same.
pub struct Hint {
    pub flag: &'static str,
    pub meaning: &'static str,
    pub instead: &'static [&'static str],
    pub note: &'static str,
}

/// tcpdump's flags (and a few long names of ringcap's own flags from other tools) that ringcap
/// spells differently or does not have.
#[rustfmt::skip]
pub const HINTS: &[Hint] = &[
    Hint { flag: "--count", meaning: "print only the number of packets", instead: &["--count-only", "-q"], note: "" },
    Hint { flag: "--snapshot-length", meaning: "the snap length", instead: &["-s"], note: "" },
    Hint { flag: "--buffer-size", meaning: "the capture buffer in KiB", instead: &["-B"], note: "" },
    Hint { flag: "--direction", meaning: "the direction to capture", instead: &["-Q"], note: "" },
    Hint { flag: "--list-interfaces", meaning: "list the interfaces", instead: &["-D"], note: "" },
    Hint { flag: "--list-data-link-types", meaning: "list the data link types", instead: &["-L"], note: "" },
    Hint { flag: "--linktype", meaning: "the data link type", instead: &["-y"], note: "" },
    Hint { flag: "--relinquish-privileges", meaning: "drop root", instead: &["-Z"], note: "" },
    Hint { flag: "--no-promiscuous-mode", meaning: "no promiscuous mode", instead: &["-p"], note: "" },
    Hint { flag: "--nano", meaning: "nanosecond time stamps", instead: &["--time-stamp-precision"], note: "--time-stamp-precision nano (the default)" },
    Hint { flag: "--micro", meaning: "microsecond time stamps", instead: &["--time-stamp-precision"], note: "--time-stamp-precision micro" },
    Hint { flag: "--immediate-mode", meaning: "deliver packets at once", instead: &["--block-timeout-ms"], note: "ring blocks are handed over within --block-timeout-ms (4 ms) anyway" },
    Hint { flag: "-I", meaning: "monitor mode", instead: &[], note: "monitor mode is not supported" },
    Hint { flag: "--monitor-mode", meaning: "monitor mode", instead: &[], note: "monitor mode is not supported" },
    Hint { flag: "-j", meaning: "the time stamp type", instead: &[], note: "ringcap takes the kernel's software time stamps" },
    Hint { flag: "-J", meaning: "list time stamp types", instead: &[], note: "ringcap takes the kernel's software time stamps" },
    Hint { flag: "-K", meaning: "do not verify checksums", instead: &[], note: "ringcap never verifies checksums" },
    Hint { flag: "-d", meaning: "dump the compiled filter", instead: &[], note: "use ringcap compile -d EXPRESSION" },
    Hint { flag: "-O", meaning: "no filter optimizer", instead: &[], note: "ringcap compile -O shows the unoptimized program" },
    Hint { flag: "-V", meaning: "read a list of files", instead: &[], note: "join files first with ringcap merge" },
    Hint { flag: "-z", meaning: "a command run after each rotation", instead: &[], note: "not supported" },
    Hint { flag: "-#", meaning: "number the packets", instead: &[], note: "not supported" },
    Hint { flag: "-E", meaning: "ESP decryption", instead: &[], note: "not supported" },
    Hint { flag: "-M", meaning: "TCP-MD5 secrets", instead: &[], note: "not supported" },
    Hint { flag: "-f", meaning: "foreign IPv4 addresses", instead: &[], note: "not supported" },
    Hint { flag: "-i", meaning: "the interface", instead: &[], note: "" },
    Hint { flag: "-r", meaning: "read a file", instead: &[], note: "" },
    Hint { flag: "-A", meaning: "ASCII dump", instead: &[], note: "" },
    Hint { flag: "-x", meaning: "hex dump", instead: &[], note: "" },
    Hint { flag: "-X", meaning: "hex and ASCII dump", instead: &[], note: "" },
    Hint { flag: "-e", meaning: "link-level header", instead: &[], note: "" },
    Hint { flag: "-v", meaning: "verbose decode", instead: &[], note: "" },
    Hint { flag: "-S", meaning: "absolute sequence numbers", instead: &[], note: "" },
    Hint { flag: "-t", meaning: "time stamp format", instead: &["--epoch"], note: "" },
    Hint { flag: "-l", meaning: "line-buffered output", instead: &[], note: "" },
    Hint { flag: "-U", meaning: "packet-buffered output", instead: &[], note: "" },
];

/// The flag a clap "unexpected argument" error is about, reduced to its name (`--count=3`
/// to `--count`, `-XX` to `-X`, `-tttt` to `-t`).
fn flag_name(word: &str) -> String {
    if let Some(long) = word.strip_prefix("--") {
        return format!("--{}", long.split('=').next().unwrap_or(long));
    }
    match word.chars().nth(1) {
        Some(c) => format!("-{c}"),
        None => word.to_string(),
    }
}

/// Whether `cmd` has the option `flag` (`-s`, `--count-only`).
fn cmd_has(cmd: &Command, flag: &str) -> bool {
    let opts = options_of(cmd);
    if let Some(long) = flag.strip_prefix("--") {
        opts.iter().any(|o| o.longs.iter().any(|l| l == long))
    } else {
        let c = flag.chars().nth(1);
        opts.iter()
            .any(|o| c.is_some_and(|c| o.shorts.contains(&c)))
    }
}

/// What to say about an option `sub` does not know (`word` as typed), or `None` to keep
/// clap's message.
pub fn hint_unknown(root: &Command, sub: Option<&str>, word: &str) -> Option<String> {
    // A stray value (`--json out.json` where --json takes none) is no flag: clap's message
    // names it as typed.
    if !word.starts_with('-') || word == "-" {
        return None;
    }
    let flag = flag_name(word);
    let Some(sub_name) = sub else {
        // An option before any subcommand: say which subcommand has it.
        let owners: Vec<&str> = root
            .get_subcommands()
            .filter(|s| cmd_has(s, &flag))
            .map(|s| s.get_name())
            .collect();
        return Some(match owners.first() {
            Some(o) => format!("{flag} belongs to a subcommand: ringcap {o} {flag} ..."),
            None => format!("unknown option {flag}; ringcap --help lists the subcommands"),
        });
    };
    let sub = root.find_subcommand(sub_name)?;
    let hint = HINTS.iter().find(|h| h.flag == flag);
    if let Some(h) = hint {
        if let Some(alt) = h.instead.iter().find(|a| cmd_has(sub, a)) {
            let with = if h.note.starts_with("--") {
                h.note
            } else {
                alt
            };
            return Some(format!("{sub_name} has no {flag}; use {with}"));
        }
    }
    let elsewhere: Vec<&str> = root
        .get_subcommands()
        .filter(|s| s.get_name() != sub_name && cmd_has(s, &flag))
        .map(|s| s.get_name())
        .collect();
    if let Some(other) = elsewhere.first() {
        return Some(format!(
            "{flag} is an option of `ringcap {other}`, not of `ringcap {sub_name}`"
        ));
    }
    let h = hint?;
    let mut s = format!("{sub_name} has no {flag} (tcpdump's {})", h.meaning);
    if !h.note.is_empty() {
        s += ": ";
        s += h.note;
    }
    Some(s)
}

/// The one-line message for a clap error of `argv` (program name first), or `None` to use
/// clap's own first line.
pub fn explain(root: &Command, argv: &[String], e: &clap::Error) -> Option<String> {
    let sub = argv
        .get(1)
        .filter(|s| root.find_subcommand(s.as_str()).is_some())
        .map(String::as_str);
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let word = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => return None,
            };
            hint_unknown(root, sub, &word)
        }
        ErrorKind::MissingRequiredArgument => {
            let names: Vec<String> = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => v.clone(),
                Some(ContextValue::String(s)) => vec![s.clone()],
                _ => return None,
            };
            let cmd = sub.and_then(|s| root.find_subcommand(s)).unwrap_or(root);
            let what: Vec<String> = names.iter().map(|n| describe(cmd, n)).collect();
            Some(format!(
                "{} needs {}",
                sub.unwrap_or("ringcap"),
                what.join(" and ")
            ))
        }
        // `-i` with nothing after it: name the value it wants, as for a missing argument.
        ErrorKind::InvalidValue => {
            let empty = matches!(e.get(ContextKind::InvalidValue), Some(ContextValue::String(v)) if v.is_empty());
            let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
                return None;
            };
            if !empty {
                return None;
            }
            let cmd = sub.and_then(|s| root.find_subcommand(s)).unwrap_or(root);
            let what = describe(cmd, arg);
            let flag = what.split_whitespace().next().unwrap_or(arg);
            Some(format!("{flag} needs a value: {what}"))
        }
        _ => None,
    }
}

/// An argument clap names as `--interface <IFACE>`, as a user would type it (`-i IFACE`),
/// with the first sentence of its help: `-i IFACE (interface to capture on ...)`.
fn describe(cmd: &Command, shown: &str) -> String {
    let Some(word) = shown.split_whitespace().next() else {
        return shown.to_string();
    };
    let Some(arg) = cmd.get_arguments().find(|a| {
        let short = a.get_short().map(|c| format!("-{c}"));
        let long = a.get_long().map(|l| format!("--{l}"));
        short.as_deref() == Some(word) || long.as_deref() == Some(word)
    }) else {
        return shown.to_string();
    };
    let mut typed = match (arg.get_short(), arg.get_long()) {
        (Some(c), _) => format!("-{c}"),
        (None, Some(l)) => format!("--{l}"),
        (None, None) => word.to_string(),
    };
    if let Some(v) = arg.get_value_names().and_then(|v| v.first()) {
        typed += &format!(" {v}");
    }
    let Some(help) = arg.get_help().map(|h| h.to_string()) else {
        return typed;
    };
    let first = help.split(". ").next().unwrap_or("").trim_end_matches('.');
    let mut c = first.chars();
    match c.next() {
        Some(f) => format!("{typed} ({}{})", f.to_lowercase(), c.as_str()),
        None => typed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn cli() -> Command {
        let mut c = crate::Cli::command();
        c.build();
        c
    }

    fn re(args: &[&str]) -> Vec<String> {
        let mut v = vec!["ringcap".to_string()];
        v.extend(args.iter().map(|s| s.to_string()));
        reorder(&cli(), v)[1..].to_vec()
    }

    #[test]
    fn options_after_the_expression_move_before_it() {
        assert_eq!(
            re(&["read", "-r", "f", "tcp", "-c", "1"]),
            ["read", "-r", "f", "-c", "1", "--", "tcp"]
        );
        assert_eq!(
            re(&["capture", "-i", "rc0", "udp", "-c", "5", "and", "port", "53"]),
            ["capture", "-i", "rc0", "-c", "5", "--", "udp", "and", "port", "53"]
        );
        // Attached values and clusters.
        assert_eq!(
            re(&["capture", "-irc0", "tcp", "-c5", "--duration=2"]),
            ["capture", "-irc0", "-c5", "--duration=2", "--", "tcp"]
        );
        // An unknown flag stays an option (for clap to refuse), never part of the expression.
        assert_eq!(
            re(&["read", "-r", "f", "tcp", "--bogus"]),
            ["read", "-r", "f", "--bogus", "--", "tcp"]
        );
        // tcpdump's -n and -nn are read's own flags now (the decoder's): left for clap.
        assert_eq!(
            re(&["read", "-nn", "-r", "f", "-n"]),
            ["read", "-nn", "-r", "f", "-n"]
        );
        // After --, everything is the expression; a negative number inside it stays there.
        assert_eq!(
            re(&["read", "-r", "f", "len", ">", "-1"]),
            ["read", "-r", "f", "--", "len", ">", "-1"]
        );
        // Subcommands without an expression are left alone.
        assert_eq!(
            re(&["merge", "-w", "a", "b", "-c"]),
            ["merge", "-w", "a", "b", "-c"]
        );
    }

    #[test]
    fn unknown_flags_say_what_to_use() {
        let c = cli();
        // A name ringcap spells otherwise (a long name of tcpdump's that only capture has).
        let h = hint_unknown(&c, Some("capture"), "--nano").unwrap();
        assert_eq!(
            h,
            "capture has no --nano; use --time-stamp-precision nano (the default)"
        );
        let h = hint_unknown(&c, Some("capture"), "--count").unwrap();
        assert_eq!(h, "capture has no --count; use --count-only");
        let h = hint_unknown(&c, Some("capture"), "-r").unwrap();
        assert_eq!(
            h,
            "-r is an option of `ringcap read`, not of `ringcap capture`"
        );
        let h = hint_unknown(&c, Some("read"), "--snapshot-length").unwrap();
        assert_eq!(
            h,
            "--snapshot-length is an option of `ringcap capture`, not of `ringcap read`"
        );
        let h = hint_unknown(&c, Some("capture"), "-I").unwrap();
        assert!(h.contains("monitor mode is not supported"), "{h}");
        let h = hint_unknown(&c, None, "-i").unwrap();
        assert_eq!(h, "-i belongs to a subcommand: ringcap capture -i ...");
        assert!(hint_unknown(&c, Some("capture"), "--no-such-thing").is_none());
        // Not a flag at all: no hint about `-t` for "/tmp/out.json".
        assert!(hint_unknown(&c, Some("bench"), "/tmp/out.json").is_none());
    }

    #[test]
    fn a_missing_value_names_what_it_is() {
        let c = cli();
        let argv: Vec<String> = ["ringcap", "capture", "-i"].map(String::from).to_vec();
        let e = c.clone().try_get_matches_from(&argv).unwrap_err();
        let line = explain(&c, &argv, &e).unwrap();
        assert!(
            line.starts_with("-i needs a value: -i IFACE (interface to capture on"),
            "{line}"
        );
    }
}
