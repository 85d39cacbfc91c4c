//! Times as the domain's sentences write them. The app's `format` module
//! re-exports these, so a page and a verdict print one time the same way.

use time::macros::format_description;
use time::OffsetDateTime;

/// `2026-11-26 09:12:03 UTC`.
pub fn utc(ms: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "unknown time".to_owned())
}
