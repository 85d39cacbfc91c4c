//! The publishing pipeline's rules, as pure decisions: when the token broker
//! refreshes first, whether a refusal from X is worth exactly one retry with a
//! fresh token, and whether a failed post waits for a person. The rules:
//! refresh before expiry, retry once, surface the error, keep content ready.

use crate::health::{Cause, Who};

/// The broker refreshes a token that expires within this long, so a caller
/// never gets a token that dies on its way to X.
pub const MIN_TOKEN_LIFETIME_MS: i64 = 60_000;

/// X's limit on a post's length, in characters.
pub const MAX_POST_CHARS: usize = 280;

/// Whether a token expiring at `expires_at` must be refreshed before it is
/// handed out at `now`.
pub fn needs_refresh(expires_at: i64, now: i64, min_lifetime_ms: i64) -> bool {
    expires_at - now <= min_lifetime_ms
}

/// What to do after X refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Get a fresh token (refreshing if nobody has yet) and try once more.
    RetryOnce,
    /// Do not try again with this grant: surface the cause.
    Stop(Cause),
}

/// Decides after X refused a call with `cause`. `retried` says whether this
/// refusal already came from the one retry with a fresh token (for reports:
/// a later report for the same token generation, or a report for the fresh
/// token handed out after a `RetryOnce`).
///
/// Only a 401 (classified as a revoked or expired access token) can be cured
/// by a fresh token; a 403 means scopes or the app, which no refresh changes;
/// X's passing trouble is for waiting, not for burning the chain.
pub fn after_refusal(cause: Cause, retried: bool) -> Next {
    if retried {
        return Next::Stop(cause);
    }
    match cause {
        // For an OAuth 1.0a token the retry is confirmed first by a second
        // signed call (there is nothing to refresh): X's generic v2 401 alone
        // condemns nothing.
        Cause::UserRevoked | Cause::AccessTokenExpired | Cause::Oauth1TokenInvalid => Next::RetryOnce,
        other => Next::Stop(other),
    }
}

/// What becomes of a post that could not be published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// A person must act (reconnect, fix the app or the clock): keep the post
    /// and publish it after they have.
    Hold,
    /// X's passing trouble: the caller may send the same request again later.
    Retryable,
}

/// Whether a post that failed with `cause` is held for a person.
pub fn fate(cause: Cause) -> Fate {
    match cause.who() {
        Who::Owner | Who::Admin | Who::Operations => Fate::Hold,
        // The system's own causes (an expired token, a lost refresh answer)
        // are cured by the next refresh: worth sending again, not a person's job.
        Who::System | Who::Nobody => Fate::Retryable,
    }
}

/// Reports one API key may make about one account within
/// [`REPORT_WINDOW_MS`]. A report costs a verification at X when it would
/// condemn the account, so a key cannot make authwatch ask X without end;
/// a pipeline reports once per refused token, far below this.
pub const REPORTS_PER_WINDOW: usize = 10;
/// The report budget's window: one minute.
pub const REPORT_WINDOW_MS: i64 = 60_000;

/// Whether one more report may be taken at `now`, given the times (ms,
/// ascending) of the reports taken before. `Some(ms)`: refused, for that
/// much longer (until the oldest report in the window leaves it).
pub fn report_throttled(taken: &[i64], now: i64) -> Option<i64> {
    let recent: Vec<i64> = taken.iter().copied().filter(|at| now - at < REPORT_WINDOW_MS).collect();
    (recent.len() >= REPORTS_PER_WINDOW).then(|| recent[recent.len() - REPORTS_PER_WINDOW] + REPORT_WINDOW_MS - now)
}

/// Why a post's text cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextProblem {
    Empty,
    TooLong { chars: usize },
}

/// Checks a post's text against X's rules before anything is stored or sent.
/// X counts characters (the emulator, like X for plain text, counts Unicode
/// scalar values).
pub fn check_text(text: &str) -> Result<(), TextProblem> {
    // Only the empty text: whether X takes a blank one is X's to say.
    if text.is_empty() {
        return Err(TextProblem::Empty);
    }
    let chars = text.chars().count();
    if chars > MAX_POST_CHARS {
        return Err(TextProblem::TooLong { chars });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_within_a_minute_of_expiry_and_not_before() {
        let now = 1_800_000_000_000;
        assert!(needs_refresh(now + 60_000, now, MIN_TOKEN_LIFETIME_MS));
        assert!(needs_refresh(now - 1, now, MIN_TOKEN_LIFETIME_MS), "an expired token");
        assert!(!needs_refresh(now + 60_001, now, MIN_TOKEN_LIFETIME_MS));
    }

    #[test]
    fn a_401_is_retried_exactly_once() {
        assert_eq!(after_refusal(Cause::UserRevoked, false), Next::RetryOnce);
        assert_eq!(after_refusal(Cause::UserRevoked, true), Next::Stop(Cause::UserRevoked));
        assert_eq!(after_refusal(Cause::AccessTokenExpired, true), Next::Stop(Cause::AccessTokenExpired));
    }

    #[test]
    fn what_no_fresh_token_can_cure_is_never_retried() {
        for cause in [
            Cause::ScopeMissing,
            Cause::AppCredentialsRejected,
            Cause::XUnavailable,
            Cause::RateLimited,
            Cause::RefreshTokenRejected,
        ] {
            assert_eq!(after_refusal(cause, false), Next::Stop(cause), "{cause:?}");
        }
    }

    #[test]
    fn posts_wait_for_people_not_for_outages() {
        for cause in [
            Cause::UserRevoked,
            Cause::RefreshTokenRejected,
            Cause::RotationLost,
            Cause::ScopeMissing,
            Cause::NoRefreshToken,
        ] {
            assert_eq!(fate(cause), Fate::Hold, "{cause:?}: the owner reconnects");
        }
        assert_eq!(fate(Cause::AppCredentialsRejected), Fate::Hold);
        assert_eq!(fate(Cause::ClockDrift), Fate::Hold);
        for cause in [Cause::XUnavailable, Cause::RateLimited, Cause::RefreshAnswerLost, Cause::AccessTokenExpired] {
            assert_eq!(fate(cause), Fate::Retryable, "{cause:?}");
        }
    }

    #[test]
    fn reports_beyond_the_budget_wait_for_the_oldest_to_leave_the_window() {
        let now = 1_800_000_000_000;
        let taken: Vec<i64> = (0..REPORTS_PER_WINDOW as i64).map(|i| now - 30_000 + i).collect();
        assert_eq!(report_throttled(&taken[..REPORTS_PER_WINDOW - 1], now), None, "within the budget");
        assert_eq!(report_throttled(&taken, now), Some(30_000), "until the first of them is a minute old");
        assert_eq!(report_throttled(&taken, now + 30_000), None, "the first left the window");
        let old: Vec<i64> = (0..50).map(|i| now - REPORT_WINDOW_MS - i).collect();
        assert_eq!(report_throttled(&old, now), None, "reports older than the window do not count");
    }

    #[test]
    fn text_is_checked_against_xs_limit_in_characters() {
        assert_eq!(check_text(&"a".repeat(280)), Ok(()));
        assert_eq!(check_text(&"é".repeat(280)), Ok(()), "characters, not bytes");
        assert_eq!(check_text(&"a".repeat(281)), Err(TextProblem::TooLong { chars: 281 }));
        assert_eq!(check_text(""), Err(TextProblem::Empty));
    }
}
