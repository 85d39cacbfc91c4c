//! Which [`Cause`] an answer from X means. Pure: status and body fields in,
//! cause out, tested on X's exact answers (see X_API.md in the project docs).

use crate::domain::health::Cause;

/// Which call X answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XCall {
    /// Token endpoint, `grant_type=refresh_token`.
    Refresh,
    /// Token endpoint, `grant_type=authorization_code`.
    CodeExchange,
    /// `GET /2/users/me`.
    UsersMe,
    /// `POST /2/tweets`.
    Post,
}

/// The parts of X's answer that decide the cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XAnswer<'a> {
    /// `None` when no answer arrived at all (timeout, connection error).
    pub status: Option<u16>,
    /// The token endpoint's `error` field.
    pub error: Option<&'a str>,
    /// A v2 problem's `type` URI or `reason`.
    pub problem: Option<&'a str>,
}

/// Classifies a failed call. Returns `None` for a success status.
pub fn classify(call: XCall, answer: XAnswer<'_>) -> Option<Cause> {
    let Some(status) = answer.status else {
        return Some(Cause::XUnavailable);
    };
    if (200..300).contains(&status) {
        return None;
    }
    if status == 429 {
        return Some(Cause::RateLimited);
    }
    if status >= 500 {
        return Some(Cause::XUnavailable);
    }
    // X's 402 ("credits depleted") refuses every v2 call of an app whose
    // pay-per-use balance is empty: billing, never an account's grant.
    if status == 402 {
        return Some(Cause::CreditsDepleted);
    }
    // X says `unauthorized_client` for a missing or wrong client
    // authentication; RFC 6749 says `invalid_client`. Both mean the app's
    // credentials, never one account's grant.
    if matches!(answer.error, Some("unauthorized_client" | "invalid_client")) {
        return Some(Cause::AppCredentialsRejected);
    }
    // An app outside a Project is refused on every v2 call: app configuration.
    if answer.problem.is_some_and(|p| p.contains("client-forbidden") || p.contains("client-not-enrolled")) {
        return Some(Cause::AppCredentialsRejected);
    }
    Some(match (call, status) {
        // X answers a dead refresh token with `invalid_request` where RFC 6749
        // says `invalid_grant`; proxies and standard providers send the latter.
        (XCall::Refresh, 400 | 401) => Cause::RefreshTokenRejected,
        (XCall::CodeExchange, _) => Cause::RefreshTokenRejected,
        // A token that should be valid is refused: revoked at X (or clock
        // drift, which the caller tells apart with the measured offset).
        (XCall::UsersMe | XCall::Post, 401) => Cause::UserRevoked,
        (XCall::UsersMe | XCall::Post, 403) => Cause::ScopeMissing,
        _ => Cause::XUnavailable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(status: u16, error: &str) -> XAnswer<'_> {
        XAnswer { status: Some(status), error: Some(error), problem: None }
    }

    #[test]
    fn a_dead_refresh_token_is_recognised_in_xs_words_and_the_rfcs() {
        assert_eq!(classify(XCall::Refresh, token(400, "invalid_request")), Some(Cause::RefreshTokenRejected));
        assert_eq!(classify(XCall::Refresh, token(400, "invalid_grant")), Some(Cause::RefreshTokenRejected));
    }

    #[test]
    fn client_authentication_failures_are_the_apps_problem() {
        assert_eq!(classify(XCall::Refresh, token(401, "unauthorized_client")), Some(Cause::AppCredentialsRejected));
        assert_eq!(classify(XCall::Refresh, token(401, "invalid_client")), Some(Cause::AppCredentialsRejected));
        let not_enrolled = XAnswer {
            status: Some(403),
            error: None,
            problem: Some("https://api.twitter.com/2/problems/client-forbidden"),
        };
        assert_eq!(classify(XCall::UsersMe, not_enrolled), Some(Cause::AppCredentialsRejected));
    }

    #[test]
    fn outages_and_rate_limits_are_transient_whatever_the_call() {
        for call in [XCall::Refresh, XCall::UsersMe, XCall::Post, XCall::CodeExchange] {
            assert_eq!(classify(call, XAnswer::default()), Some(Cause::XUnavailable));
            assert_eq!(classify(call, XAnswer { status: Some(503), ..Default::default() }), Some(Cause::XUnavailable));
            assert_eq!(classify(call, XAnswer { status: Some(429), ..Default::default() }), Some(Cause::RateLimited));
        }
    }

    #[test]
    fn an_empty_balance_is_billing_on_every_call() {
        let payment = XAnswer { status: Some(402), error: None, problem: Some("https://api.x.com/2/problems/credits-depleted") };
        for call in [XCall::UsersMe, XCall::Post, XCall::Refresh] {
            assert_eq!(classify(call, payment), Some(Cause::CreditsDepleted), "{call:?}");
        }
    }

    #[test]
    fn v2_refusals_tell_revocation_from_missing_scope() {
        let s = |status| XAnswer { status: Some(status), ..Default::default() };
        assert_eq!(classify(XCall::UsersMe, s(401)), Some(Cause::UserRevoked));
        assert_eq!(classify(XCall::Post, s(403)), Some(Cause::ScopeMissing));
        assert_eq!(classify(XCall::Post, s(201)), None);
    }
}
