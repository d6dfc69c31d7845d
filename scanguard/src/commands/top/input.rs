//! What the keys do: the view's state and the key handler, free of the terminal so a test can
//! type at it.

use std::net::IpAddr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::snapshot::BannedSource;
use crate::events::Detection;

/// Columns ←/→ scroll the latest detections by.
const SCROLL_STEP: u16 = 8;

/// What the bottom line asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Prompt {
    #[default]
    None,
    /// Typing the filter (applied as it is typed).
    Filter,
    /// Unban this source? y/n.
    Confirm(IpAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Nothing,
    Quit,
    Unban(IpAddr),
}

#[derive(Debug, Default)]
pub struct Ui {
    /// Shows the banned sources and detections whose address or kind contains it.
    pub filter: String,
    pub prompt: Prompt,
    /// The banned source the arrows are on; it stays on it when the order changes.
    pub selected: Option<IpAddr>,
    /// The display holds still; the readings go on behind it.
    pub paused: bool,
    /// Columns the latest detections are scrolled left by.
    pub scroll: u16,
    /// The outcome of the last action, shown until the next key.
    pub message: Option<String>,
}

impl Ui {
    /// Handles a key press; `listed` are the banned sources on screen, in their order.
    pub fn key(&mut self, key: KeyEvent, listed: &[IpAddr]) -> Action {
        self.message = None;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        match self.prompt.clone() {
            Prompt::Filter => self.filter_key(key.code),
            Prompt::Confirm(address) => {
                self.prompt = Prompt::None;
                if key.code == KeyCode::Char('y') {
                    return Action::Unban(address);
                }
                self.message = Some(format!("{address} stays banned"));
            }
            Prompt::None => return self.command_key(key.code, listed),
        }
        Action::Nothing
    }

    fn command_key(&mut self, code: KeyCode, listed: &[IpAddr]) -> Action {
        match code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Down => self.select(listed, |at| at.map_or(0, |at| at + 1)),
            KeyCode::Up => self.select(listed, |at| at.map_or(0, |at| at.saturating_sub(1))),
            KeyCode::Home => self.select(listed, |_| 0),
            KeyCode::End => self.select(listed, |_| usize::MAX),
            KeyCode::Char('u') => match self.selected.filter(|address| listed.contains(address)) {
                Some(address) => self.prompt = Prompt::Confirm(address),
                None => self.message = Some("select a banned source first (↑/↓)".into()),
            },
            KeyCode::Char('/') => self.prompt = Prompt::Filter,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Char('p') => self.paused = !self.paused,
            KeyCode::Left => self.scroll = self.scroll.saturating_sub(SCROLL_STEP),
            KeyCode::Right => self.scroll = self.scroll.saturating_add(SCROLL_STEP),
            _ => {}
        }
        Action::Nothing
    }

    fn filter_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Enter => self.prompt = Prompt::None,
            KeyCode::Esc => {
                self.filter.clear();
                self.prompt = Prompt::None;
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(typed) if !typed.is_control() => self.filter.push(typed),
            _ => {}
        }
    }

    /// Moves the selection to the row `to` gives for the selected one's row (`None`: none
    /// selected or it left the list), kept inside the list.
    fn select(&mut self, listed: &[IpAddr], to: impl FnOnce(Option<usize>) -> usize) {
        let Some(last) = listed.len().checked_sub(1) else {
            self.selected = None;
            return;
        };
        let at = self
            .selected
            .and_then(|selected| listed.iter().position(|address| *address == selected));
        self.selected = Some(listed[to(at).min(last)]);
    }
}

/// Whether `filter` is in the address or the kind, ignoring case; an empty one is everywhere.
pub fn matches(filter: &str, address: &IpAddr, kind: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let filter = filter.to_lowercase();
    address.to_string().contains(&filter) || kind.contains(&filter)
}

/// The banned sources the filter lets through, in order.
pub fn listed<'a>(banned: &'a [BannedSource], filter: &str) -> Vec<&'a BannedSource> {
    banned
        .iter()
        .filter(|source| matches(filter, &source.address, source.reason))
        .collect()
}

/// The detections from a source, or of a kind, the filter lets through, in order.
pub fn shown<'a>(latest: &'a [Detection], filter: &str) -> Vec<&'a Detection> {
    latest
        .iter()
        .filter(|detection| matches(filter, &detection.src, &detection.kind))
        .collect()
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyEvent;

    use super::*;

    fn press(ui: &mut Ui, code: KeyCode, listed: &[IpAddr]) -> Action {
        ui.key(KeyEvent::new(code, KeyModifiers::NONE), listed)
    }

    fn addresses(list: &[&str]) -> Vec<IpAddr> {
        list.iter()
            .map(|address| address.parse().unwrap())
            .collect()
    }

    #[test]
    fn the_filter_is_in_the_address_or_the_kind() {
        let v4: IpAddr = "10.77.0.2".parse().unwrap();
        let v6: IpAddr = "fd77::2".parse().unwrap();
        assert!(matches("", &v4, "null-scan"));
        assert!(matches("10.77", &v4, "null-scan"));
        assert!(matches("NULL", &v4, "null-scan"));
        assert!(matches("FD77::", &v6, "xmas-scan"));
        assert!(!matches("10.78", &v4, "null-scan"));
        assert!(!matches("syn", &v4, "null-scan"));
    }

    #[test]
    fn arrows_select_within_the_list_and_follow_the_source() {
        let mut ui = Ui::default();
        let listed = addresses(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(press(&mut ui, KeyCode::Up, &listed), Action::Nothing);
        assert_eq!(ui.selected, Some(listed[0]));
        press(&mut ui, KeyCode::Down, &listed);
        press(&mut ui, KeyCode::Down, &listed);
        press(&mut ui, KeyCode::Down, &listed);
        assert_eq!(ui.selected, Some(listed[2]), "stops at the last");
        // The order changed: the selection stays on the source, and moves from where it is.
        let reordered = addresses(&["10.0.0.3", "10.0.0.1", "10.0.0.2"]);
        press(&mut ui, KeyCode::Down, &reordered);
        assert_eq!(ui.selected, Some(listed[0]));
        press(&mut ui, KeyCode::Home, &reordered);
        assert_eq!(ui.selected, Some(reordered[0]));
        press(&mut ui, KeyCode::End, &reordered);
        assert_eq!(ui.selected, Some(reordered[2]));
        press(&mut ui, KeyCode::Down, &[]);
        assert_eq!(ui.selected, None, "nothing to select");
    }

    #[test]
    fn u_asks_and_only_y_unbans() {
        let mut ui = Ui::default();
        let listed = addresses(&["10.0.0.1"]);
        press(&mut ui, KeyCode::Char('u'), &listed);
        assert_eq!(ui.prompt, Prompt::None, "nothing selected");
        assert!(ui.message.is_some());
        press(&mut ui, KeyCode::Down, &listed);
        press(&mut ui, KeyCode::Char('u'), &listed);
        assert_eq!(ui.prompt, Prompt::Confirm(listed[0]));
        assert_eq!(press(&mut ui, KeyCode::Char('n'), &listed), Action::Nothing);
        assert_eq!(ui.prompt, Prompt::None);
        assert_eq!(ui.message.as_deref(), Some("10.0.0.1 stays banned"));
        press(&mut ui, KeyCode::Char('u'), &listed);
        assert_eq!(
            press(&mut ui, KeyCode::Char('y'), &listed),
            Action::Unban(listed[0])
        );
        // A source that left the list is not unbanned by a stale selection.
        press(&mut ui, KeyCode::Char('u'), &[]);
        assert_eq!(ui.prompt, Prompt::None);
    }

    #[test]
    fn slash_types_a_filter_that_esc_clears() {
        let mut ui = Ui::default();
        press(&mut ui, KeyCode::Char('/'), &[]);
        for typed in "nullx".chars() {
            press(&mut ui, KeyCode::Char(typed), &[]);
        }
        press(&mut ui, KeyCode::Backspace, &[]);
        assert_eq!(
            press(&mut ui, KeyCode::Char('q'), &[]),
            Action::Nothing,
            "q is a letter while typing"
        );
        assert_eq!(ui.filter, "nullq");
        press(&mut ui, KeyCode::Backspace, &[]);
        press(&mut ui, KeyCode::Enter, &[]);
        assert_eq!((ui.filter.as_str(), &ui.prompt), ("null", &Prompt::None));
        press(&mut ui, KeyCode::Esc, &[]);
        assert_eq!(ui.filter, "");
    }

    #[test]
    fn p_pauses_and_q_or_ctrl_c_quit() {
        let mut ui = Ui::default();
        press(&mut ui, KeyCode::Char('p'), &[]);
        assert!(ui.paused);
        press(&mut ui, KeyCode::Char('p'), &[]);
        assert!(!ui.paused);
        assert_eq!(press(&mut ui, KeyCode::Char('q'), &[]), Action::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(ui.key(ctrl_c, &[]), Action::Quit);
    }
}
