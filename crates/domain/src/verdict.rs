//! What X's refusals turn out to mean once authwatch has looked further: a
//! refresh that confirms (or not) a refused access token, the access token
//! tried after a refused refresh token, the grant's age, the write-ahead log.
//! Pure: plain facts and times in, a cause and the sentence naming its
//! evidence out. The lifecycle gathers the facts; nothing here does I/O.
//!
//! The rule behind it: a single 401 is never a verdict. X refuses valid
//! tokens now and then (an access token invalidated early, its own auth
//! outages), and one refused refresh token hides several stories (revoked,
//! expired, spent by a copy of the tokens, rotated while the answer was
//! lost) that only these facts tell apart.

use crate::format::utc;
use crate::health::{Cause, Diagnosis, Health};

const DAY_MS: i64 = 86_400_000;

/// How long X's refresh tokens last: about 6 months (X staff), counted from
/// the consent.
pub const REFRESH_TOKEN_LIFETIME_MS: i64 = 180 * DAY_MS;

/// A grant at least this old has a refresh token that may have run out:
/// "about 6 months", with a margin for how X counts them.
pub const REFRESH_TOKEN_AGE_SUSPECT_MS: i64 = 170 * DAY_MS;

/// What an access token said when authwatch tried it (`GET /2/users/me`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// X accepted it at this time.
    Works { at: i64 },
    /// X refused it (401) at this time.
    Refused { at: i64 },
    /// Not tried (it had expired by our clock) or X gave no usable answer.
    Untested,
}

/// What is known when X has just refused an account's refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedRefresh {
    /// When X refused it.
    pub refused_at: i64,
    /// The token generation whose refresh token was refused.
    pub generation: i64,
    /// When the person consented to this grant (its connect or reconnect).
    pub granted_at: i64,
    /// A refresh of this generation sent earlier whose answer never came:
    /// when it was sent.
    pub unanswered_refresh_at: Option<i64>,
    /// The access token of the same generation, tried after the refusal.
    pub access: Probe,
}

/// A cause and why: one sentence that names the evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub cause: Cause,
    pub why: String,
}

impl Verdict {
    fn new(cause: Cause, why: String) -> Self {
        Self { cause, why }
    }
}

/// Tells apart what X's one refresh error ("Value passed for the token was
/// invalid.") hides. In this order, since each explains the later ones' facts:
/// 1. an unanswered refresh of this generation in the log: X rotated then,
///    and the new refresh token was lost (the old access token may well
///    still work, so this comes before a copy);
/// 2. a grant about 6 months old: the refresh token ran out;
/// 3. the access token of the same generation still works: someone else
///    spent the refresh token, so a copy of these tokens exists;
/// 4. the access token is refused too: the whole grant was revoked at X;
/// 5. nothing more is known: revoked, or spent.
pub fn after_rejected_refresh(f: &RejectedRefresh) -> Verdict {
    let refused = format!("X refused the refresh token of generation {} at {}", f.generation, utc(f.refused_at));
    if let Some(sent) = f.unanswered_refresh_at {
        return Verdict::new(
            Cause::RotationLost,
            format!(
                "{refused}, and a refresh of that generation sent at {} never got its answer: X rotated the refresh token then, and the new one was lost.",
                utc(sent)
            ),
        );
    }
    let age = f.refused_at - f.granted_at;
    if age >= REFRESH_TOKEN_AGE_SUSPECT_MS {
        return Verdict::new(
            Cause::RefreshTokenExpired,
            format!(
                "{refused}, {} days after the consent of {}: X's refresh tokens last about 6 months, so it expired.",
                age / DAY_MS,
                utc(f.granted_at)
            ),
        );
    }
    match f.access {
        Probe::Works { at } => Verdict::new(
            Cause::TokensCopied,
            format!(
                "{refused} while the access token of the same generation still worked at {}: another copy of these tokens refreshed it.",
                utc(at)
            ),
        ),
        Probe::Refused { at } => Verdict::new(
            Cause::UserRevoked,
            format!(
                "{refused} and the access token of the same generation at {} too: the grant was revoked at X (disconnected in X's settings, or the account was suspended).",
                utc(at)
            ),
        ),
        Probe::Untested => Verdict::new(
            Cause::RefreshTokenRejected,
            format!(
                "{refused}; its access token could not be tried to tell more, so it was revoked or already used."
            ),
        ),
    }
}

/// What X's 401 on an access token means before anything else is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Expired by our clock: X is right, a refresh is due (not an incident).
    Expired,
    /// Valid by our clock, expired by X's, which is far off ours: the clock.
    ClockDrift,
    /// Valid by every clock: confirm with a fresh token before deciding.
    Confirm,
}

/// Reads a 401 on a token valid until `valid_until` at `now`, with X's clock
/// measured `x_clock_offset_ms` ahead of ours (when known).
pub fn refused_access(now: i64, valid_until: i64, x_clock_offset_ms: Option<i64>, drift_threshold_ms: i64) -> Refusal {
    let offset = x_clock_offset_ms.unwrap_or(0);
    if now >= valid_until {
        Refusal::Expired
    } else if offset.abs() > drift_threshold_ms && now + offset >= valid_until {
        Refusal::ClockDrift
    } else {
        Refusal::Confirm
    }
}

/// X refused an access token that is valid by our clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefusedAccess {
    pub at: i64,
    pub generation: i64,
    /// Its expiry, by our clock.
    pub valid_until: i64,
}

/// What came of confirming the refusal with a fresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// A newer token (refreshed now, or saved by another writer meanwhile)
    /// worked at `at`.
    FreshWorks { generation: i64, at: i64 },
    /// A newer token was refused too, at `at`.
    FreshRefused { generation: i64, at: i64 },
    /// A newer token was had, but trying it failed otherwise (X's trouble).
    FreshUntried(Cause),
    /// The refresh failed; its own verdict (see [`after_rejected_refresh`])
    /// or X's trouble.
    RefreshFailed(Cause),
    /// No newer token could be had, and nothing says why.
    NothingFresh,
}

/// How a refusal of a valid access token ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// A refresh fixed it: nothing is wrong with the account.
    Fixed { note: String },
    /// A failure, with its cause and evidence.
    Failed(Verdict),
}

/// The verdict on an access token X refused while it was valid by our
/// clock, once a fresh token was tried: fixed by a refresh (X invalidated
/// it early); X's incident (fresh tokens refused too); or whatever the
/// refresh itself found. Never a reconnect on the refusal alone.
pub fn after_access_refused(refused: &RefusedAccess, confirmation: &Confirmation) -> Confirmed {
    let first = format!(
        "X refused the access token of generation {} at {} although it was valid until {}",
        refused.generation,
        utc(refused.at),
        utc(refused.valid_until)
    );
    match *confirmation {
        Confirmation::FreshWorks { generation, at } => Confirmed::Fixed {
            note: format!(
                "X refused the access token early; a refresh fixed it. ({first}; generation {generation} worked at {}.)",
                utc(at)
            ),
        },
        Confirmation::FreshRefused { generation, at } => Confirmed::Failed(Verdict::new(
            Cause::XRefusesValidTokens,
            format!(
                "{first}, and refused the freshly refreshed generation {generation} at {} too: X is refusing valid tokens (its own incident); nobody needs to reconnect.",
                utc(at)
            ),
        )),
        Confirmation::FreshUntried(cause) => Confirmed::Failed(Verdict::new(
            cause,
            format!("{first}; a refresh succeeded, but trying the new token failed: {}", cause.describe()),
        )),
        Confirmation::RefreshFailed(cause) => Confirmed::Failed(Verdict::new(
            cause,
            format!("{first}; the refresh that would confirm it failed: {}", cause.describe()),
        )),
        Confirmation::NothingFresh => Confirmed::Failed(Verdict::new(
            Cause::XUnavailable,
            format!("{first}; no fresh token could be had to confirm it, so nothing is decided yet."),
        )),
    }
}

/// What the second signed call said about an OAuth 1.0a token that X's v2
/// API refused with its generic 401 (which says nothing of why). The second
/// call is one whose refusals carry X's code: 89, 32 or 135.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondCall {
    /// X answered it: the token and the consumer key work.
    Works,
    /// X refused it, with this cause (`classify::classify_oauth1`).
    Refused(Cause),
}

impl SecondCall {
    /// The second call's refusal, classified as `cause`, with X's v1.1
    /// `code` when its body had one. Only X's own code 89 names a dead
    /// token: a 401 without it (an outage's generic body, a proxy) decides
    /// nothing, and is waited out like X's other trouble.
    pub fn refused(cause: Cause, code: Option<u32>) -> SecondCall {
        match cause {
            Cause::Oauth1TokenInvalid if code != Some(crate::classify::oauth1_code::INVALID_TOKEN) => {
                SecondCall::Refused(Cause::XUnavailable)
            }
            other => SecondCall::Refused(other),
        }
    }
}

/// The verdict on an OAuth 1.0a token the v2 API refused at `at`, once a
/// second signed call was made. There is no refresh to try: that call, and
/// the other accounts of the app (`incidents::consumer_key_regenerated`),
/// are the evidence. Never a reconnect on the v2 refusal alone.
pub fn after_oauth1_refusal(at: i64, second: SecondCall) -> Verdict {
    let first = format!("X's v2 API refused the OAuth 1.0a token at {} with its generic 401", utc(at));
    match second {
        SecondCall::Works => Verdict::new(
            Cause::XRefusesValidTokens,
            format!(
                "{first}, but a second signed call a moment later was answered: the token and the consumer key work. X is refusing valid tokens (its own incident); nobody needs to reconnect."
            ),
        ),
        SecondCall::Refused(cause) => Verdict::new(
            cause,
            format!("{first}, and a second signed call confirmed why: {}", cause.describe()),
        ),
    }
}

/// The cause of a refusal of a token handed out fresh for a retry: a 401
/// on a token X granted a moment ago is X refusing valid tokens, whatever
/// the first refusal was classified as.
pub fn refused_when_fresh(cause: Cause) -> Cause {
    match cause {
        // An OAuth 1.0a token a second signed call found working a moment ago.
        Cause::UserRevoked | Cause::AccessTokenExpired | Cause::Oauth1TokenInvalid => Cause::XRefusesValidTokens,
        other => other,
    }
}

/// X refused a post and there is no retry left: after the one retry with a
/// fresh token of `generation` at `at` (`retried`), or for what no token
/// cures. `first` is the refusal of a valid token that the retry was to
/// confirm, when there was one.
pub fn post_stopped(cause: Cause, retried: bool, first: Option<&RefusedAccess>, generation: i64, at: i64) -> Verdict {
    let cause = if retried { refused_when_fresh(cause) } else { cause };
    let confirmed = first
        .filter(|_| cause == Cause::XRefusesValidTokens)
        .map(|refused| after_access_refused(refused, &Confirmation::FreshRefused { generation, at }));
    match confirmed {
        Some(Confirmed::Failed(verdict)) => verdict,
        _ => Verdict::new(cause, "X refused the post; no further retry".to_owned()),
    }
}

/// The failure that opened, or last continued, an account's open incident:
/// its event on the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deciding<'a> {
    pub cause: Cause,
    pub at: i64,
    /// X's HTTP status, when X answered.
    pub status: Option<i64>,
    /// What the event recorded of its evidence (the verdicts above write
    /// their sentence there).
    pub detail: Option<&'a str>,
}

/// What the account page knows when it answers "Why this verdict?".
#[derive(Clone, Copy, Debug)]
pub struct WhyFacts<'a> {
    pub diagnosis: &'a Diagnosis,
    pub deciding: Option<Deciding<'a>>,
    pub last_verified_at: Option<i64>,
    pub expires_at: i64,
}

/// "Why this verdict?" in one sentence naming the evidence: the deciding
/// event's own account of it when the verdict rests on a failure, else the
/// facts that make the account healthy, due or expired.
pub fn why(f: &WhyFacts<'_>) -> String {
    let d = f.diagnosis;
    if let (Some(cause), Some(e)) = (d.cause, f.deciding) {
        if e.cause == cause {
            return match (e.detail.map(str::trim).filter(|s| !s.is_empty()), e.status) {
                (Some(detail), _) => sentence(detail),
                (None, Some(status)) => {
                    format!("X answered HTTP {status} at {}: {}", utc(e.at), lower_first(cause.describe()))
                }
                (None, None) => format!("At {}: {}", utc(e.at), lower_first(cause.describe())),
            };
        }
    }
    if !d.missing_scopes.is_empty() {
        return format!("X granted this account without {}, which authwatch requires.", d.missing_scopes.join(", "));
    }
    match (d.health, d.cause) {
        (Health::Healthy, _) => match f.last_verified_at {
            Some(at) => format!(
                "X last accepted this grant at {}, and the access token is valid until {}.",
                utc(at),
                utc(f.expires_at)
            ),
            None => format!("The access token is valid until {} and nothing has failed.", utc(f.expires_at)),
        },
        (Health::RefreshDue, None) => {
            format!(
                "The access token expires at {}, within the refresh lead time, and nothing has failed.",
                utc(f.expires_at)
            )
        }
        (Health::ExpiredRefreshable, _) => {
            format!("The access token expired at {} and X has not refused the refresh token.", utc(f.expires_at))
        }
        (Health::NeverChecked, _) => "Connected, but X has not been asked about this grant since.".to_owned(),
        _ => sentence(&d.summary),
    }
}

/// `text` as a sentence: capital first letter, full stop at the end.
fn sentence(text: &str) -> String {
    let mut out: String = text.chars().take(1).flat_map(char::to_uppercase).chain(text.chars().skip(1)).collect();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.clone().next()) {
        // Keep acronyms and names ("X rejected…") as they are.
        (Some(first), Some(second)) if !second.is_uppercase() && first != 'X' => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod oauth1_tests {
    use super::*;

    #[test]
    fn a_v2_refusal_of_a_1_0a_token_condemns_nothing_until_the_second_call_says_why() {
        let works = after_oauth1_refusal(1_800_000_000_000, SecondCall::Works);
        assert_eq!(works.cause, Cause::XRefusesValidTokens);
        assert_eq!(works.cause.who(), crate::health::Who::Nobody);
        assert!(works.why.contains("nobody needs to reconnect"), "{}", works.why);
        for (cause, who) in [
            (Cause::Oauth1TokenInvalid, crate::health::Who::Owner),
            (Cause::ConsumerKeyRejected, crate::health::Who::Admin),
            (Cause::ClockDrift, crate::health::Who::Operations),
            (Cause::XUnavailable, crate::health::Who::Nobody),
        ] {
            let v = after_oauth1_refusal(1_800_000_000_000, SecondCall::Refused(cause));
            assert_eq!((v.cause, v.cause.who()), (cause, who));
            assert!(v.why.contains("second signed call"), "{}", v.why);
        }
    }

    #[test]
    fn only_xs_own_code_89_on_the_second_call_condemns_a_1_0a_token() {
        assert_eq!(
            SecondCall::refused(Cause::Oauth1TokenInvalid, Some(89)),
            SecondCall::Refused(Cause::Oauth1TokenInvalid)
        );
        // A generic 401 on the second call too: nothing is decided.
        assert_eq!(SecondCall::refused(Cause::Oauth1TokenInvalid, None), SecondCall::Refused(Cause::XUnavailable));
        assert_eq!(
            SecondCall::refused(Cause::ConsumerKeyRejected, Some(32)),
            SecondCall::Refused(Cause::ConsumerKeyRejected)
        );
        assert_eq!(SecondCall::refused(Cause::ClockDrift, Some(135)), SecondCall::Refused(Cause::ClockDrift));
        let v = after_oauth1_refusal(0, SecondCall::refused(Cause::Oauth1TokenInvalid, None));
        assert_eq!(v.cause.who(), crate::health::Who::Nobody, "never a reconnect without X's code");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000_000;
    const MIN: i64 = 60_000;

    fn rejected(access: Probe) -> RejectedRefresh {
        RejectedRefresh {
            refused_at: T,
            generation: 7,
            granted_at: T - 30 * DAY_MS,
            unanswered_refresh_at: None,
            access,
        }
    }

    #[test]
    fn a_rejected_refresh_token_is_told_apart_by_what_else_is_known() {
        let works = Probe::Works { at: T + 1000 };
        let refused = Probe::Refused { at: T + 1000 };
        let aged = T - 181 * DAY_MS;
        let cases: &[(&str, RejectedRefresh, Cause)] = &[
            ("access still works", rejected(works), Cause::TokensCopied),
            ("access refused too", rejected(refused), Cause::UserRevoked),
            ("access not tried", rejected(Probe::Untested), Cause::RefreshTokenRejected),
            ("old grant", RejectedRefresh { granted_at: aged, ..rejected(refused) }, Cause::RefreshTokenExpired),
            (
                "old grant, access works",
                RejectedRefresh { granted_at: aged, ..rejected(works) },
                Cause::RefreshTokenExpired,
            ),
            (
                "just under 170 days",
                RejectedRefresh { granted_at: T - 169 * DAY_MS, ..rejected(works) },
                Cause::TokensCopied,
            ),
            (
                "exactly 170 days",
                RejectedRefresh { granted_at: T - REFRESH_TOKEN_AGE_SUSPECT_MS, ..rejected(works) },
                Cause::RefreshTokenExpired,
            ),
            (
                "lost answer",
                RejectedRefresh { unanswered_refresh_at: Some(T - MIN), ..rejected(works) },
                Cause::RotationLost,
            ),
            (
                "lost answer, old grant",
                RejectedRefresh { unanswered_refresh_at: Some(T - MIN), granted_at: aged, ..rejected(refused) },
                Cause::RotationLost,
            ),
        ];
        for (what, facts, want) in cases {
            let v = after_rejected_refresh(facts);
            assert_eq!(v.cause, *want, "{what}");
            assert!(
                v.why.starts_with("X refused the refresh token of generation 7 at 2027-01-15 08:00:00 UTC"),
                "{what}: {}",
                v.why
            );
        }
    }

    #[test]
    fn each_verdict_names_its_evidence_in_one_sentence() {
        let copied = after_rejected_refresh(&rejected(Probe::Works { at: T + 2000 }));
        assert_eq!(
            copied.why,
            "X refused the refresh token of generation 7 at 2027-01-15 08:00:00 UTC while the access token of the same generation still worked at 2027-01-15 08:00:02 UTC: another copy of these tokens refreshed it."
        );
        let expired =
            after_rejected_refresh(&RejectedRefresh { granted_at: T - 183 * DAY_MS, ..rejected(Probe::Untested) });
        assert!(expired.why.contains("183 days after the consent of 2026-07-16 08:00:00 UTC"), "{}", expired.why);
        let lost = after_rejected_refresh(&RejectedRefresh {
            unanswered_refresh_at: Some(T - MIN),
            ..rejected(Probe::Untested)
        });
        assert!(lost.why.contains("sent at 2027-01-15 07:59:00 UTC never got its answer"), "{}", lost.why);
        for v in [copied, expired, lost] {
            assert_eq!(v.why.matches(". ").count(), 0, "one sentence: {}", v.why);
            assert!(v.why.ends_with('.'));
        }
    }

    #[test]
    fn a_401_is_read_against_both_clocks_first() {
        const THRESHOLD: i64 = 30_000;
        let cases: &[(&str, i64, Option<i64>, Refusal)] = &[
            ("expired by our clock", T - 1, None, Refusal::Expired),
            ("expires right now", T, Some(0), Refusal::Expired),
            ("valid, clocks agree", T + 10 * MIN, Some(1_000), Refusal::Confirm),
            ("valid, offset unknown", T + 10 * MIN, None, Refusal::Confirm),
            ("X an hour ahead", T + 10 * MIN, Some(60 * MIN), Refusal::ClockDrift),
            ("X ahead, but still valid there", T + 10 * MIN, Some(5 * MIN), Refusal::Confirm),
            ("X behind", T + 10 * MIN, Some(-60 * MIN), Refusal::Confirm),
            ("small offset at the edge", T + 20_000, Some(25_000), Refusal::Confirm),
        ];
        for (what, valid_until, offset, want) in cases {
            assert_eq!(refused_access(T, *valid_until, *offset, THRESHOLD), *want, "{what}");
        }
    }

    #[test]
    fn a_refused_access_token_is_confirmed_before_anything_is_decided() {
        let refused = RefusedAccess { at: T, generation: 3, valid_until: T + 90 * MIN };
        let cases: &[(Confirmation, Option<Cause>)] = &[
            (Confirmation::FreshWorks { generation: 4, at: T + 500 }, None),
            (Confirmation::FreshRefused { generation: 4, at: T + 500 }, Some(Cause::XRefusesValidTokens)),
            (Confirmation::FreshUntried(Cause::XUnavailable), Some(Cause::XUnavailable)),
            (Confirmation::RefreshFailed(Cause::UserRevoked), Some(Cause::UserRevoked)),
            (Confirmation::RefreshFailed(Cause::TokensCopied), Some(Cause::TokensCopied)),
            (Confirmation::RefreshFailed(Cause::XUnavailable), Some(Cause::XUnavailable)),
            (Confirmation::NothingFresh, Some(Cause::XUnavailable)),
        ];
        for (confirmation, want) in cases {
            match (after_access_refused(&refused, confirmation), want) {
                (Confirmed::Fixed { note }, None) => {
                    assert!(note.starts_with("X refused the access token early; a refresh fixed it."), "{note}")
                }
                (Confirmed::Failed(v), Some(want)) => {
                    assert_eq!(v.cause, *want, "{confirmation:?}");
                    assert!(v.why.contains("valid until 2027-01-15 09:30:00 UTC"), "{}", v.why);
                }
                (other, want) => panic!("{confirmation:?}: {other:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn no_single_refusal_of_a_valid_token_ever_asks_for_a_reconnect() {
        let refused = RefusedAccess { at: T, generation: 3, valid_until: T + MIN };
        for c in [Confirmation::FreshRefused { generation: 4, at: T }, Confirmation::NothingFresh] {
            let Confirmed::Failed(v) = after_access_refused(&refused, &c) else { panic!("{c:?}") };
            assert!(v.cause.is_transient(), "{c:?}: {:?}", v.cause);
        }
        assert_eq!(refused_when_fresh(Cause::UserRevoked), Cause::XRefusesValidTokens);
        assert_eq!(refused_when_fresh(Cause::ScopeMissing), Cause::ScopeMissing);
    }

    #[test]
    fn a_post_refused_after_its_retry_is_xs_incident_not_the_accounts() {
        let first = RefusedAccess { at: T, generation: 3, valid_until: T + 60 * MIN };
        let cases: &[(Cause, bool, Option<&RefusedAccess>, Cause)] = &[
            (Cause::UserRevoked, true, Some(&first), Cause::XRefusesValidTokens),
            (Cause::UserRevoked, true, None, Cause::XRefusesValidTokens),
            (Cause::UserRevoked, false, None, Cause::UserRevoked),
            (Cause::ScopeMissing, false, None, Cause::ScopeMissing),
            (Cause::AppCredentialsRejected, true, Some(&first), Cause::AppCredentialsRejected),
        ];
        for (cause, retried, first, want) in cases {
            assert_eq!(post_stopped(*cause, *retried, *first, 4, T + 1000).cause, *want, "{cause:?} {retried}");
        }
        let why = post_stopped(Cause::UserRevoked, true, Some(&first), 4, T + 1000).why;
        assert!(why.contains("refused the freshly refreshed generation 4"), "{why}");
    }

    fn diagnosis(health: Health, cause: Option<Cause>) -> Diagnosis {
        Diagnosis {
            health,
            cause,
            summary: cause.map_or("All is well.", |c| c.describe()).to_owned(),
            next_step: String::new(),
            who: crate::health::Who::Nobody,
            missing_scopes: vec![],
        }
    }

    #[test]
    fn why_this_verdict_names_the_evidence_in_one_sentence() {
        use crate::health::Action;
        let copied = diagnosis(Health::ActionNeeded(Action::Reconnect), Some(Cause::TokensCopied));
        let evidence = after_rejected_refresh(&rejected(Probe::Works { at: T })).why;
        let deciding = Deciding { cause: Cause::TokensCopied, at: T, status: Some(400), detail: Some(&evidence) };
        let facts = |d, deciding| WhyFacts {
            diagnosis: d,
            deciding,
            last_verified_at: Some(T - MIN),
            expires_at: T + 60 * MIN,
        };
        assert_eq!(why(&facts(&copied, Some(deciding))), evidence);

        // A failure that recorded no sentence: X's status and time.
        let revoked = diagnosis(Health::ActionNeeded(Action::Reconnect), Some(Cause::UserRevoked));
        let bare = Deciding { cause: Cause::UserRevoked, at: T, status: Some(401), detail: None };
        assert_eq!(
            why(&facts(&revoked, Some(bare))),
            "X answered HTTP 401 at 2027-01-15 08:00:00 UTC: the account's access was revoked at X (disconnected in X's settings)."
        );
        // An event of another cause is not this verdict's evidence.
        assert_eq!(why(&facts(&revoked, Some(deciding))), Cause::UserRevoked.describe());
        let recovery = Deciding {
            cause: Cause::RefreshAnswerLost,
            at: T,
            status: None,
            detail: Some("a refresh of generation 3 started and never recorded an answer"),
        };
        let lost = diagnosis(Health::RefreshDue, Some(Cause::RefreshAnswerLost));
        assert_eq!(
            why(&facts(&lost, Some(recovery))),
            "A refresh of generation 3 started and never recorded an answer."
        );

        let healthy = diagnosis(Health::Healthy, None);
        assert_eq!(
            why(&facts(&healthy, None)),
            "X last accepted this grant at 2027-01-15 07:59:00 UTC, and the access token is valid until 2027-01-15 09:00:00 UTC."
        );
        let due = diagnosis(Health::RefreshDue, None);
        assert!(why(&facts(&due, None)).contains("within the refresh lead time"));
        let mut scopes = diagnosis(Health::ActionNeeded(Action::Reconnect), Some(Cause::ScopeMissing));
        scopes.missing_scopes = vec!["tweet.write".into()];
        assert_eq!(why(&facts(&scopes, None)), "X granted this account without tweet.write, which authwatch requires.");
        let outage = diagnosis(Health::XUnavailable, Some(Cause::XRefusesValidTokens));
        assert!(why(&facts(&outage, None)).starts_with("X is refusing valid access tokens"));
    }
}
