//! Times and durations as people read them. Pure, shared by server and browser.

/// `2026-11-26 09:12:03 UTC`: the domain's sentences print times so too.
pub use crate::domain::format::utc;

/// A duration in the largest two units: `1 h 05 min`, `12 min`, `42 s`.
pub fn duration(ms: i64) -> String {
    let s = ms.abs() / 1000;
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{sec} s")
    }
}

/// A countdown to the second: `1 h 59 min 07 s`, `4 min 05 s`, `9 s`.
pub fn countdown(ms: i64) -> String {
    let s = ms.abs() / 1000;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h} h {m:02} min {sec:02} s")
    } else if m > 0 {
        format!("{m} min {sec:02} s")
    } else {
        format!("{sec} s")
    }
}

/// `12 min ago` or `in 3 min`, relative to `now`.
pub fn relative(now: i64, at: i64) -> String {
    let delta = at - now;
    if delta.abs() < 5_000 {
        "just now".to_owned()
    } else if delta < 0 {
        format!("{} ago", coarse(-delta))
    } else {
        format!("in {}", coarse(delta))
    }
}

/// One unit, for relative times: `12 min`, `3 h`, `2 d`.
fn coarse(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// A token's expiry to the second: `1 h 59 min 07 s`, or `expired 3 min ago`.
pub fn expiry_countdown(now: i64, expires_at: i64) -> String {
    expiry(now, expires_at, countdown)
}

/// A token's expiry: `in 1 h 05 min`, or `expired 3 min ago`.
pub fn expiry_in(now: i64, expires_at: i64) -> String {
    expiry(now, expires_at, |ms| format!("in {}", duration(ms)))
}

/// `expired 3 min ago`, or what `ahead` says of the time left.
fn expiry(now: i64, expires_at: i64, ahead: impl Fn(i64) -> String) -> String {
    if now >= expires_at {
        format!("expired {} ago", duration(now - expires_at))
    } else {
        ahead(expires_at - now)
    }
}

/// The style of a token's life bar at `now`: the width of the part used.
pub fn life_style(now: i64, issued_at: i64, expires_at: i64) -> String {
    format!("width: {:.1}%", life_used(now, issued_at, expires_at) * 100.0)
}

/// Where `now` is in the token's life, 0.0 (issued) to 1.0 (expired).
pub fn life_used(now: i64, issued_at: i64, expires_at: i64) -> f64 {
    let span = (expires_at - issued_at).max(1) as f64;
    ((now - issued_at) as f64 / span).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_people() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(duration(3_900_000), "1 h 05 min");
        assert_eq!(duration(42_000), "42 s");
        assert_eq!(duration(125_000), "2 min 05 s");
        assert_eq!(countdown(7_127_000), "1 h 58 min 47 s");
        assert_eq!(countdown(9_000), "9 s");
        assert_eq!(relative(1_000_000, 1_000_000 - 720_000), "12 min ago");
        assert_eq!(relative(0, 3 * 3_600_000), "in 3 h");
        assert_eq!(relative(0, 1000), "just now");
        assert_eq!(life_used(50, 0, 100), 0.5);
        assert_eq!(life_used(500, 0, 100), 1.0);
        assert_eq!(expiry_countdown(0, 7_127_000), "1 h 58 min 47 s");
        assert_eq!(expiry_countdown(180_000, 0), "expired 3 min 00 s ago");
        assert_eq!(expiry_in(0, 3_900_000), "in 1 h 05 min");
        assert_eq!(expiry_in(3_900_000, 3_900_000), "expired 0 s ago");
        assert_eq!(life_style(25, 0, 100), "width: 25.0%");
    }
}
