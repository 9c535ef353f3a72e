//! The strftime conversions tcpdump's `-G` file names use, in local time (as tcpdump does).

use chrono::{DateTime, Datelike, Local, TimeZone, Timelike};

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Expands `%Y %m %d %H %M %S %y %j %e %b %B %a %A %p %s %F %T %z %%` in `pattern` for the
/// local time of `secs` since the epoch. Unknown conversions are kept as written.
pub fn strftime_local(pattern: &str, secs: i64) -> String {
    let t: DateTime<Local> = Local.timestamp_opt(secs, 0).earliest().unwrap_or_else(|| {
        Local
            .timestamp_opt(0, 0)
            .earliest()
            .expect("the epoch exists")
    });
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(k) = chars.next() else {
            out.push('%');
            break;
        };
        use std::fmt::Write;
        let _ = match k {
            'Y' => write!(out, "{:04}", t.year()),
            'y' => write!(out, "{:02}", t.year().rem_euclid(100)),
            'm' => write!(out, "{:02}", t.month()),
            'd' => write!(out, "{:02}", t.day()),
            'e' => write!(out, "{:2}", t.day()),
            'H' => write!(out, "{:02}", t.hour()),
            'I' => write!(out, "{:02}", (t.hour() + 11) % 12 + 1),
            'M' => write!(out, "{:02}", t.minute()),
            'S' => write!(out, "{:02}", t.second()),
            'j' => write!(out, "{:03}", t.ordinal()),
            'p' => write!(out, "{}", if t.hour() < 12 { "AM" } else { "PM" }),
            's' => write!(out, "{secs}"),
            'a' => write!(
                out,
                "{}",
                &DAYS[t.weekday().num_days_from_sunday() as usize][..3]
            ),
            'A' => write!(out, "{}", DAYS[t.weekday().num_days_from_sunday() as usize]),
            'b' | 'h' => write!(out, "{}", &MONTHS[t.month0() as usize][..3]),
            'B' => write!(out, "{}", MONTHS[t.month0() as usize]),
            'F' => write!(out, "{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            'T' => write!(out, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
            'z' => {
                let off = t.offset().local_minus_utc();
                let sign = if off < 0 { '-' } else { '+' };
                let off = off.abs();
                write!(out, "{sign}{:02}{:02}", off / 3600, off % 3600 / 60)
            }
            '%' => write!(out, "%"),
            other => write!(out, "%{other}"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let s = strftime_local("x-%s-%%-%q", 1234);
        assert_eq!(s, "x-1234-%-%q");
        let s = strftime_local("%Y%m%d-%H%M%S", 0);
        assert_eq!(s.len(), 15);
        assert!(s.starts_with("19"), "{s}");
        assert_eq!(strftime_local("%", 0), "%");
    }
}
