//! Small helpers shared by the subcommands.

/// An error chain on one line: "outer: inner: root cause", without repeating a cause that the
/// outer message already ends with.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if out.ends_with(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    out.replace('\n', " ")
}

/// The most seconds a command-line time may give (about 31 years): far beyond any capture, and
/// small enough that a deadline `now + d` and a time in nanoseconds never overflow.
pub const MAX_SECONDS: f64 = 1e9;

/// A time in seconds given as `flag`: finite, above 0 and at most [`MAX_SECONDS`], else a
/// one-line error (a float too large for a `Duration` would panic in the conversion).
pub fn seconds_arg(flag: &str, v: f64) -> anyhow::Result<std::time::Duration> {
    if !(v.is_finite() && v > 0.0 && v <= MAX_SECONDS) {
        // 1e30 as itself, not as 31 digits.
        let shown = if v.abs() >= 1e6 {
            format!("{v:e}")
        } else {
            format!("{v}")
        };
        anyhow::bail!(
            "{flag} {shown}: needs a number of seconds above 0 and at most {MAX_SECONDS:e}"
        );
    }
    Ok(std::time::Duration::from_secs_f64(v))
}

/// A JSON line of `v`. Our JSON values hold only strings, integers, booleans and numbers made
/// finite by [`json_num`], which serde_json always serialises.
pub fn to_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

/// `v` rounded to `decimals` for JSON; None (null) when it is not a finite number (serde_json
/// refuses NaN and infinities, and a made-up 0 would be a lie).
pub fn json_num(v: f64, decimals: i32) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    let scale = 10f64.powi(decimals);
    Some((v * scale).round() / scale).filter(|r| r.is_finite())
}

/// Parses a byte size with an optional binary suffix: `4096`, `64K`, `1M`, `2G`, `1T`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("invalid size {s:?} (e.g. 4096, 64K, 1M, 2G)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {s:?} (e.g. 4096, 64K, 1M, 2G)"))?;
    v.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_are_rounded_or_null() {
        assert_eq!(json_num(1.23456, 3), Some(1.235));
        assert_eq!(json_num(f64::NAN, 3), None);
        assert_eq!(json_num(f64::NEG_INFINITY, 1), None);
        #[derive(serde::Serialize)]
        struct T {
            name: &'static str,
            v: Option<f64>,
        }
        assert_eq!(
            to_json(&T {
                name: "tab\t\"q\"",
                v: json_num(f64::NAN, 1)
            }),
            r#"{"name":"tab\t\"q\"","v":null}"#
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
