//! Prompts: which subjects need a person now, and how the open prompts must
//! change — raised once per incident, escalated when nobody acted in time,
//! closed when the subject recovers. Pure: the notifier supplies the facts
//! and the clock, and carries out the changes.

use super::health::{Action, AppWarning, Cause, Diagnosis, Health};

/// Who a prompt goes to first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The account's owner and backup owner (the admins when it has none).
    Owners,
    /// The admins: the X app or the server, which no account owner can fix.
    Admins,
}

/// Something that needs a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    /// `account:<id>`, `app:credentials`, `app:clock`, `app:billing` or
    /// `app:x-incident`: at most one open prompt each.
    pub subject: String,
    pub account_id: Option<String>,
    pub cause: Cause,
    pub audience: Audience,
}

pub const APP_CREDENTIALS: &str = "app:credentials";
pub const APP_CLOCK: &str = "app:clock";
/// The X app's pay-per-use credits ran out (402 "credits depleted").
pub const APP_BILLING: &str = "app:billing";
/// X refuses the app's OAuth 1.0a consumer key (code 32).
pub const APP_CONSUMER_KEY: &str = "app:consumer-key";
/// Every OAuth 1.0a account refused with code 89 together: the consumer
/// key was regenerated. The admins hear it once; each account's owner is
/// asked to reconnect too, since that is what brings each account back.
pub const APP_CONSUMER_KEY_REGENERATED: &str = "app:consumer-key-regenerated";
/// Many accounts failed the same way at once: X's incident, most likely
/// ([`crate::incidents::correlate`]).
pub const APP_X_INCIDENT: &str = "app:x-incident";

/// The admins' need for an X incident whose accounts fail with `cause`.
pub fn x_incident_need(cause: Cause) -> Need {
    Need { subject: APP_X_INCIDENT.into(), account_id: None, cause, audience: Audience::Admins }
}

pub fn account_subject(account_id: &str) -> String {
    format!("account:{account_id}")
}

/// What needs a person, from every account's diagnosis and the app-level
/// warnings. App-level causes become one need for the admins, however many
/// accounts they touch.
pub fn needs<'a>(diagnosed: impl IntoIterator<Item = (&'a str, &'a Diagnosis)>, app: &[AppWarning]) -> Vec<Need> {
    let mut out: Vec<Need> = Vec::new();
    let mut push = |need: Need| {
        if !out.iter().any(|n| n.subject == need.subject) {
            out.push(need);
        }
    };
    for (account_id, d) in diagnosed {
        match d.health {
            Health::ActionNeeded(Action::Reconnect) => push(Need {
                subject: account_subject(account_id),
                account_id: Some(account_id.to_owned()),
                cause: d.cause.unwrap_or(Cause::RefreshTokenRejected),
                audience: Audience::Owners,
            }),
            Health::ActionNeeded(Action::FixApp) if d.cause == Some(Cause::ConsumerKeyRejected) => push(Need {
                subject: APP_CONSUMER_KEY.into(),
                account_id: None,
                cause: Cause::ConsumerKeyRejected,
                audience: Audience::Admins,
            }),
            Health::ActionNeeded(Action::FixApp) => push(Need {
                subject: APP_CREDENTIALS.into(),
                account_id: None,
                cause: Cause::AppCredentialsRejected,
                audience: Audience::Admins,
            }),
            Health::ActionNeeded(Action::FixClock) => push(Need {
                subject: APP_CLOCK.into(),
                account_id: None,
                cause: Cause::ClockDrift,
                audience: Audience::Admins,
            }),
            _ => {}
        }
    }
    for w in app {
        let subject = match w.cause {
            Cause::AppCredentialsRejected => APP_CREDENTIALS,
            Cause::ClockDrift => APP_CLOCK,
            Cause::CreditsDepleted => APP_BILLING,
            Cause::ConsumerKeyRejected => APP_CONSUMER_KEY,
            Cause::ConsumerKeyRegenerated => APP_CONSUMER_KEY_REGENERATED,
            _ => continue,
        };
        push(Need { subject: subject.into(), account_id: None, cause: w.cause, audience: Audience::Admins });
    }
    out
}

/// An open prompt, as the planner needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenPrompt {
    pub id: i64,
    pub subject: String,
    pub opened_at: i64,
    pub escalated: bool,
}

/// A change to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Raise(Need),
    Escalate { prompt_id: i64 },
    Close { prompt_id: i64 },
}

/// The changes that bring the open prompts in line with `needs` at `now`.
pub fn plan(needs: &[Need], open: &[OpenPrompt], now: i64, escalate_after_ms: i64) -> Vec<Change> {
    plan_holding(needs, open, now, escalate_after_ms, &[])
}

/// [`plan`], holding the subjects in `held`: accounts caught in an X
/// incident. Their needs are neither raised nor escalated while held (one
/// incident, one prompt: no storm of prompts, no storm of escalations), and
/// a prompt already open for one of them still closes when it recovers.
pub fn plan_holding(
    needs: &[Need],
    open: &[OpenPrompt],
    now: i64,
    escalate_after_ms: i64,
    held: &[String],
) -> Vec<Change> {
    let is_held = |subject: &str| held.iter().any(|h| h == subject);
    let mut changes = Vec::new();
    for p in open {
        match needs.iter().find(|n| n.subject == p.subject) {
            None => changes.push(Change::Close { prompt_id: p.id }),
            Some(_) if is_held(&p.subject) => {}
            Some(_) if !p.escalated && now - p.opened_at >= escalate_after_ms => {
                changes.push(Change::Escalate { prompt_id: p.id })
            }
            Some(_) => {}
        }
    }
    for n in needs {
        if !is_held(&n.subject) && !open.iter().any(|p| p.subject == n.subject) {
            changes.push(Change::Raise(n.clone()));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Who;

    fn diagnosis(health: Health, cause: Option<Cause>) -> Diagnosis {
        Diagnosis {
            health,
            cause,
            summary: String::new(),
            next_step: String::new(),
            who: Who::Owner,
            missing_scopes: vec![],
        }
    }

    #[test]
    fn reconnects_go_to_owners_app_problems_once_to_admins() {
        let revoked = diagnosis(Health::ActionNeeded(Action::Reconnect), Some(Cause::UserRevoked));
        let app = diagnosis(Health::ActionNeeded(Action::FixApp), Some(Cause::AppCredentialsRejected));
        let fine = diagnosis(Health::Healthy, None);
        let drift = AppWarning { cause: Cause::ClockDrift, message: String::new() };
        let n = needs([("a", &revoked), ("b", &app), ("c", &app), ("d", &fine)], &[drift]);
        assert_eq!(n.len(), 3, "{n:?}");
        assert_eq!(n[0].subject, "account:a");
        assert_eq!(n[0].audience, Audience::Owners);
        assert_eq!(n[0].cause, Cause::UserRevoked);
        assert_eq!(n[1].subject, APP_CREDENTIALS);
        assert_eq!(n[1].audience, Audience::Admins);
        assert_eq!(n[2].subject, APP_CLOCK);
    }

    #[test]
    fn one_prompt_per_incident_then_escalation_then_closing() {
        const H: i64 = 3600 * 1000;
        let need = Need {
            subject: "account:a".into(),
            account_id: Some("a".into()),
            cause: Cause::UserRevoked,
            audience: Audience::Owners,
        };
        let needs = std::slice::from_ref(&need);
        assert_eq!(plan(needs, &[], 0, 4 * H), vec![Change::Raise(need.clone())]);
        let open = [OpenPrompt { id: 7, subject: "account:a".into(), opened_at: 0, escalated: false }];
        assert_eq!(plan(needs, &open, 4 * H - 1, 4 * H), vec![], "still open, not yet due: nothing");
        assert_eq!(plan(needs, &open, 4 * H, 4 * H), vec![Change::Escalate { prompt_id: 7 }]);
        let escalated = [OpenPrompt { escalated: true, ..open[0].clone() }];
        assert_eq!(plan(needs, &escalated, 9 * H, 4 * H), vec![], "escalated once only");
        assert_eq!(plan(&[], &escalated, 9 * H, 4 * H), vec![Change::Close { prompt_id: 7 }]);
    }

    #[test]
    fn held_accounts_are_neither_raised_nor_escalated_but_still_close() {
        const H: i64 = 3600 * 1000;
        let account = |id: &str| Need {
            subject: account_subject(id),
            account_id: Some(id.into()),
            cause: Cause::UserRevoked,
            audience: Audience::Owners,
        };
        let incident = x_incident_need(Cause::UserRevoked);
        let needs = vec![account("a"), account("b"), incident.clone()];
        let held = vec![account_subject("a"), account_subject("b")];
        assert_eq!(
            plan_holding(&needs, &[], 0, 4 * H, &held),
            vec![Change::Raise(incident)],
            "one prompt for the incident"
        );

        // `a` had a prompt before the incident: it is not escalated while held…
        let open = [OpenPrompt { id: 3, subject: account_subject("a"), opened_at: 0, escalated: false }];
        assert_eq!(plan_holding(&needs[..2], &open, 5 * H, 4 * H, &held), vec![]);
        // …and closes when `a` recovers, held or not.
        assert_eq!(plan_holding(&needs[1..2], &open, 5 * H, 4 * H, &held), vec![Change::Close { prompt_id: 3 }]);
    }

    #[test]
    fn depleted_credits_are_one_prompt_for_the_admins() {
        let fine = diagnosis(Health::Healthy, None);
        let billing = AppWarning { cause: Cause::CreditsDepleted, message: String::new() };
        let n = needs([("a", &fine), ("b", &fine)], &[billing]);
        assert_eq!(
            n,
            vec![Need {
                subject: APP_BILLING.into(),
                account_id: None,
                cause: Cause::CreditsDepleted,
                audience: Audience::Admins
            }]
        );
    }
}
