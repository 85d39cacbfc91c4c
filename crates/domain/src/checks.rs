//! What a health check costs, and when it is worth asking X. X bills a user
//! read such as `GET /2/users/me` at $0.010, counted once per user per UTC
//! day; a successful refresh or publish proves a grant alive for free. So
//! the daily check asks X only for an account nothing proved alive that UTC
//! day (or within the proof-of-life window), and never twice in one day
//! once an answer was good. Pure: times in, decisions out.

/// One UTC day, in ms.
pub const DAY_MS: i64 = 86_400_000;

/// What X bills for one user read, counted once per user per UTC day: one cent.
pub const USER_READ_CENTS: u64 = 1;

/// The UTC day `ms` falls in (days since the epoch).
pub fn utc_day(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Whether the daily check must ask X about an account last proved alive
/// (by a connect, a refresh, a publish or a check) at `last_proved_at`:
/// not when that was this UTC day, nor within `proof_window_ms`.
pub fn must_ask(last_proved_at: Option<i64>, now: i64, proof_window_ms: i64) -> bool {
    let accepted_from = (utc_day(now) * DAY_MS).min(now - proof_window_ms);
    !last_proved_at.is_some_and(|at| at >= accepted_from && at <= now)
}

/// What `accounts` user reads in a day cost, as people write it: `$0.07`.
pub fn spend(accounts: u64) -> String {
    let cents = accounts * USER_READ_CENTS;
    format!("${}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn the_daily_check_asks_only_what_nothing_proved_today() {
        let midnight = 20_000 * DAY_MS;
        let six = midnight + 6 * H;
        let window = 6 * H;
        let cases: &[(&str, Option<i64>, i64, bool)] = &[
            ("never proved", None, six, true),
            ("refreshed an hour ago", Some(six - H), six, false),
            ("proved just after midnight, checked late that day", Some(midnight + 1), midnight + 23 * H, false),
            ("yesterday evening, within the window", Some(midnight - 2 * H), midnight + 2 * H, false),
            ("yesterday evening, outside the window", Some(midnight - 2 * H), six, true),
            ("yesterday morning", Some(six - DAY_MS), six, true),
            ("a time in the future proves nothing", Some(six + H), six, true),
        ];
        for (what, last, now, ask) in cases {
            assert_eq!(must_ask(*last, *now, window), *ask, "{what}");
        }
        // The same day: the first good answer spares every later check.
        assert!(!must_ask(Some(six), six + 12 * H, window));
        assert!(must_ask(Some(six), six + DAY_MS, window), "the next day asks again");
    }

    #[test]
    fn a_cent_per_account_and_day() {
        assert_eq!(spend(0), "$0.00");
        assert_eq!(spend(7), "$0.07");
        assert_eq!(spend(500), "$5.00");
        assert_eq!(utc_day(-1), -1, "before the epoch rounds down");
    }
}
