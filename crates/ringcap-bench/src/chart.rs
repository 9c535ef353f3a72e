//! `--svg`: the bench as a chart for a report, 800 px wide.
//!
//! One row per mode and tool (their median run). Left panel: captured Mpps on a labelled axis,
//! the offered rate as an outline behind the bar, captured rate and drop % written beside it.
//! Right panel: CPU nanoseconds per captured packet (system and user time stacked), the
//! headline figure of a capture engine. A failed contender has no bars, only FAILED and why.
//! The caption names the machine and the exact command.

use std::fmt::Write as _;

use crate::summary::Row;

/// What the caption says.
pub struct Caption<'a> {
    pub machine: &'a str,
    pub command: &'a str,
    /// `60-byte SYN frames, 3 s per run, median of 3 runs; generator CPU 0, capture CPU 1`
    pub setup: &'a str,
}

/// Colours, named once: the legend and the bars use the same constants.
pub mod colour {
    pub const RINGCAP: &str = "#2b6cb0";
    pub const COMPARED: &str = "#dd7a1f";
    pub const OFFERED: &str = "#7a7a7a";
    pub const USER: &str = "#9dbbe0";
    pub const USER_COMPARED: &str = "#f2c08f";
    pub const DROP: &str = "#c53030";
    pub const TEXT: &str = "#1a1a1a";
    pub const MUTED: &str = "#555555";
    pub const GRID: &str = "#e2e2e2";
}

pub const WIDTH: u32 = 800;
const FONT: &str = "DejaVu Sans, Verdana, Arial, sans-serif";
/// Left edge of the label column's text (right-aligned at LABEL_RIGHT).
const LABEL_RIGHT: f64 = 174.0;
const LEFT: (f64, f64) = (186.0, 500.0);
const RIGHT: (f64, f64) = (584.0, 764.0);
const ROW_PITCH: f64 = 40.0;
const BAR_H: f64 = 20.0;
const TOP: f64 = 126.0;
/// Roughly how wide a character of 12 px DejaVu Sans is (for fitting text, not drawing it).
const CHAR_W_12: f64 = 7.0;

/// The chart of `rows`.
pub fn svg(rows: &[Row], caption: &Caption<'_>) -> String {
    let axis_y = TOP + ROW_PITCH * rows.len().max(1) as f64;
    let caption_lines = caption_lines(caption);
    let height = axis_y + 56.0 + 18.0 * caption_lines.len() as f64 + 12.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="{FONT}" font-size="12" fill="{}">
<rect width="100%" height="100%" fill="white"/>
"#,
        colour::TEXT
    );
    head(&mut s);
    let mpps_max = rows
        .iter()
        .map(|r| r.run.counts.offered_pps().max(r.run.counts.captured_pps()) / 1e6)
        .fold(0.0, f64::max);
    let ns_max = rows
        .iter()
        .filter_map(|r| r.run.counts.cpu_per_pkt())
        .fold(0.0, f64::max);
    // Headroom on the rate axis: the rate and drop % go beside the longest bar.
    let mpps = Axis::new(mpps_max * 1.3, LEFT, 5);
    let ns = Axis::new(ns_max * 1.15, RIGHT, 4);
    mpps.draw(&mut s, axis_y, "Mpps");
    ns.draw(&mut s, axis_y, "ns per packet, lower is better");
    for (i, row) in rows.iter().enumerate() {
        draw_row(&mut s, row, TOP + ROW_PITCH * i as f64, &mpps, &ns);
    }
    let mut y = axis_y + 62.0;
    for line in caption_lines {
        let _ = writeln!(
            s,
            r#"<text x="16" y="{y:.0}" font-size="12" fill="{}">{}</text>"#,
            colour::MUTED,
            esc(&line)
        );
        y += 18.0;
    }
    s.push_str("</svg>\n");
    s
}

/// Title, panel titles and legend.
fn head(s: &mut String) {
    let _ = writeln!(
        s,
        r#"<text x="16" y="30" font-size="18" font-weight="bold">ringcap bench: packets captured and CPU per packet</text>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="94" font-size="13" font-weight="bold">Captured (Mpps) and dropped (%)</text>"#,
        LEFT.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="94" font-size="13" font-weight="bold">CPU per packet (ns)</text>"#,
        RIGHT.0
    );
    // Legend: one swatch per meaning, the same colours as the bars.
    let items: [(&str, &str); 4] = [
        ("ringcap", colour::RINGCAP),
        ("compared tool", colour::COMPARED),
        ("offered to the capture", colour::OFFERED),
        ("CPU: system | user", colour::USER),
    ];
    let mut x = 16.0;
    for (label, c) in items {
        let swatch = match label {
            "offered to the capture" => format!(
                r#"<rect x="{x}" y="50" width="14" height="12" fill="none" stroke="{c}" stroke-width="1.5" stroke-dasharray="3 2"/>"#
            ),
            "CPU: system | user" => format!(
                r#"<rect x="{x}" y="50" width="7" height="12" fill="{}"/><rect x="{}" y="50" width="7" height="12" fill="{c}"/>"#,
                colour::RINGCAP,
                x + 7.0
            ),
            _ => format!(r#"<rect x="{x}" y="50" width="14" height="12" fill="{c}"/>"#),
        };
        let _ = writeln!(
            s,
            r#"{swatch}<text x="{}" y="60" fill="{}">{label}</text>"#,
            x + 19.0,
            colour::MUTED
        );
        x += 19.0 + text_w(label, 12.0) + 22.0;
    }
}

fn draw_row(s: &mut String, row: &Row, y: f64, mpps: &Axis, ns: &Axis) {
    let r = &row.run;
    let c = &r.counts;
    let ours = r.side == crate::run::Side::Ringcap;
    let (fill, light) = if ours {
        (colour::RINGCAP, colour::USER)
    } else {
        (colour::COMPARED, colour::USER_COMPARED)
    };
    let mid = y + BAR_H / 2.0 + 4.0;
    let _ = writeln!(
        s,
        r#"<text x="{LABEL_RIGHT}" y="{mid:.1}" text-anchor="end" font-size="12.5">{}</text>"#,
        esc(&fit(&r.name, LABEL_RIGHT - 14.0, 12.5))
    );
    if let Some(f) = &r.failure {
        let why = format!("FAILED: {}", f.why);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{mid:.1}" fill="{}" font-weight="bold">{}</text>"#,
            LEFT.0 + 4.0,
            colour::DROP,
            esc(&fit(&why, RIGHT.1 - LEFT.0 - 8.0, 12.0))
        );
        return;
    }
    // Offered (outline) behind captured (filled).
    let off = mpps.x(c.offered_pps() / 1e6);
    let cap = mpps.x(c.captured_pps() / 1e6);
    let _ = writeln!(
        s,
        r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{BAR_H}" fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="3 2"/>"#,
        LEFT.0,
        off - LEFT.0,
        colour::OFFERED
    );
    let _ = writeln!(
        s,
        r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{BAR_H}" fill="{fill}"/>"#,
        LEFT.0,
        (cap - LEFT.0).max(0.5)
    );
    let drop = c.drop_pct();
    let value = format!("{:.3}", c.captured_pps() / 1e6);
    let drop_text = format!("drop {drop:.1}%");
    let drop_colour = if drop >= 0.05 {
        colour::DROP
    } else {
        colour::MUTED
    };
    // Beside the bars when there is room, else inside the bar, in white.
    let after = off.max(cap) + 6.0;
    let need = text_w(&value, 12.0) + 8.0 + text_w(&drop_text, 12.0);
    if after + need <= RIGHT.0 - 14.0 {
        let _ = writeln!(
            s,
            r#"<text x="{after:.1}" y="{mid:.1}" font-weight="bold">{value}<tspan dx="8" font-weight="normal" fill="{drop_colour}">{drop_text}</tspan></text>"#
        );
    } else {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{mid:.1}" text-anchor="end" fill="white" font-weight="bold">{value} <tspan font-weight="normal">{drop_text}</tspan></text>"#,
            cap - 6.0
        );
    }
    draw_cpu(s, r, y, mid, ns, (fill, light));
    if row.failed_rounds > 0 {
        let _ = writeln!(
            s,
            r#"<text x="{LABEL_RIGHT}" y="{:.1}" text-anchor="end" font-size="10.5" fill="{}">FAILED in {} of {} runs</text>"#,
            y + BAR_H + 9.0,
            colour::DROP,
            row.failed_rounds,
            row.rounds
        );
    }
}

/// System time (dark) then user time (light), and the total written beside.
fn draw_cpu(s: &mut String, r: &crate::run::Run, y: f64, mid: f64, ns: &Axis, fills: (&str, &str)) {
    let c = &r.counts;
    let (Some(sys), Some(user)) = (c.ns_per_pkt(c.cpu_sys_ns), c.ns_per_pkt(c.cpu_user_ns)) else {
        return;
    };
    let x_sys = ns.x(sys);
    let x_all = ns.x(sys + user);
    let _ = writeln!(
        s,
        r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{BAR_H}" fill="{}"/>"#,
        RIGHT.0,
        (x_sys - RIGHT.0).max(0.5),
        fills.0
    );
    let _ = writeln!(
        s,
        r#"<rect x="{x_sys:.1}" y="{y:.1}" width="{:.1}" height="{BAR_H}" fill="{}"/>"#,
        (x_all - x_sys).max(0.0),
        fills.1
    );
    let total = format!("{:.0}", sys + user);
    if x_all + 6.0 + text_w(&total, 12.0) <= WIDTH as f64 - 4.0 {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{mid:.1}" font-weight="bold">{total}</text>"#,
            x_all + 6.0
        );
    } else {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{mid:.1}" text-anchor="end" fill="white" font-weight="bold">{total}</text>"#,
            x_all - 6.0
        );
    }
}

/// A linear axis from 0 over a panel, with round ticks.
struct Axis {
    max: f64,
    step: f64,
    span: (f64, f64),
}

impl Axis {
    fn new(data_max: f64, span: (f64, f64), ticks: u32) -> Axis {
        let step = nice_step(data_max, ticks);
        let max = (data_max / step).ceil().max(1.0) * step;
        Axis { max, step, span }
    }

    fn x(&self, v: f64) -> f64 {
        let v = if v.is_finite() {
            v.clamp(0.0, self.max)
        } else {
            0.0
        };
        self.span.0 + (self.span.1 - self.span.0) * v / self.max
    }

    fn draw(&self, s: &mut String, axis_y: f64, title: &str) {
        let top = TOP - 10.0;
        let decimals = decimals(self.step);
        let n = (self.max / self.step).round() as usize;
        for i in 0..=n {
            let v = self.step * i as f64;
            let x = self.x(v);
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{axis_y:.1}" stroke="{}" stroke-width="1"/>"#,
                colour::GRID
            );
            let _ = writeln!(
                s,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{}">{v:.decimals$}</text>"#,
                axis_y + 16.0,
                colour::MUTED
            );
        }
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{axis_y:.1}" x2="{}" y2="{axis_y:.1}" stroke="{}" stroke-width="1"/>"#,
            self.span.0,
            self.span.1,
            colour::MUTED
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{}">{}</text>"#,
            (self.span.0 + self.span.1) / 2.0,
            axis_y + 34.0,
            colour::MUTED,
            esc(title)
        );
    }
}

/// A round tick step (1, 2 or 5 × 10^k) giving about `ticks` ticks up to `max`.
pub fn nice_step(max: f64, ticks: u32) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / ticks as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Decimals a tick label needs to show `step` exactly.
fn decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

/// The caption: the setup, the machine, and the command (wrapped to the width).
fn caption_lines(c: &Caption<'_>) -> Vec<String> {
    let mut out = vec![
        format!("Machine: {}", c.machine),
        c.setup.to_string(),
        "Captured and dropped are shares of the frames offered to the capture interface \
         (received + dropped by the interface)."
            .to_string(),
    ];
    let max_chars = ((WIDTH as f64 - 32.0) / CHAR_W_12) as usize;
    out.extend(wrap(&format!("Command: {}", c.command), max_chars));
    out
}

/// Splits `text` into lines of at most `width` characters, at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > width {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// About how wide `text` is at `size` px.
fn text_w(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * CHAR_W_12 * size / 12.0
}

/// `text`, cut with an ellipsis to fit `width` px at `size` px.
fn fit(text: &str, width: f64, size: f64) -> String {
    if text_w(text, size) <= width {
        return text.to_string();
    }
    let keep = ((width / (CHAR_W_12 * size / 12.0)) as usize).saturating_sub(1);
    let mut t: String = text.chars().take(keep).collect();
    t.push('…');
    t
}

/// XML text escaping.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Counts, Failure, Run, Side};

    fn row(name: &str, side: Side, offered: u64, captured: u64, cpu: u64) -> Row {
        Row {
            run: Run {
                name: name.into(),
                side,
                round: 0,
                counts: Counts {
                    seen: offered,
                    captured,
                    drops: offered - captured,
                    secs: 1.0,
                    cpu_user_ns: cpu / 4,
                    cpu_sys_ns: cpu - cpu / 4,
                    ..Counts::default()
                },
                reconciles: true,
                background: 0,
                host: None,
                failure: None,
            },
            rounds: 3,
            failed_rounds: 0,
            all_add_up: true,
            marginal_per_pkt: None,
            marginal_per_offered: None,
        }
    }

    fn caption() -> Caption<'static> {
        Caption {
            machine: "AMD EPYC, 2 CPUs, Linux 6.18",
            command: "ringcap bench --svg a&b.svg",
            setup: "60-byte SYN frames",
        }
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_step(0.7, 4), 0.2);
        assert_eq!(nice_step(10480.0, 4), 5000.0);
        assert_eq!(nice_step(302.0, 4), 100.0);
        assert_eq!(nice_step(4.0, 4), 1.0);
        assert_eq!(nice_step(0.0, 4), 1.0);
        assert_eq!(nice_step(f64::NAN, 4), 1.0);
        assert_eq!((decimals(0.2), decimals(0.05), decimals(5000.0)), (1, 2, 0));
        let a = Axis::new(0.7, LEFT, 4);
        assert_eq!(a.max, 0.8);
        assert_eq!(a.x(0.0), LEFT.0);
        assert_eq!(a.x(0.8), LEFT.1);
        assert_eq!(a.x(9.0), LEFT.1, "clamped");
    }

    #[test]
    fn bars_scale_and_labels_escape() {
        let rows = vec![
            row("ring x1", Side::Ringcap, 600_000, 600_000, 180_000_000),
            row("tcpdump <x>", Side::Compared, 600_000, 300_000, 300_000_000),
        ];
        let svg = svg(&rows, &caption());
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\""));
        assert!(svg.contains("tcpdump &lt;x&gt;"), "{svg}");
        assert!(svg.contains("a&amp;b.svg"));
        assert!(svg.contains("Machine: AMD EPYC, 2 CPUs, Linux 6.18"));
        // The legend's colours are the bars' colours.
        for c in [colour::RINGCAP, colour::COMPARED, colour::OFFERED] {
            assert!(svg.matches(c).count() >= 2, "{c}");
        }
        assert!(svg.contains("drop 50.0%"));
        assert!(
            svg.contains(">300<") && svg.contains(">1000<"),
            "cpu totals"
        );
    }

    #[test]
    fn a_failed_row_has_no_bars_and_says_why() {
        let mut bad = row("netsniff-ng -w tmpfs", Side::Compared, 57_000, 0, 0);
        bad.run.failure = Some(Failure::new("captured nothing of 57000 frames offered"));
        let svg = svg(&[bad], &caption());
        assert!(svg.contains("FAILED: captured nothing of 57000 frames offered"));
        assert_eq!(
            svg.matches(colour::COMPARED).count(),
            1,
            "only the legend swatch"
        );
    }

    #[test]
    fn text_is_wrapped_and_fitted() {
        assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(fit("short", 100.0, 12.0), "short");
        let f = fit("a-very-long-row-name-that-does-not-fit", 70.0, 12.0);
        assert!(f.ends_with('…') && text_w(&f, 12.0) <= 70.0, "{f}");
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
