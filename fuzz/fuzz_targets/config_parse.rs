//! Arbitrary text as a configuration file: `parse` gives settings or an error that names a key
//! and is one line, and never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scanguard::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = config::file::parse(text) {
        let line = error.to_string();
        assert!(!line.contains(['\n', '\r']), "{line:?}");
        assert!(!error.key.is_empty(), "{line:?}");
        assert!(!error.problem.is_empty(), "{line:?}");
    }
});
