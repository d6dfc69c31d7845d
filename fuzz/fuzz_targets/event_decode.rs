//! Arbitrary perf-sample bytes through the daemon's whole event path: the decoder, the
//! JSON view, the log line and a JSON round trip. Nothing may panic, and the view must survive
//! the round trip unchanged.
//!
//! Input: one byte saying where the ring wraps the sample, then the sample, then (past the
//! event's size) the interface and service names to render it with.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scanguard::events::{Detection, PortNames, reader, render};
use scanguard_common::event::Event;

fuzz_target!(|data: &[u8]| {
    let Some((&wrap, sample)) = data.split_first() else {
        return;
    };
    let (head, tail) = sample.split_at(usize::from(wrap).min(sample.len()));
    let decoded = reader::decode(head, tail);
    // Where the ring wraps the sample does not change what it says.
    assert_eq!(decoded, reader::decode(sample, &[]));
    let Some(event) = decoded else {
        assert!(sample.len() < size_of::<Event>());
        return;
    };
    let names = String::from_utf8_lossy(&sample[size_of::<Event>()..]);
    let (interface, service) = names.split_once('\0').unwrap_or((&names, ""));
    let mut port_names = PortNames::new();
    if !service.is_empty() {
        port_names.insert(event.dst_port, service.to_string());
    }
    let detection = Detection::from_event(&event, interface.to_string(), &port_names);

    let line = render::log_line(&detection);
    if !names.contains(['\n', '\r']) {
        assert_eq!(line.lines().count(), 1, "{line:?}");
    }
    assert!(line.starts_with("[scanguard::"), "{line:?}");

    let json = serde_json::to_string(&detection).expect("a detection encodes");
    assert!(!json.contains('\n'), "{json}");
    let back: Detection = serde_json::from_str(&json).expect("a detection decodes");
    assert_eq!(back, detection);
});
