//! An account's timeline: the kinds of event it records, how each ended, and
//! what one more event makes of the account's summary ([`next_summary`]):
//! last refresh, last check, last proof of life and the open incident.

use crate::health::{next_incident, AttemptResult, Cause, OpenIncident};
use crate::spelling::UnknownSpelling;
use serde::{Deserialize, Serialize};

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    #[default]
    Connect,
    Reconnect,
    Refresh,
    Check,
    /// The owners changed.
    Owner,
    /// A reconnect link was created for the account.
    Link,
    /// A post published (or held) through the pipeline API.
    Publish,
    /// A 401/403 the pipeline reported.
    Report,
    /// A held post cancelled before it went out: its API key was revoked, or
    /// a person discarded it.
    Discard,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::Connect,
        EventKind::Reconnect,
        EventKind::Refresh,
        EventKind::Check,
        EventKind::Owner,
        EventKind::Link,
        EventKind::Publish,
        EventKind::Report,
        EventKind::Discard,
    ];

    /// The database spelling: the one place a kind becomes a string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Connect => "connect",
            EventKind::Reconnect => "reconnect",
            EventKind::Refresh => "refresh",
            EventKind::Check => "check",
            EventKind::Owner => "owner",
            EventKind::Link => "link",
            EventKind::Publish => "publish",
            EventKind::Report => "report",
            EventKind::Discard => "discard",
        }
    }
}

impl TryFrom<String> for EventKind {
    type Error = UnknownSpelling;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == value).ok_or(UnknownSpelling { what: "event kind", value })
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    #[default]
    Ok,
    Failed,
    /// Written before calling X, so a lost answer leaves a trace.
    Started,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Failed, Outcome::Started];

    /// The database spelling: the one place an outcome becomes a string.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Started => "started",
        }
    }
}

impl TryFrom<String> for Outcome {
    type Error = UnknownSpelling;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == value).ok_or(UnknownSpelling { what: "event outcome", value })
    }
}

/// An event to append.
#[derive(Clone, Debug, Default)]
pub struct NewEvent {
    pub kind: EventKind,
    pub outcome: Outcome,
    pub cause: Option<Cause>,
    pub http_status: Option<u16>,
    /// X's answer body, exactly as received.
    pub x_error: Option<String>,
    pub generation_before: Option<i64>,
    pub generation_after: Option<i64>,
    /// A saved refresh whose answer carried no refresh token: the previous
    /// one was kept (X omits it without `offline.access`).
    pub kept_refresh_token: bool,
    /// Who or what triggered it.
    pub actor: String,
    pub detail: Option<String>,
}

/// An account's summary: what its timeline comes to, kept beside the
/// account so that the dashboard need not read the timeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub last_refresh_at: Option<i64>,
    pub last_refresh_ok: Option<bool>,
    pub last_check_at: Option<i64>,
    pub last_check_ok: Option<bool>,
    /// The last time X proved the grant alive.
    pub last_verified_at: Option<i64>,
    pub incident: Option<OpenIncident>,
    /// X's status, body and time of the latest failure of the incident's own cause.
    pub incident_status: Option<i64>,
    pub incident_x_error: Option<String>,
    pub incident_at: Option<i64>,
}

/// The summary after `event`, recorded at `at`, came to `result`.
///
/// A `started` event changes nothing: it only marks a refresh in flight. The
/// status and body of the incident follow the latest failure of the
/// incident's own cause; an outage does not overwrite a dead grant's body,
/// and they go with the incident when it closes.
pub fn next_summary(previous: &Summary, event: &NewEvent, at: i64, result: AttemptResult) -> Summary {
    if event.outcome == Outcome::Started {
        return previous.clone();
    }
    let ok = event.outcome == Outcome::Ok;
    let verified = matches!(result, AttemptResult::Renewed | AttemptResult::Verified);
    let incident = next_incident(previous.incident.clone(), result, at);
    let failure_of_open_cause = incident.as_ref().is_some_and(|i| Some(i.cause) == event.cause);
    let (incident_status, incident_x_error, incident_at) = if failure_of_open_cause {
        (event.http_status.map(i64::from), event.x_error.clone(), Some(at))
    } else if incident.is_none() {
        (None, None, None)
    } else {
        (previous.incident_status, previous.incident_x_error.clone(), previous.incident_at)
    };
    let (refresh, check) = (event.kind == EventKind::Refresh, event.kind == EventKind::Check);
    Summary {
        last_refresh_at: if refresh { Some(at) } else { previous.last_refresh_at },
        last_refresh_ok: if refresh { Some(ok) } else { previous.last_refresh_ok },
        last_check_at: if check { Some(at) } else { previous.last_check_at },
        last_check_ok: if check { Some(ok) } else { previous.last_check_ok },
        last_verified_at: if verified { Some(at) } else { previous.last_verified_at },
        incident,
        incident_status,
        incident_x_error,
        incident_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: EventKind, cause: Cause, status: u16, body: &str) -> NewEvent {
        NewEvent {
            kind,
            outcome: Outcome::Failed,
            cause: Some(cause),
            http_status: Some(status),
            x_error: Some(body.into()),
            ..NewEvent::default()
        }
    }

    fn ok(kind: EventKind) -> NewEvent {
        NewEvent { kind, outcome: Outcome::Ok, ..NewEvent::default() }
    }

    #[test]
    fn a_refresh_and_a_check_each_stamp_their_own_columns() {
        let s = next_summary(&Summary::default(), &ok(EventKind::Refresh), 10, AttemptResult::Renewed);
        assert_eq!((s.last_refresh_at, s.last_refresh_ok, s.last_verified_at), (Some(10), Some(true), Some(10)));
        assert_eq!((s.last_check_at, s.last_check_ok), (None, None));

        let s = next_summary(
            &s,
            &failed(EventKind::Check, Cause::XUnavailable, 503, "down"),
            20,
            AttemptResult::Failed(Cause::XUnavailable),
        );
        assert_eq!((s.last_check_at, s.last_check_ok), (Some(20), Some(false)));
        assert_eq!(
            (s.last_refresh_at, s.last_refresh_ok, s.last_verified_at),
            (Some(10), Some(true), Some(10)),
            "untouched"
        );
    }

    #[test]
    fn a_started_refresh_changes_nothing() {
        let before = Summary { last_refresh_at: Some(5), last_refresh_ok: Some(false), ..Summary::default() };
        let started = NewEvent { kind: EventKind::Refresh, outcome: Outcome::Started, ..NewEvent::default() };
        assert_eq!(next_summary(&before, &started, 50, AttemptResult::Inconclusive), before);
    }

    #[test]
    fn the_incident_keeps_the_body_of_its_own_cause_and_drops_it_when_it_closes() {
        let dead = failed(EventKind::Refresh, Cause::RefreshTokenRejected, 400, "invalid_grant");
        let s = next_summary(&Summary::default(), &dead, 10, AttemptResult::Failed(Cause::RefreshTokenRejected));
        assert_eq!(s.incident, Some(OpenIncident { cause: Cause::RefreshTokenRejected, since: 10 }));
        assert_eq!(
            (s.incident_status, s.incident_x_error.as_deref(), s.incident_at),
            (Some(400), Some("invalid_grant"), Some(10))
        );

        // An outage neither replaces the dead grant nor its body.
        let outage = failed(EventKind::Check, Cause::XUnavailable, 503, "down");
        let s = next_summary(&s, &outage, 20, AttemptResult::Failed(Cause::XUnavailable));
        assert_eq!(s.incident, Some(OpenIncident { cause: Cause::RefreshTokenRejected, since: 10 }));
        assert_eq!(
            (s.incident_status, s.incident_x_error.as_deref(), s.incident_at),
            (Some(400), Some("invalid_grant"), Some(10))
        );

        // The same cause again: the incident continues, its body is the latest.
        let again = failed(EventKind::Refresh, Cause::RefreshTokenRejected, 401, "again");
        let s = next_summary(&s, &again, 30, AttemptResult::Failed(Cause::RefreshTokenRejected));
        assert_eq!(s.incident.as_ref().map(|i| i.since), Some(10));
        assert_eq!(
            (s.incident_status, s.incident_x_error.as_deref(), s.incident_at),
            (Some(401), Some("again"), Some(30))
        );

        // An event that says nothing keeps everything.
        let owner = ok(EventKind::Owner);
        assert_eq!(next_summary(&s, &owner, 35, AttemptResult::Inconclusive), s);

        // A reconnect closes it, body and all.
        let s = next_summary(&s, &ok(EventKind::Reconnect), 40, AttemptResult::Renewed);
        assert_eq!(s.incident, None);
        assert_eq!((s.incident_status, s.incident_x_error, s.incident_at), (None, None, None));
        assert_eq!(s.last_verified_at, Some(40));
    }

    #[test]
    fn every_kind_and_outcome_round_trips_through_its_database_spelling() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::try_from(k.as_str().to_owned()), Ok(k));
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::try_from(o.as_str().to_owned()), Ok(o));
        }
        let e = EventKind::try_from("rfresh".to_owned()).unwrap_err();
        assert_eq!(e.to_string(), "event kind \"rfresh\" is unknown to this version of authwatch");
    }
}
