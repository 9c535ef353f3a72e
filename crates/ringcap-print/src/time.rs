//! The timestamp in front of each line, in tcpdump's formats.

use chrono::{Local, Offset, TimeZone};

use crate::{Options, Out};

/// tcpdump's `-t` flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// `12:34:56.789012`, local time of day (no flag).
    #[default]
    Time,
    /// No timestamp (`-t`).
    None,
    /// `1795736400.789012`, seconds since the epoch (`-tt`).
    Epoch,
    /// ` 00:00:01.000500`, the time since the previous packet (`-ttt`).
    Delta,
    /// `2026-11-26 12:34:56.789012`, local date and time (`-tttt`).
    Date,
    /// ` 00:01:02.000500`, the time since the first packet (`-ttttt`).
    SinceFirst,
}

impl TimeFormat {
    /// The format for `-t` given `n` times (0 = none given).
    pub fn from_count(n: u8) -> Option<TimeFormat> {
        Some(match n {
            0 => TimeFormat::Time,
            1 => TimeFormat::None,
            2 => TimeFormat::Epoch,
            3 => TimeFormat::Delta,
            4 => TimeFormat::Date,
            5 => TimeFormat::SinceFirst,
            _ => return None,
        })
    }
}

/// Digits of the fraction of a second: tcpdump prints 6 for a microsecond capture and 9 with
/// `--time-stamp-precision=nano`; a ringcap line shows the capture's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Precision {
    #[default]
    Micro,
    Nano,
}

impl Precision {
    /// Units of the fraction in one second.
    fn per_sec(self) -> u64 {
        match self {
            Precision::Micro => 1_000_000,
            Precision::Nano => 1_000_000_000,
        }
    }

    /// A timestamp in this precision's units (truncated, as libpcap scales it).
    fn units(self, ts_ns: u64) -> u64 {
        match self {
            Precision::Micro => ts_ns / 1000,
            Precision::Nano => ts_ns,
        }
    }
}

/// What the timestamp formats remember: the reference for `-ttt`/`-ttttt`, and the local
/// UTC offset of the last second looked up (one time zone lookup per distinct second).
#[derive(Debug, Default)]
pub(crate) struct Clock {
    /// Nanoseconds.
    reference: Option<u64>,
    offset: Option<(u64, i64)>,
}

impl Clock {
    pub(crate) fn write(&mut self, out: &mut Out<'_>, o: &Options, ts_ns: u64, prec: Precision) {
        let units = prec.units(ts_ns);
        let per = prec.per_sec();
        let (secs, frac) = (units / per, units % per);
        match o.time {
            TimeFormat::None => {}
            TimeFormat::Time | TimeFormat::Date => {
                if secs & 0x8000_0000 != 0 {
                    // tcpdump's limit: times past 2038 in its 32-bit time conversion.
                    out.s("[Error converting time] ");
                    return;
                }
                let local = if o.utc {
                    secs as i64
                } else {
                    secs as i64 + self.utc_offset(secs)
                };
                hmsfrac(out, local, frac, prec, o.time == TimeFormat::Date);
                out.s(" ");
            }
            TimeFormat::Epoch => {
                if secs & 0x8000_0000 != 0 {
                    out.s("[Error converting time] ");
                    return;
                }
                out.f(format_args!("{secs}"));
                fraction(out, frac, prec);
                out.s(" ");
            }
            TimeFormat::Delta | TimeFormat::SinceFirst => {
                // tcpdump treats a zero timestamp as "no reference yet".
                let reference = match self.reference {
                    Some(r) if r != 0 => prec.units(r),
                    _ => {
                        self.reference = Some(ts_ns);
                        units
                    }
                };
                let (sign, d) = if units < reference {
                    ("-", reference - units)
                } else {
                    (" ", units - reference)
                };
                out.s(sign);
                let (ds, df) = (d / per, d % per);
                if ds & 0x8000_0000 != 0 {
                    out.s("[Error converting time] ");
                } else {
                    hmsfrac(out, ds as i64, df, prec, false);
                    out.s(" ");
                }
                if o.time == TimeFormat::Delta {
                    self.reference = Some(ts_ns);
                }
            }
        }
    }

    /// Seconds east of UTC at `secs`, as localtime(3) sees the TZ variable or /etc/localtime.
    fn utc_offset(&mut self, secs: u64) -> i64 {
        if let Some((s, off)) = self.offset {
            if s == secs {
                return off;
            }
        }
        let off = Local
            .timestamp_opt(secs as i64, 0)
            .single()
            .map(|t| i64::from(t.offset().fix().local_minus_utc()))
            .unwrap_or(0);
        self.offset = Some((secs, off));
        off
    }
}

/// `HH:MM:SS.frac` or `YYYY-MM-DD HH:MM:SS.frac` of `secs` seconds (already shifted to the
/// wanted zone) since the epoch.
fn hmsfrac(out: &mut Out<'_>, secs: i64, frac: u64, prec: Precision, date: bool) {
    let day = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    if date {
        let (y, m, d) = civil_from_days(day);
        out.f(format_args!("{y:04}-{m:02}-{d:02} "));
    }
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let two = |out: &mut Out<'_>, v: i64| {
        out.c(char::from(b'0' + (v / 10) as u8));
        out.c(char::from(b'0' + (v % 10) as u8));
    };
    two(out, h);
    out.s(":");
    two(out, mi);
    out.s(":");
    two(out, s);
    fraction(out, frac, prec);
}

fn fraction(out: &mut Out<'_>, frac: u64, prec: Precision) {
    let mut buf = *b".000000000";
    let digits = match prec {
        Precision::Micro => 6,
        Precision::Nano => 9,
    };
    let mut v = frac;
    for i in (1..=digits).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.s(std::str::from_utf8(&buf[..=digits]).unwrap_or(""));
}

/// Year, month, day of a day count since 1970-01-01 (the proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(o: &Options, clock: &mut Clock, ts: u64, prec: Precision) -> String {
        let mut s = String::new();
        let mut out = Out::new(&mut s);
        clock.write(&mut out, o, ts, prec);
        s
    }

    #[test]
    fn formats() {
        let mut o = Options {
            utc: true,
            ..Options::default()
        };
        let mut c = Clock::default();
        let ts = 951_782_400_000_000_001 + 3_723_000_000_000; // 2000-02-29 01:02:03
        assert_eq!(show(&o, &mut c, ts, Precision::Nano), "01:02:03.000000001 ");
        assert_eq!(show(&o, &mut c, ts, Precision::Micro), "01:02:03.000000 ");
        o.time = TimeFormat::Date;
        assert_eq!(
            show(&o, &mut c, ts, Precision::Micro),
            "2000-02-29 01:02:03.000000 "
        );
        o.time = TimeFormat::Epoch;
        assert_eq!(
            show(&o, &mut c, 15_000_123_456, Precision::Micro),
            "15.000123 "
        );
        o.time = TimeFormat::Delta;
        assert_eq!(
            show(&o, &mut c, 15_000_123_456, Precision::Micro),
            " 00:00:00.000000 "
        );
        assert_eq!(
            show(&o, &mut c, 16_500_000_000, Precision::Micro),
            " 00:00:01.499877 "
        );
        assert_eq!(
            show(&o, &mut c, 16_000_000_000, Precision::Nano),
            "-00:00:00.500000000 "
        );
        o.time = TimeFormat::Time;
        assert_eq!(
            show(&o, &mut c, 0x8000_0000 * 1_000_000_000, Precision::Micro),
            "[Error converting time] "
        );
    }
}
