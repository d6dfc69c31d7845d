//! The screen: a two-line header, detections per kind beside the most probed ports, the banned
//! sources, the latest detections, and a line for keys, prompts and outcomes. Drawn from a
//! snapshot and the key state alone; it fits 80×24 and grows with the terminal.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState},
};

use super::{
    history::{buckets, sparkline},
    input::{self, Prompt, Ui},
    snapshot::{KindActivity, Snapshot},
    units,
};
use crate::events::{Detection, render};

/// Kinds listed at once, the busiest first.
const KIND_ROWS: u16 = 5;
/// Columns of a kind's name and rate before its sparkline.
const KIND_LABEL: usize = 13 + 1 + 5 + 1;
const HELP: &str = "q quit  ↑↓ select  u unban  / filter  p pause  ←→ scroll";

pub fn draw(frame: &mut Frame, snapshot: &Snapshot, ui: &Ui) {
    let [header, middle, banned, latest, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(KIND_ROWS + 2),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let [kinds, ports] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    frame.render_widget(header_lines(snapshot, ui), header);
    draw_kinds(frame, kinds, snapshot);
    draw_ports(frame, ports, snapshot);
    draw_banned(frame, banned, snapshot, ui);
    draw_latest(frame, latest, snapshot, ui);
    frame.render_widget(footer_line(ui), footer);
}

fn header_lines(snapshot: &Snapshot, ui: &Ui) -> Paragraph<'static> {
    let daemon = &snapshot.daemon;
    let mut first = vec![Span::styled(
        "scanguard top",
        Style::new().add_modifier(Modifier::BOLD),
    )];
    match (daemon.running, daemon.pid) {
        (true, Some(pid)) => {
            let up = daemon
                .uptime_seconds
                .map_or_else(|| "?".to_string(), units::duration);
            first.push(Span::raw(format!("  pid {pid} up {up}")));
        }
        _ => first.push(Span::styled(
            "  daemon stopped: last readings",
            Style::new().add_modifier(Modifier::REVERSED),
        )),
    }
    if ui.paused {
        first.push(Span::raw("  "));
        first.push(Span::styled(
            "PAUSED",
            Style::new().add_modifier(Modifier::REVERSED),
        ));
    }
    let hooks: Vec<String> = daemon
        .interfaces
        .iter()
        .map(|hook| format!("{} {}/{}", hook.interface, hook.hook, hook.mode))
        .collect();
    first.push(Span::raw(format!("  {}", hooks.join(", "))));
    let packets = &snapshot.packets;
    let mut second = format!(
        "bans {}/{}  seen {}/s  passed {}/s  dropped {}/s",
        snapshot.bans.in_force,
        snapshot.bans.capacity,
        units::rate(packets.seen.per_second),
        units::rate(packets.passed.per_second),
        units::rate(packets.dropped.per_second),
    );
    if snapshot.events.lost > 0 {
        second.push_str(&format!(
            "  events lost {}",
            units::count(snapshot.events.lost)
        ));
    }
    Paragraph::new(vec![Line::from(first), Line::raw(second)])
}

fn draw_kinds(frame: &mut Frame, area: Rect, snapshot: &Snapshot) {
    let block = Block::bordered().title(" Detections/s, last minute ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut active: Vec<&KindActivity> = snapshot
        .detections
        .iter()
        .filter(|kind| kind.is_active())
        .collect();
    if active.is_empty() {
        frame.render_widget(Paragraph::new("no detections yet"), inner);
        return;
    }
    active.sort_by(|a, b| {
        b.per_second
            .total_cmp(&a.per_second)
            .then(b.total.cmp(&a.total))
    });
    let spark_width = usize::from(inner.width).saturating_sub(KIND_LABEL);
    let lines: Vec<Line> = active
        .into_iter()
        .take(usize::from(inner.height))
        .map(|kind| {
            Line::raw(format!(
                "{:<13} {:>5} {}",
                kind.kind,
                units::rate(kind.per_second),
                sparkline(&buckets(&kind.last_minute, spark_width))
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_ports(frame: &mut Frame, area: Rect, snapshot: &Snapshot) {
    let block = Block::bordered().title(" Most probed ports ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if snapshot.ports.is_empty() {
        frame.render_widget(Paragraph::new("no probes seen yet"), inner);
        return;
    }
    let service_width = usize::from(inner.width).saturating_sub(5 + 1 + 3 + 1 + 1 + 6);
    let lines: Vec<Line> = snapshot
        .ports
        .iter()
        .take(usize::from(inner.height))
        .map(|port| {
            let service: String = port
                .service
                .as_deref()
                .unwrap_or("-")
                .chars()
                .take(service_width)
                .collect();
            Line::raw(format!(
                "{:>5}/{:<3} {service:<service_width$} {:>6}",
                port.port,
                port.protocol,
                units::count(port.probes)
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_banned(frame: &mut Frame, area: Rect, snapshot: &Snapshot, ui: &Ui) {
    let listed = input::listed(&snapshot.banned, &ui.filter);
    let mut title = format!(
        " Banned sources: {} of {} ",
        listed.len(),
        snapshot.bans.in_force
    );
    if !ui.filter.is_empty() {
        title.push_str(&format!("matching \"{}\" ", ui.filter));
    }
    // Rows are made for the sources on screen only: a million bans cost a filter, not a
    // million rows a second. The window follows the selection down.
    let height = usize::from(area.height.saturating_sub(3));
    let selected = ui
        .selected
        .and_then(|selected| listed.iter().position(|source| source.address == selected));
    let offset = selected.map_or(0, |at| (at + 1).saturating_sub(height));
    let rows: Vec<Row> = listed
        .iter()
        .skip(offset)
        .take(height)
        .map(|source| {
            Row::new([
                Cell::from(source.address.to_string()),
                Cell::from(source.reason),
                Cell::from(format!("{:>3}", source.repeat)),
                Cell::from(format!("{:>7}", units::count(source.dropped_packets))),
                Cell::from(format!("{:>6}", units::rate(source.dropped_per_second))),
                Cell::from(format!("{:>6}", units::duration(source.expires_in_seconds))),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(13),
            Constraint::Length(3),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(6),
        ],
    )
    .header(
        // Numbers are right-aligned, and so are their headings.
        Row::new(["ADDRESS", "REASON", "RPT", "DROPPED", "DROP/S", "  LEFT"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .block(Block::bordered().title(title))
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .highlight_symbol("> ")
    .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(selected.map(|at| at - offset));
    frame.render_stateful_widget(table, area, &mut state);
    if empty {
        let inner = Block::bordered().inner(area);
        let below_header = Rect {
            y: inner.y.saturating_add(1),
            height: inner.height.saturating_sub(1),
            ..inner
        };
        let text = if snapshot.banned.is_empty() {
            "  no banned sources"
        } else {
            "  no banned source matches the filter"
        };
        frame.render_widget(Paragraph::new(text), below_header);
    }
}

fn draw_latest(frame: &mut Frame, area: Rect, snapshot: &Snapshot, ui: &Ui) {
    let events = &snapshot.events;
    let mut title = format!(
        " Latest detections: {}/s, {} skipped ",
        units::rate(events.per_second),
        units::count(events.skipped)
    );
    if events.reconnects > 0 {
        title.push_str(&format!("{} reconnects ", events.reconnects));
    }
    if !events.connected {
        title.push_str("(event socket closed) ");
    }
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    let shown = input::shown(&snapshot.latest, &ui.filter);
    let lines: Vec<Line> = shown[shown.len().saturating_sub(usize::from(inner.height))..]
        .iter()
        .map(|detection| Line::raw(screen_line(detection)))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(block).scroll((0, ui.scroll)),
        area,
    );
}

/// A detection as the log line `scanguard events` prints, after its time of day (UTC, as in
/// the JSON). The MAC field is left out: on 80 columns it would push the addresses and
/// ports off the screen; `--once` and `--json` keep it.
pub fn screen_line(detection: &Detection) -> String {
    let time = detection.time.get(11..19).unwrap_or(&detection.time);
    let line = render::log_line(detection);
    let fields: Vec<&str> = line
        .split(' ')
        .filter(|field| !field.starts_with("MAC="))
        .collect();
    format!("{time} {}", fields.join(" "))
}

fn footer_line(ui: &Ui) -> Paragraph<'static> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let line = match (&ui.prompt, &ui.message) {
        (Prompt::Filter, _) => Line::from(vec![
            Span::styled(format!("filter: {}_", ui.filter), bold),
            Span::raw("  Enter keeps it, Esc clears it"),
        ]),
        (Prompt::Confirm(address), _) => Line::styled(format!("unban {address}? y/n"), bold),
        (Prompt::None, Some(message)) => Line::styled(message.clone(), bold),
        (Prompt::None, None) if !ui.filter.is_empty() => {
            Line::raw(format!("{HELP}  [filter: {}]", ui.filter))
        }
        (Prompt::None, None) => Line::raw(HELP),
    };
    Paragraph::new(line)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use ratatui::{Terminal, backend::TestBackend};

    use super::*;
    use crate::commands::top::snapshot::example::{detection, snapshot};

    fn screen(snapshot: &Snapshot, ui: &Ui) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|frame| draw(frame, snapshot, ui)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer.cell((x, y)).map_or(" ", |cell| cell.symbol()))
                    .collect()
            })
            .collect()
    }

    fn row_with<'a>(lines: &'a [String], text: &str) -> Option<(usize, &'a String)> {
        lines
            .iter()
            .enumerate()
            .find(|(_, line)| line.contains(text))
    }

    #[test]
    fn everything_fits_80_by_24() {
        let lines = screen(&snapshot(1), &Ui::default());
        let text = lines.join("\n");
        assert!(lines[0].starts_with("scanguard top  pid 812 up 3m12s  veth-v xdp/native"));
        assert!(
            lines[1].starts_with("bans 1/65536  seen 12/s  passed 10/s  dropped 2.0/s"),
            "{text}"
        );
        assert!(
            lines[3].contains("│null-scan       1.0") && lines[3].trim_end().ends_with("│"),
            "{text}"
        );
        assert!(
            lines[3].contains("   23/tcp telnet") && lines[3].contains("      3│"),
            "{text}"
        );
        let (address_row, line) = row_with(&lines, "10.77.0.2 ").expect(&text);
        assert!(address_row > 9 && address_row < 15, "{text}");
        for column in ["null-scan", "  1", "1000", "2.5", "9m58s"] {
            assert!(line.contains(column), "{column} in {line}");
        }
        let (latest_row, latest) = row_with(&lines, "14:03:07").expect(&text);
        assert!(latest_row > address_row, "{text}");
        assert!(
            latest
                .contains("14:03:07 [scanguard::null-scan] IN=veth-v SRC=10.77.0.2 DST=10.77.0.1"),
            "{latest}"
        );
        assert_eq!(lines[23].trim_end(), HELP);
    }

    #[test]
    fn the_selected_source_stays_in_view_and_asks_before_unbanning() {
        let snapshot = snapshot(40);
        let selected: IpAddr = "10.77.0.31".parse().unwrap();
        let ui = Ui {
            selected: Some(selected),
            prompt: Prompt::Confirm(selected),
            ..Ui::default()
        };
        let lines = screen(&snapshot, &ui);
        let (_, row) =
            row_with(&lines, "> 10.77.0.31 ").unwrap_or_else(|| panic!("{}", lines.join("\n")));
        assert!(row.contains("null-scan"));
        assert!(row_with(&lines, "Banned sources: 40 of 40").is_some());
        assert_eq!(lines[23].trim_end(), "unban 10.77.0.31? y/n");
    }

    #[test]
    fn the_filter_narrows_sources_and_detections() {
        let mut snapshot = snapshot(3);
        snapshot.latest.push(detection("10.77.0.4", "syn-scan", 81));
        let ui = Ui {
            filter: "syn".into(),
            ..Ui::default()
        };
        let lines = screen(&snapshot, &ui);
        let text = lines.join("\n");
        assert!(
            row_with(&lines, "Banned sources: 0 of 3 matching \"syn\"").is_some(),
            "{text}"
        );
        assert!(
            row_with(&lines, "no banned source matches the filter").is_some(),
            "{text}"
        );
        assert!(row_with(&lines, "SRC=10.77.0.4").is_some(), "{text}");
        assert!(row_with(&lines, "SRC=10.77.0.2").is_none(), "{text}");
        assert!(lines[23].ends_with("[filter: syn]") || lines[23].contains("[filter: syn]"));
    }

    #[test]
    fn a_stopped_daemon_and_a_pause_are_said() {
        let mut snapshot = snapshot(0);
        snapshot.daemon.running = false;
        snapshot.events.connected = false;
        let ui = Ui {
            paused: true,
            ..Ui::default()
        };
        let lines = screen(&snapshot, &ui);
        assert!(lines[0].contains("daemon stopped: last readings  PAUSED"));
        assert!(row_with(&lines, "(event socket closed)").is_some());
        assert!(row_with(&lines, "no banned sources").is_some());
    }
}
