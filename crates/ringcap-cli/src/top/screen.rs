//! The full-screen view (ratatui over crossterm) and its keys.
//!
//! The terminal is put back (raw mode off, main screen) on every way out: a [`Screen`] guard's
//! drop on return and on error, and ratatui's panic hook on a panic. Raw mode turns Ctrl-C into
//! a key, so it quits like `q`; SIGTERM and SIGHUP end the capture, which ends the view, and so
//! does the terminal going away (end of input).

use std::io::Read;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table};
use ratatui::{DefaultTerminal, Frame};
use ringcap::stats::human_rate;
use ringcap::{EndReason, StopHandle};

use super::talkers::{self, Ranked, SortBy};
use super::{Sampler, View};

/// The terminal in full-screen mode until dropped.
struct Screen(DefaultTerminal);

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        // Also installs a panic hook that restores the terminal first.
        match ratatui::try_init() {
            Ok(t) => Ok(Screen(t)),
            Err(e) => {
                ratatui::restore();
                Err(e)
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// A key that does something.
enum Key {
    Quit,
    Interrupt,
    Sort,
    Pause,
    /// End of input or a read error: the terminal is gone (a closed ssh session, a killed
    /// tmux pane).
    Gone,
}

/// Reads the keys (raw mode: bytes as typed) on a thread of its own and sends them on.
///
/// Not crossterm's event reader: when the terminal goes away its read returns 0 or EIO and
/// the reader loops on it forever, at full CPU, never returning to check for the end. Here
/// the end of input is a key of its own, and the view ends on it.
fn read_keys() -> std::io::Result<Receiver<Key>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("top-keys".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 64];
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) => 0,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => 0,
                };
                let keys = &buf[..n];
                let sent = match keys {
                    [] => {
                        let _ = tx.send(Key::Gone);
                        return;
                    }
                    // Esc alone quits; an escape sequence (an arrow key, F1) does nothing.
                    [0x1b] => tx.send(Key::Quit),
                    [0x1b, ..] => Ok(()),
                    _ => keys
                        .iter()
                        .filter_map(|b| match b {
                            b'q' | b'Q' => Some(Key::Quit),
                            0x03 => Some(Key::Interrupt),
                            b's' | b'S' => Some(Key::Sort),
                            b'p' | b'P' => Some(Key::Pause),
                            _ => None,
                        })
                        .try_for_each(|k| tx.send(k)),
                };
                if sent.is_err() {
                    // The view has ended.
                    return;
                }
            }
        })?;
    Ok(rx)
}

/// What the keys changed.
struct Ui {
    sort: SortBy,
    paused: bool,
    rows: usize,
}

pub(super) fn run(
    sampler: &mut Sampler,
    stop: &StopHandle,
    ended: &dyn Fn() -> bool,
    sort: SortBy,
    rows: usize,
) -> anyhow::Result<()> {
    let mut screen = Screen::enter()?;
    let keys = read_keys()?;
    let mut ui = Ui {
        sort,
        paused: false,
        rows,
    };
    let mut shown: Option<View> = None;
    let mut next = Instant::now() + Duration::from_secs(1);
    screen.0.draw(|f| draw(f, shown.as_ref(), &ui))?;
    while !ended() {
        let now = Instant::now();
        if now >= next {
            next += Duration::from_secs(1);
            // Counting goes on while paused; only the screen keeps the old numbers.
            let v = sampler.sample();
            if !ui.paused {
                shown = Some(v);
            }
            screen.0.draw(|f| draw(f, shown.as_ref(), &ui))?;
            continue;
        }
        let wait = (next - now).min(Duration::from_millis(100));
        let key = match keys.recv_timeout(wait) {
            Ok(k) => k,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => Key::Gone,
        };
        match key {
            Key::Quit => {
                stop.stop(EndReason::Stopped("q pressed".into()));
                break;
            }
            Key::Interrupt => {
                stop.stop(EndReason::Signal(2));
                break;
            }
            Key::Gone => {
                stop.stop(EndReason::Stopped("the terminal closed".into()));
                break;
            }
            Key::Sort => {
                ui.sort = match ui.sort {
                    SortBy::Packets => SortBy::Bytes,
                    SortBy::Bytes => SortBy::Packets,
                }
            }
            Key::Pause => ui.paused = !ui.paused,
        }
        screen.0.draw(|f| draw(f, shown.as_ref(), &ui))?;
    }
    Ok(())
}

fn bits(v: f64) -> String {
    format!("{}bit/s", human_rate(v))
}

fn draw(f: &mut Frame, v: Option<&View>, ui: &Ui) {
    let workers = v.map_or(1, |v| v.workers.len()) as u16;
    let [head, wk, ifc, talk, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(workers + 3),
        Constraint::Length(3),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let sort = match ui.sort {
        SortBy::Packets => "pps",
        SortBy::Bytes => "bps",
    };
    let Some(v) = v else {
        f.render_widget(
            Paragraph::new("ringcap top: counting the first second…"),
            head,
        );
        return;
    };
    let title = format!(
        "ringcap top  {} ({})  {:.0}s  {}pps  {}  received {}  dropped {}  sort {sort}{}",
        v.iface,
        v.mode,
        v.elapsed,
        human_rate(v.pps()),
        bits(v.bps()),
        v.received,
        v.drops,
        if ui.paused { "  PAUSED" } else { "" }
    );
    f.render_widget(
        Paragraph::new(title).style(Style::default().add_modifier(Modifier::BOLD)),
        head,
    );
    draw_workers(f, v, wk);
    draw_interface(f, v, ifc);
    let [hosts, flows] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(talk);
    let [src, dst] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(hosts);
    let secs = v.interval.max(1e-3);
    let list = |l: &[Ranked]| talkers::top(l, ui.sort, ui.rows);
    draw_talkers(f, "Source hosts", &list(&v.talkers.src), secs, src);
    draw_talkers(f, "Destination hosts", &list(&v.talkers.dst), secs, dst);
    draw_talkers(f, "Flows", &list(&v.talkers.flows), secs, flows);
    let other = format!(
        "q quit   s sort pps/bps   p pause   (talkers: the last second; not IP or past the tables: {}pps)",
        human_rate(v.talkers.other.0 as f64 / secs)
    );
    f.render_widget(Paragraph::new(Line::from(other)), keys);
}

/// Workers: a table on the left, a minute of packets per second as a sparkline per row.
fn draw_workers(f: &mut Frame, v: &View, area: Rect) {
    let block = Block::default().borders(Borders::ALL).title("Workers");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [table_area, spark_area] =
        Layout::horizontal([Constraint::Length(66), Constraint::Min(10)]).areas(inner);
    let header = Row::new([
        "worker",
        "cpu",
        "pps",
        "bps",
        "drops",
        "+drops",
        "ring fill",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let rows = v.workers.iter().map(|w| {
        Row::new([
            Cell::from(w.worker.to_string()),
            Cell::from(w.cpu.map(|c| c.to_string()).unwrap_or_else(|| "-".into())),
            Cell::from(human_rate(w.pps)),
            Cell::from(bits(w.bps)),
            Cell::from(w.drops.to_string()),
            Cell::from(w.new_drops.to_string()),
            Cell::from(super::fill_text(w.fill)),
        ])
    });
    let widths = [
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Length(9),
        Constraint::Length(13),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(9),
    ];
    f.render_widget(Table::new(rows, widths).header(header), table_area);
    f.render_widget(Paragraph::new("pps, last minute"), spark_area);
    // One scale for every worker, so their rows compare at a glance.
    let max = v
        .workers
        .iter()
        .flat_map(|w| w.history.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    for (i, w) in v.workers.iter().enumerate() {
        let y = spark_area.y + 1 + i as u16;
        if y >= spark_area.y + spark_area.height {
            break;
        }
        let r = Rect::new(spark_area.x, y, spark_area.width, 1);
        f.render_widget(Sparkline::default().data(&w.history).max(max), r);
    }
}

fn draw_interface(f: &mut Frame, v: &View, area: Rect) {
    let text = match &v.ifc {
        Some(i) => format!(
            "rx {}pps {}   rx_packets {}  rx_dropped {}  rx_missed {}  rx_errors {}  tx_packets {}",
            human_rate(i.rx_pps),
            bits(i.rx_bps),
            i.now.rx_packets,
            i.now.rx_dropped,
            i.now.rx_missed,
            i.now.rx_errors,
            i.now.tx_packets
        ),
        None => "(no counters in sysfs)".into(),
    };
    let title = format!("Interface {} (sysfs)", v.iface);
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn draw_talkers(f: &mut Frame, title: &str, list: &[Ranked], secs: f64, area: Rect) {
    let header = Row::new(["", "pps", "bps"]).style(Style::default().add_modifier(Modifier::BOLD));
    let rows = list.iter().map(|r| {
        Row::new([
            Cell::from(r.name.clone()),
            Cell::from(human_rate(r.packets as f64 / secs)),
            Cell::from(bits(r.bytes as f64 * 8.0 / secs)),
        ])
    });
    let widths = [
        Constraint::Min(15),
        Constraint::Length(9),
        Constraint::Length(13),
    ];
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}
