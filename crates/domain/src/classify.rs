//! Which [`Cause`] an answer from X means. Pure: status and body fields in,
//! cause out, tested on X's exact answers (docs/x-behaviour.md).

use crate::health::Cause;
use crate::scopes::{Scopes, PUBLISHING, USERS_ME};

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
    /// `POST /2/oauth2/revoke`, for a token authwatch does not keep.
    Revoke,
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
        // X refused the access token. Not yet a verdict: the caller confirms
        // with a refresh (`verdict::after_access_refused`), or tells clock
        // drift apart with the measured offset.
        (XCall::UsersMe | XCall::Post, 401) => Cause::UserRevoked,
        // X's generic 403 is what it answers a missing scope; whether the
        // grant really lacks one is for `forbidden_given` to say.
        (XCall::UsersMe | XCall::Post, 403) => Cause::ScopeMissing,
        // A refused revocation is about a token nobody keeps: it says
        // nothing of a stored grant, least of all that a refresh token died.
        (XCall::Revoke, _) => Cause::XUnavailable,
        _ => Cause::XUnavailable,
    })
}

/// Classifies a failed call reading also the v2 problem's `detail`: a 403
/// on a post whose detail is not X's generic "Forbidden" (nor about scopes)
/// refuses the post — "You are not allowed to create a Tweet with duplicate
/// content.", a reply X does not allow — and says nothing about the grant.
pub fn classify_answer(call: XCall, answer: XAnswer<'_>, detail: Option<&str>) -> Option<Cause> {
    let cause = classify(call, answer)?;
    let about_the_post = detail.is_some_and(|d| !is_generic_forbidden(d) && !d.to_lowercase().contains("scope"));
    if cause == Cause::ScopeMissing && call == XCall::Post && about_the_post {
        return Some(Cause::ContentRefused);
    }
    Some(cause)
}

/// X's generic 403 detail, the reason phrase alone.
fn is_generic_forbidden(detail: &str) -> bool {
    let d = detail.trim();
    d.is_empty() || d.eq_ignore_ascii_case("forbidden")
}

/// A missing-scope verdict needs evidence: X's generic 403 on a grant that
/// has every scope the call needs is not one. Then a post was refused for
/// itself, and a `users/me` refused a valid token: X's side.
pub fn forbidden_given(call: XCall, cause: Cause, granted: &Scopes) -> Cause {
    if cause != Cause::ScopeMissing {
        return cause;
    }
    match call {
        XCall::Post if granted.covers(PUBLISHING) => Cause::ContentRefused,
        XCall::UsersMe if granted.covers(USERS_ME) => Cause::XRefusesValidTokens,
        _ => cause,
    }
}

/// X's v1.1 error codes, as OAuth 1.0a answers carry them
/// (`{"errors":[{"code":89,…}]}`).
pub mod oauth1_code {
    /// "Could not authenticate you.": the signature or the consumer key.
    pub const COULD_NOT_AUTHENTICATE: u32 = 32;
    /// "Invalid or expired token.": the user's token is dead.
    pub const INVALID_TOKEN: u32 = 89;
    /// "Timestamp out of bounds.": the request's clock against X's.
    pub const TIMESTAMP_OUT_OF_BOUNDS: u32 = 135;
    /// "Callback URL not approved for this client application."
    pub const CALLBACK_NOT_APPROVED: u32 = 415;
}

/// Classifies a failed OAuth 1.0a call from its status and X's v1.1 error
/// code, when the answer has one. Returns `None` for a success status.
///
/// X's v2 endpoints answer a bad 1.0a call with the generic 401 problem
/// body, which cannot tell a dead token from a bad signature or a clock:
/// that is `Oauth1TokenInvalid` *to be confirmed* by a second signed call
/// whose answer carries a code (`verdict::after_oauth1_refusal`).
pub fn classify_oauth1(status: Option<u16>, code: Option<u32>, problem: Option<&str>) -> Option<Cause> {
    use oauth1_code::*;
    let Some(status) = status else {
        return Some(Cause::XUnavailable);
    };
    if (200..300).contains(&status) {
        return None;
    }
    Some(match code {
        Some(INVALID_TOKEN) => Cause::Oauth1TokenInvalid,
        Some(COULD_NOT_AUTHENTICATE) => Cause::ConsumerKeyRejected,
        Some(TIMESTAMP_OUT_OF_BOUNDS) => Cause::ClockDrift,
        _ => match classify(XCall::UsersMe, XAnswer { status: Some(status), error: None, problem })? {
            Cause::UserRevoked => Cause::Oauth1TokenInvalid,
            other => other,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(status: u16, error: &str) -> XAnswer<'_> {
        XAnswer { status: Some(status), error: Some(error), problem: None }
    }

    #[test]
    fn oauth1_answers_are_classified_by_xs_code_first() {
        use super::oauth1_code::*;
        let cases: &[(Option<u16>, Option<u32>, Option<Cause>)] = &[
            (Some(401), Some(INVALID_TOKEN), Some(Cause::Oauth1TokenInvalid)),
            (Some(401), Some(COULD_NOT_AUTHENTICATE), Some(Cause::ConsumerKeyRejected)),
            (Some(401), Some(TIMESTAMP_OUT_OF_BOUNDS), Some(Cause::ClockDrift)),
            // v2's generic 401: a dead token until a second call says otherwise.
            (Some(401), None, Some(Cause::Oauth1TokenInvalid)),
            (Some(402), None, Some(Cause::CreditsDepleted)),
            (Some(503), None, Some(Cause::XUnavailable)),
            (Some(429), None, Some(Cause::RateLimited)),
            (None, None, Some(Cause::XUnavailable)),
            (Some(200), None, None),
        ];
        for (status, code, want) in cases {
            assert_eq!(classify_oauth1(*status, *code, None), *want, "{status:?} {code:?}");
        }
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
        let payment =
            XAnswer { status: Some(402), error: None, problem: Some("https://api.x.com/2/problems/credits-depleted") };
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

    #[test]
    fn a_403_about_the_post_is_content_whatever_the_grant() {
        let forbidden = XAnswer { status: Some(403), error: None, problem: Some("about:blank") };
        let cases: &[(XCall, Option<&str>, Cause)] = &[
            (XCall::Post, Some("You are not allowed to create a Tweet with duplicate content."), Cause::ContentRefused),
            (XCall::Post, Some("You are not permitted to perform this action."), Cause::ContentRefused),
            (XCall::Post, Some("Forbidden"), Cause::ScopeMissing),
            (XCall::Post, Some(" forbidden "), Cause::ScopeMissing),
            (XCall::Post, None, Cause::ScopeMissing),
            (XCall::Post, Some("Missing scope tweet.write"), Cause::ScopeMissing),
            (
                XCall::UsersMe,
                Some("You are not allowed to create a Tweet with duplicate content."),
                Cause::ScopeMissing,
            ),
        ];
        for (call, detail, want) in cases {
            assert_eq!(classify_answer(*call, forbidden, *detail), Some(*want), "{call:?} {detail:?}");
        }
        // The app outside a Project has a long detail too: still the app's problem.
        let not_enrolled = XAnswer { status: Some(403), error: None, problem: Some("client-not-enrolled") };
        assert_eq!(
            classify_answer(XCall::Post, not_enrolled, Some("When authenticating requests…")),
            Some(Cause::AppCredentialsRejected)
        );
        assert_eq!(classify_answer(XCall::Post, XAnswer { status: Some(201), ..Default::default() }, None), None);
    }

    #[test]
    fn a_missing_scope_needs_the_grant_to_lack_it() {
        let full = Scopes::parse("tweet.read tweet.write users.read offline.access");
        let no_write = Scopes::parse("tweet.read users.read offline.access");
        let no_read = Scopes::parse("users.read offline.access");
        let cases: &[(XCall, &Scopes, Cause)] = &[
            (XCall::Post, &full, Cause::ContentRefused),
            (XCall::Post, &no_write, Cause::ScopeMissing),
            (XCall::UsersMe, &full, Cause::XRefusesValidTokens),
            (XCall::UsersMe, &no_write, Cause::XRefusesValidTokens),
            (XCall::UsersMe, &no_read, Cause::ScopeMissing),
        ];
        for (call, granted, want) in cases {
            assert_eq!(forbidden_given(*call, Cause::ScopeMissing, granted), *want, "{call:?} {granted}");
        }
        for other in [Cause::UserRevoked, Cause::AppCredentialsRejected, Cause::ContentRefused] {
            assert_eq!(forbidden_given(XCall::Post, other, &full), other);
        }
    }
}
