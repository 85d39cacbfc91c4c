//! Dashboard users' sessions, prompts, reconnect links and the channels
//! that carry prompts.

use super::source::{non_empty, parse_url, secs, ConfigError, Source};
use crate::server::secret::Secret;
use std::time::Duration;
use url::Url;

/// Sign-in sessions, prompts, reconnect links and notification channels.
#[derive(Debug, Clone)]
pub struct PeopleConfig {
    /// A dashboard session ends after this long without a request.
    pub session_idle: Duration,
    /// A dashboard session ends this long after sign-in, however busy.
    pub session_max: Duration,
    /// An open prompt nobody acted on goes to the admins after this long.
    pub escalate_after: Duration,
    /// How long a reconnect link works.
    pub link_ttl: Duration,
    /// How often prompts are reconciled with the accounts' health and queued
    /// messages are delivered.
    pub notify_every: Duration,
    /// A generic JSON webhook, signed with HMAC-SHA256.
    pub webhook: Option<Webhook>,
    /// A Slack incoming-webhook URL (or anything that takes Slack's payload).
    pub slack_webhook_url: Option<Secret>,
    /// Email over SMTP.
    pub smtp: Option<Smtp>,
    /// How many reverse proxies in front of authwatch append to
    /// `X-Forwarded-For`: the client address for sign-in throttling is the
    /// entry that many from the end. 0: the connection's own address.
    pub forwarded_for_hops: usize,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: Url,
    pub secret: Secret,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    /// lettre's SMTP URL; it may hold a password, so it is a secret.
    pub url: Secret,
    pub from: String,
}

pub(super) fn people(src: &dyn Source) -> Result<PeopleConfig, ConfigError> {
    // AUTHWATCH_SESSION_IDLE_SECS: sign-in sessions end after this long without a
    // request (to within a minute). Default 1800 (30 min, OWASP ASVS level 2).
    let session_idle = secs(src, "AUTHWATCH_SESSION_IDLE_SECS", 30 * 60)?;
    // AUTHWATCH_SESSION_MAX_SECS: sign-in sessions end this long after signing in,
    // however active. Default 43200 (12 h, OWASP ASVS level 2).
    let session_max = secs(src, "AUTHWATCH_SESSION_MAX_SECS", 12 * 3600)?;
    // AUTHWATCH_ESCALATE_AFTER_SECS: a prompt nobody acted on goes to the admins after this. Default 14400 (4 h).
    let escalate_after = secs(src, "AUTHWATCH_ESCALATE_AFTER_SECS", 4 * 3600)?;
    // AUTHWATCH_RECONNECT_LINK_TTL_SECS: how long a reconnect link works. Default 259200 (72 h).
    let link_ttl = secs(src, "AUTHWATCH_RECONNECT_LINK_TTL_SECS", 72 * 3600)?;
    // AUTHWATCH_NOTIFY_INTERVAL_SECS: how often prompts are raised, escalated and closed,
    // and queued messages delivered. Default 15.
    let notify_every = secs(src, "AUTHWATCH_NOTIFY_INTERVAL_SECS", 15)?;
    // AUTHWATCH_WEBHOOK_URL: POST a JSON message for every prompt change here, signed with
    // AUTHWATCH_WEBHOOK_SECRET (HMAC-SHA256, header `X-Authwatch-Signature`).
    let webhook = match non_empty(src, "AUTHWATCH_WEBHOOK_URL") {
        None => None,
        Some(v) => {
            let url = parse_url("AUTHWATCH_WEBHOOK_URL", &v)?;
            let secret = non_empty(src, "AUTHWATCH_WEBHOOK_SECRET").map(Secret::new).ok_or_else(|| {
                ConfigError::new(
                    "AUTHWATCH_WEBHOOK_SECRET",
                    "required with AUTHWATCH_WEBHOOK_URL: receivers check the signature",
                )
            })?;
            Some(Webhook { url, secret })
        }
    };
    // AUTHWATCH_SLACK_WEBHOOK_URL: a Slack incoming webhook for the same messages, as Slack text.
    let slack_webhook_url = match non_empty(src, "AUTHWATCH_SLACK_WEBHOOK_URL") {
        None => None,
        Some(v) => Some(Secret::new(parse_url("AUTHWATCH_SLACK_WEBHOOK_URL", &v)?.to_string())),
    };
    // AUTHWATCH_SMTP_URL: send email through this server, e.g. `smtps://user:pass@smtp.example.com`
    // or `smtp://localhost:25`; AUTHWATCH_SMTP_FROM: the sender, e.g. `authwatch <ops@example.com>`.
    let smtp = match non_empty(src, "AUTHWATCH_SMTP_URL") {
        None => None,
        Some(v) => {
            if !(v.starts_with("smtp://") || v.starts_with("smtps://")) {
                return Err(ConfigError::new("AUTHWATCH_SMTP_URL", "must start with smtp:// or smtps://"));
            }
            let from = non_empty(src, "AUTHWATCH_SMTP_FROM")
                .ok_or_else(|| ConfigError::new("AUTHWATCH_SMTP_FROM", "required with AUTHWATCH_SMTP_URL"))?;
            Some(Smtp { url: Secret::new(v), from })
        }
    };
    // AUTHWATCH_FORWARDED_FOR_HOPS: reverse proxies in front that append to X-Forwarded-For
    // (1 behind one nginx). Default 0: trust no header, use the connection's address.
    let forwarded_for_hops = match non_empty(src, "AUTHWATCH_FORWARDED_FOR_HOPS") {
        None => 0,
        Some(v) => v.parse::<usize>().ok().filter(|n| *n <= 10).ok_or_else(|| {
            ConfigError::new(
                "AUTHWATCH_FORWARDED_FOR_HOPS",
                format!("`{v}` is not a number of proxies between 0 and 10"),
            )
        })?,
    };
    Ok(PeopleConfig {
        session_idle,
        session_max,
        escalate_after,
        link_ttl,
        notify_every,
        webhook,
        slack_webhook_url,
        smtp,
        forwarded_for_hops,
    })
}
