//! Go's duration strings, as the LAPI writes them (`time.Duration.String()`) and reads them
//! (`time.ParseDuration`): `3h59m55.62s`, `59.6s`, `-25.3ms`, `1.5µs`, `0s`. Days are not a
//! unit: the LAPI refuses `1d`, so it is refused here too.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{text:?} is not a duration such as 90s, 10m or 4h (units: ns, us, ms, s, m, h)")]
pub struct DurationError {
    text: String,
}

/// Nanoseconds per unit, longest names first so `ms` is not read as `m`.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// A Go duration in nanoseconds, negative for a negative duration; saturates at the ends of
/// i64, as Go's own range ends there.
pub fn parse_nanos(text: &str) -> Result<i64, DurationError> {
    let error = || DurationError {
        text: text.to_string(),
    };
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(error());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(error)?;
        let (number, after) = rest.split_at(number_end);
        let (unit, scale) = UNITS
            .iter()
            .filter(|(unit, _)| after.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())
            .ok_or_else(error)?;
        total = total.saturating_add(scaled(number, *scale).ok_or_else(error)?);
        rest = &after[unit.len()..];
    }
    let magnitude = i64::try_from(total).unwrap_or(i64::MAX);
    Ok(if negative { -magnitude } else { magnitude })
}

/// A positive duration, as configuration takes it.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    match parse_nanos(text)? {
        nanos if nanos > 0 => Ok(Duration::from_nanos(nanos.unsigned_abs())),
        _ => Err(DurationError {
            text: text.to_string(),
        }),
    }
}

/// `number` (digits, an optional fraction) times `scale` nanoseconds, fractions below a
/// nanosecond dropped as Go drops them.
fn scaled(number: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(scale)?;
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        nanos += u128::from(digit - b'0') * place;
    }
    Some(nanos)
}

/// A duration as Go's `ParseDuration` reads it, in whole seconds, at least one: the LAPI keeps
/// a decision's end to the second.
pub fn format(duration: Duration) -> String {
    format!("{}s", duration.as_secs().max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn the_lapis_durations_parse() {
        assert_eq!(
            parse_nanos("3h59m55.62s").unwrap(),
            (3 * 3600 + 59 * 60 + 55) * SECOND + 620_000_000
        );
        assert_eq!(parse_nanos("59.635999521s").unwrap(), 59_635_999_521);
        assert_eq!(parse_nanos("-25.333323ms").unwrap(), -25_333_323);
        assert_eq!(parse_nanos("1.5µs").unwrap(), 1_500);
        assert_eq!(parse_nanos("1.5μs").unwrap(), 1_500);
        assert_eq!(parse_nanos("7us").unwrap(), 7_000);
        assert_eq!(parse_nanos("300ns").unwrap(), 300);
        assert_eq!(parse_nanos("0s").unwrap(), 0);
        assert_eq!(parse_nanos("0").unwrap(), 0);
        assert_eq!(parse_nanos("1h30m").unwrap(), 5400 * SECOND);
        assert_eq!(parse_nanos("+2m").unwrap(), 120 * SECOND);
        assert_eq!(parse_nanos(".5s").unwrap(), SECOND / 2);
        assert_eq!(parse_nanos("2562047h47m16.854775807s").unwrap(), i64::MAX);
        assert_eq!(parse_nanos("9999999h").unwrap(), i64::MAX);
    }

    #[test]
    fn what_go_refuses_is_refused() {
        for bad in [
            "", "-", "1d", "10", "s", "1.2.3s", "1 s", "h1", "1x", "1m-2s", "1..s", ".s",
        ] {
            assert!(parse_nanos(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse("0s").is_err());
        assert!(parse("-1s").is_err());
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
    }

    #[test]
    fn formatted_durations_parse_back() {
        for seconds in [1, 59, 60, 3600, 86_400 * 7] {
            let text = format(Duration::from_secs(seconds));
            assert_eq!(parse(&text).unwrap(), Duration::from_secs(seconds));
        }
        assert_eq!(format(Duration::from_millis(10)), "1s");
    }
}
