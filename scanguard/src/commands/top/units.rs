//! Numbers and durations in the few columns a screen has for them.

/// `0.4`, `12`, `1.2k`, `3.4M`: at most five characters for a rate up to 999M a second.
pub fn rate(per_second: f64) -> String {
    if per_second < 10.0 {
        format!("{per_second:.1}")
    } else {
        count(per_second.round() as u64)
    }
}

/// `9999`, `12.3k`, `4.6M`, `7.8G`.
pub fn count(value: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")];
    if value < 10_000 {
        return value.to_string();
    }
    let (size, unit) = UNITS
        .into_iter()
        .find(|(size, _)| value >= *size)
        .unwrap_or((1, ""));
    let scaled = value as f64 / size as f64;
    if scaled < 100.0 {
        format!("{scaled:.1}{unit}")
    } else {
        format!("{scaled:.0}{unit}")
    }
}

/// `42s`, `9m58s`, `2h03m`, `3d04h`: the two largest units.
pub fn duration(seconds: u64) -> String {
    let (days, hours, minutes, seconds) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days}d{hours:02}h")
    } else if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m{seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_counts_stay_short() {
        assert_eq!(rate(0.0), "0.0");
        assert_eq!(rate(0.45), "0.5");
        assert_eq!(rate(12.4), "12");
        assert_eq!(rate(9_999.0), "9999");
        assert_eq!(rate(10_000.0), "10.0k");
        assert_eq!(count(123_456), "123k");
        assert_eq!(count(4_560_000), "4.6M");
        assert_eq!(count(u64::MAX), "18446744074G");
    }

    #[test]
    fn durations_show_two_units() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(598), "9m58s");
        assert_eq!(duration(7_380), "2h03m");
        assert_eq!(duration(3 * 86_400 + 4 * 3_600 + 59), "3d04h");
    }
}
