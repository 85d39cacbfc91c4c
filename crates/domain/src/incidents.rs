//! X incidents: many accounts of one X app failing the same way within
//! minutes. One refused account is that account's problem; a quarter of the
//! accounts X was asked about, refused the same way within ten minutes, is
//! X's (an auth outage that refuses valid tokens, a token endpoint that
//! refuses every refresh token, a 5xx storm) — and a prompt to every owner
//! would send a crowd to reconnect accounts that are fine.
//!
//! So: one prompt for the admins, the accounts' own prompts held, and once X
//! answers normally again each account verified with one refresh; those that
//! still fail are genuine and get their prompt then. Pure: the accounts'
//! recent failures, the incident already open and the clock in, the decision
//! out. The notifier and the prober carry it out.

use crate::health::{Cause, OpenIncident, Who};

/// When failures make an X incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// At least this many accounts failing the same way…
    pub min_accounts: usize,
    /// …that are at least this share (percent) of the accounts X was asked
    /// about since the first of them failed…
    pub min_share_percent: u32,
    /// …all failing within this long.
    pub window_ms: i64,
}

impl Default for Thresholds {
    /// 5 accounts, a quarter, 10 minutes. Independent revocations are rare
    /// (an account revokes an app once in months), so five in ten minutes
    /// is a coincidence no team meets; and a quarter of the accounts X was
    /// asked about keeps a large app's few genuine failures apart from an
    /// outage that hits nearly every call. Ten minutes holds a refresh
    /// sweep's backoff and a daily check of hundreds of accounts, and is
    /// the longest a genuine prompt waits while a storm may be forming.
    fn default() -> Self {
        Self { min_accounts: 5, min_share_percent: 25, window_ms: 10 * 60 * 1000 }
    }
}

/// How often at most X is asked whether it answers normally again: X's
/// auto-recharge runs at most once per 5 minutes, and an outage is not
/// over sooner for being asked more often.
pub const DEFAULT_PROBE_INTERVAL_MS: i64 = 5 * 60 * 1000;

/// What is known of one account of the app.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed<'a> {
    pub account_id: &'a str,
    /// Its open incident.
    pub incident: Option<OpenIncident>,
    /// The last time X was asked anything for it (a refresh, a check, a
    /// publish), whatever came of it.
    pub last_asked_at: Option<i64>,
    /// The last refresh tried, whatever came of it.
    pub last_refresh_at: Option<i64>,
}

/// The X incident open already (its prompt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ongoing {
    pub cause: Cause,
    pub opened_at: i64,
    /// When a probe last found X answering normally.
    pub recovered_at: Option<i64>,
}

/// An X incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XIncident {
    /// How its accounts fail.
    pub cause: Cause,
    /// When the first of them failed.
    pub since: i64,
    /// Accounts failing this way.
    pub failing: usize,
    /// Accounts X was asked about since the first of them failed.
    pub asked: usize,
    /// The accounts not verified since X answers normally: their prompts
    /// wait, and each is verified with one refresh once X does.
    pub held: Vec<String>,
    /// X answers normally again since then (a probe said so).
    pub recovered_at: Option<i64>,
}

/// The decision for one app at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Correlation {
    pub incident: Option<XIncident>,
    /// Every account whose prompt waits: the incident's held accounts, and
    /// accounts failing like at least half as many as an incident needs
    /// within the window while that is not (yet) one — for at most one window.
    pub held: Vec<String>,
}

/// Whether failures of `cause` can make an X incident: the accounts' own
/// causes and X's trouble. Not the app's (credentials, billing) nor the
/// server's clock, which are app-level incidents already; not the system's
/// own (a refresh that is due); not a 429, which is per user and waited out.
///
/// X's code 89 is not X's trouble either: it names the token, after a second
/// signed call confirmed it. Many at once are the app's consumer key
/// ([`consumer_key_regenerated`]), never an outage to wait out.
pub fn correlates(cause: Cause) -> bool {
    // A refused post is that post's problem: a thousand duplicates are no incident.
    !matches!(cause.who(), Who::Admin | Who::Operations | Who::System)
        && !matches!(
            cause,
            Cause::RateLimited | Cause::ContentRefused | Cause::Oauth1TokenInvalid | Cause::ConsumerKeyRegenerated
        )
}

/// Whether the app's OAuth 1.0a accounts died together of a regenerated
/// consumer key: at least two accounts connected with 1.0a, every one of
/// them refused with X's code 89, the first and the last within `window_ms`
/// of each other. One account's 89 is that account's revocation; all of
/// them at once is what regenerating the key does (X's auth FAQ). Returns
/// when the first of them failed. `incidents` has one entry per 1.0a account.
pub fn consumer_key_regenerated(incidents: &[Option<OpenIncident>], window_ms: i64) -> Option<i64> {
    if incidents.len() < 2 {
        return None;
    }
    let mut since = Vec::with_capacity(incidents.len());
    for i in incidents {
        match i {
            Some(i) if i.cause == Cause::Oauth1TokenInvalid => since.push(i.since),
            _ => return None,
        }
    }
    let first = *since.iter().min()?;
    let last = *since.iter().max()?;
    (last - first <= window_ms).then_some(first)
}

/// How a probe asks X whether it answers normally again for an incident of
/// `cause`: the call that failed. A refused access token is tried again
/// with `GET /2/users/me` (refreshing first if it has expired); everything
/// else with a refresh, since a users/me that works says nothing of a token
/// endpoint that refuses refresh tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    UsersMe,
    Refresh,
}

pub fn probe_for(cause: Cause) -> ProbeKind {
    match cause {
        // During X's auth outage refreshes still work: only a call with a
        // token tells whether X accepts its tokens again.
        Cause::UserRevoked | Cause::ScopeMissing | Cause::XRefusesValidTokens => ProbeKind::UsersMe,
        _ => ProbeKind::Refresh,
    }
}

/// Whether a probe last made at `last` may run again at `now`.
pub fn probe_due(last: Option<i64>, now: i64, interval_ms: i64) -> bool {
    last.is_none_or(|at| now - at >= interval_ms || at > now)
}

/// Decides whether `accounts` (every account of one app) are in an X
/// incident at `now`, given the one open already.
///
/// An open incident goes on while any account failing its way since shortly
/// before it opened is not verified: a refresh tried after X answered
/// normally again. A new one opens when at least `min_accounts` accounts
/// began failing the same way within the window, making at least
/// `min_share_percent` of the accounts X was asked about since the first of
/// them failed: an outage of the v2 API during a burst of posts is measured
/// against the posts, not against the refreshes that went well before it,
/// and a few genuine failures amid a busy sweep stay a few. An account a
/// refresh has been tried on since its failure began counts no more: it
/// was verified, so a genuine failure that outlived an incident never opens
/// the next one.
pub fn correlate(accounts: &[Observed<'_>], ongoing: Option<&Ongoing>, t: &Thresholds, now: i64) -> Correlation {
    let from = now - t.window_ms;
    // The accounts X was asked about since `since`: the ones a failure
    // beginning then is to be measured against.
    let asked_since = |since: i64| {
        accounts
            .iter()
            .filter(|a| {
                a.last_asked_at.is_some_and(|at| at >= since) || a.incident.as_ref().is_some_and(|i| i.since >= since)
            })
            .count()
    };
    let failing_since = |cause: Cause, since: i64| {
        accounts.iter().filter(move |a| a.incident.as_ref().is_some_and(|i| i.cause == cause && i.since >= since))
    };

    if let Some(o) = ongoing {
        let recovered = o.recovered_at.filter(|r| *r >= o.opened_at);
        let verified = |a: &Observed<'_>| recovered.is_some_and(|r| a.last_refresh_at.is_some_and(|at| at >= r));
        let members: Vec<&Observed<'_>> = failing_since(o.cause, o.opened_at - t.window_ms).collect();
        let held: Vec<String> = members.iter().filter(|a| !verified(a)).map(|a| a.account_id.to_owned()).collect();
        if !held.is_empty() {
            let since =
                members.iter().filter_map(|a| a.incident.as_ref().map(|i| i.since)).min().unwrap_or(o.opened_at);
            let asked = asked_since(since);
            let incident = XIncident {
                cause: o.cause,
                since,
                failing: members.len(),
                asked,
                held: held.clone(),
                recovered_at: recovered,
            };
            return Correlation { incident: Some(incident), held };
        }
    }

    // Failures within the window that no refresh has looked at since.
    let unverified = |a: &&Observed<'_>| {
        let since = a.incident.as_ref().map_or(i64::MAX, |i| i.since);
        a.last_refresh_at.is_none_or(|at| at <= since)
    };
    let mut groups: Vec<(Cause, Vec<&Observed<'_>>)> = Vec::new();
    for a in accounts {
        let Some(i) = &a.incident else { continue };
        if !correlates(i.cause) || i.since < from || !unverified(&a) {
            continue;
        }
        match groups.iter_mut().find(|(c, _)| *c == i.cause) {
            Some((_, members)) => members.push(a),
            None => groups.push((i.cause, vec![a])),
        }
    }
    // The largest group; on a tie, the cause seen first.
    let best = groups
        .iter()
        .enumerate()
        .max_by_key(|(n, (_, members))| (members.len(), std::cmp::Reverse(*n)))
        .map(|(_, g)| g);
    if let Some((cause, members)) = best {
        let since = members.iter().filter_map(|a| a.incident.as_ref().map(|i| i.since)).min().unwrap_or(now);
        let asked = asked_since(since);
        let share_ok = members.len() * 100 >= t.min_share_percent as usize * asked;
        if members.len() >= t.min_accounts.max(1) && share_ok {
            let held: Vec<String> = members.iter().map(|a| a.account_id.to_owned()).collect();
            let incident = XIncident {
                cause: *cause,
                since,
                failing: members.len(),
                asked,
                held: held.clone(),
                recovered_at: None,
            };
            return Correlation { incident: Some(incident), held };
        }
    }
    // A storm may be forming: at least half the accounts an incident needs,
    // failing the same way, wait (at most one window) for it to become one
    // or not. Two at once are still each their account's story.
    let forming = |m: &Vec<&Observed<'_>>| m.len() > 2 && m.len() * 2 >= t.min_accounts;
    let held = groups
        .iter()
        .filter(|(_, m)| forming(m))
        .flat_map(|(_, m)| m.iter().map(|a| a.account_id.to_owned()))
        .collect();
    Correlation { incident: None, held }
}

#[cfg(test)]
mod consumer_key_tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn invalid(since: i64) -> Option<OpenIncident> {
        Some(OpenIncident { cause: Cause::Oauth1TokenInvalid, since })
    }

    #[test]
    fn every_1_0a_account_refused_with_89_together_is_a_regenerated_key() {
        let window = 10 * MIN;
        assert_eq!(consumer_key_regenerated(&[invalid(5 * MIN), invalid(MIN), invalid(3 * MIN)], window), Some(MIN));
        // One account is that account's revocation.
        assert_eq!(consumer_key_regenerated(&[invalid(MIN)], window), None);
        // One account still fine, or failing otherwise: not the key.
        assert_eq!(consumer_key_regenerated(&[invalid(MIN), None], window), None);
        let clock = Some(OpenIncident { cause: Cause::ClockDrift, since: MIN });
        assert_eq!(consumer_key_regenerated(&[invalid(MIN), clock], window), None);
        // Revocations weeks apart are not one event.
        assert_eq!(consumer_key_regenerated(&[invalid(MIN), invalid(MIN + window + 1)], window), None);
        assert_eq!(consumer_key_regenerated(&[], window), None);
        assert!(!correlates(Cause::Oauth1TokenInvalid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const NOW: i64 = 1_800_000_000_000;

    /// The accounts `ids`, each failing with `cause` since `at`, asked then.
    fn failing(ids: &'static [&'static str], cause: Cause, at: i64) -> Vec<Observed<'static>> {
        ids.iter()
            .map(|id| Observed {
                account_id: id,
                incident: Some(OpenIncident { cause, since: at }),
                last_asked_at: Some(at),
                last_refresh_at: Some(at - 30 * MIN),
            })
            .collect()
    }

    fn healthy(ids: &'static [&'static str], asked_at: i64) -> Vec<Observed<'static>> {
        ids.iter()
            .map(|id| Observed {
                account_id: id,
                incident: None,
                last_asked_at: Some(asked_at),
                last_refresh_at: Some(asked_at),
            })
            .collect()
    }

    const EIGHT: &[&str] = &["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"];
    const FOUR: &[&str] = &["a0", "a1", "a2", "a3"];
    const TWO: &[&str] = &["h0", "h1"];
    const MANY: &[&str] = &[
        "h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "h11", "h12", "h13", "h14", "h15", "h16",
        "h17", "h18", "h19", "h20", "h21", "h22", "h23", "h24", "h25", "h26", "h27", "h28", "h29", "h30", "h31",
    ];

    #[test]
    fn when_failures_are_an_x_incident() {
        let t = Thresholds::default();
        let cases: Vec<(&str, Vec<Observed<'static>>, Option<Cause>, usize)> = vec![
            (
                "8 of 10 revoked within a minute",
                [failing(EIGHT, Cause::UserRevoked, NOW - MIN), healthy(TWO, NOW - MIN)].concat(),
                Some(Cause::UserRevoked),
                8,
            ),
            (
                "4 are fewer than 5: no incident, but their prompts wait",
                [failing(FOUR, Cause::UserRevoked, NOW - MIN), healthy(TWO, NOW)].concat(),
                None,
                4,
            ),
            (
                "8 of 40 asked since is a fifth, under a quarter",
                [failing(EIGHT, Cause::RefreshTokenRejected, NOW - MIN), healthy(MANY, NOW)].concat(),
                None,
                8,
            ),
            (
                "8 of 40 accounts, of which only 10 were asked since the first failure",
                [
                    failing(EIGHT, Cause::RefreshTokenRejected, NOW - MIN),
                    healthy(TWO, NOW),
                    healthy(&MANY[2..], NOW - 2 * MIN),
                ]
                .concat(),
                Some(Cause::RefreshTokenRejected),
                8,
            ),
            (
                "failures older than the window",
                [failing(EIGHT, Cause::UserRevoked, NOW - 11 * MIN), healthy(TWO, NOW)].concat(),
                None,
                0,
            ),
            ("X's 5xx storm", failing(EIGHT, Cause::XUnavailable, NOW - MIN), Some(Cause::XUnavailable), 8),
            (
                "429s are per user: waited out, never an incident",
                failing(EIGHT, Cause::RateLimited, NOW - MIN),
                None,
                0,
            ),
            (
                "rejected app credentials are the app's incident already",
                failing(EIGHT, Cause::AppCredentialsRejected, NOW - MIN),
                None,
                0,
            ),
            (
                "a single failure is its account's: prompted at once",
                failing(&EIGHT[..1], Cause::UserRevoked, NOW - MIN),
                None,
                0,
            ),
            (
                "two at once are still each their own",
                [failing(&EIGHT[..2], Cause::UserRevoked, NOW - MIN), healthy(TWO, NOW)].concat(),
                None,
                0,
            ),
            (
                "different causes are different stories",
                [
                    failing(&EIGHT[..3], Cause::UserRevoked, NOW - MIN),
                    failing(&EIGHT[3..6], Cause::RefreshTokenRejected, NOW - MIN),
                ]
                .concat(),
                None,
                6,
            ),
        ];
        for (what, accounts, cause, held) in cases {
            let c = correlate(&accounts, None, &t, NOW);
            assert_eq!(c.incident.as_ref().map(|i| i.cause), cause, "{what}: {c:?}");
            assert_eq!(c.held.len(), held, "{what}: {c:?}");
            if let Some(i) = c.incident {
                assert_eq!(i.held.len(), i.failing, "{what}: every failing account is held");
                assert_eq!(i.since, NOW - MIN, "{what}");
            }
        }
    }

    #[test]
    fn thresholds_are_the_configured_ones() {
        let accounts = [failing(FOUR, Cause::UserRevoked, NOW - 3 * MIN), healthy(TWO, NOW)].concat();
        let loose = Thresholds { min_accounts: 3, min_share_percent: 50, window_ms: 5 * MIN };
        assert!(correlate(&accounts, None, &loose, NOW).incident.is_some());
        let narrow = Thresholds { window_ms: 2 * MIN, ..loose };
        assert_eq!(correlate(&accounts, None, &narrow, NOW), Correlation::default());
        let share = Thresholds { min_share_percent: 70, ..loose };
        assert!(correlate(&accounts, None, &share, NOW).incident.is_none(), "4 of 6 is under 70 %");
    }

    #[test]
    fn an_open_incident_lasts_until_its_accounts_are_verified_after_x_recovers() {
        let t = Thresholds::default();
        let opened_at = NOW - 30 * MIN;
        let mut accounts = [failing(EIGHT, Cause::UserRevoked, opened_at - MIN), healthy(TWO, NOW)].concat();
        let ongoing = Ongoing { cause: Cause::UserRevoked, opened_at, recovered_at: None };

        // Long after the window, while X is not back, all eight stay held,
        // and an account failing later joins them.
        let c = correlate(&accounts, Some(&ongoing), &t, NOW);
        assert_eq!(c.incident.as_ref().map(|i| i.held.len()), Some(8), "{c:?}");
        accounts[8].incident = Some(OpenIncident { cause: Cause::UserRevoked, since: NOW - MIN });
        assert_eq!(correlate(&accounts, Some(&ongoing), &t, NOW).held.len(), 9);
        accounts[8].incident = None;

        // A refresh tried while X was still out (a probe, a person) verifies nothing.
        accounts[0].last_refresh_at = Some(NOW - 10 * MIN);
        let recovered = Ongoing { recovered_at: Some(NOW - 5 * MIN), ..ongoing };
        assert_eq!(correlate(&accounts, Some(&recovered), &t, NOW).held.len(), 8);

        // X answers normally: seven refreshes work (their incidents clear),
        // one is refused again — a genuine failure, verified: no longer held.
        for a in &mut accounts[..7] {
            a.incident = None;
            a.last_refresh_at = Some(NOW - 4 * MIN);
        }
        accounts[7].last_refresh_at = Some(NOW - 4 * MIN);
        let over = correlate(&accounts, Some(&recovered), &t, NOW);
        assert_eq!(over, Correlation::default(), "over, and the genuine one is prompted: {over:?}");

        // A recovery seen before this incident opened is an older one's.
        let stale = Ongoing { recovered_at: Some(opened_at - 60 * MIN), ..ongoing };
        assert_eq!(correlate(&accounts, Some(&stale), &t, NOW).held, vec!["a7".to_owned()]);
    }

    #[test]
    fn a_genuine_failure_that_outlived_an_incident_does_not_open_the_next() {
        let mut accounts = failing(EIGHT, Cause::RefreshTokenRejected, NOW - 2 * MIN);
        for a in &mut accounts {
            a.last_refresh_at = Some(NOW - MIN);
        }
        assert_eq!(correlate(&accounts, None, &Thresholds::default(), NOW), Correlation::default());
    }

    #[test]
    fn probes_ask_again_what_failed_at_most_every_interval() {
        assert_eq!(probe_for(Cause::UserRevoked), ProbeKind::UsersMe);
        assert_eq!(probe_for(Cause::RefreshTokenRejected), ProbeKind::Refresh);
        assert_eq!(probe_for(Cause::XUnavailable), ProbeKind::Refresh);
        let every = DEFAULT_PROBE_INTERVAL_MS;
        assert!(probe_due(None, NOW, every));
        assert!(!probe_due(Some(NOW - every + 1), NOW, every));
        assert!(probe_due(Some(NOW - every), NOW, every));
        assert!(probe_due(Some(NOW + MIN), NOW, every), "a probe time in the future is a clock that moved back");
    }
}
