//! The channels a prompt's messages travel on, and what each one sends:
//! - a generic JSON webhook, signed: `X-Authwatch-Signature: sha256=<hex>`, the
//!   HMAC-SHA256 of `<X-Authwatch-Timestamp>.<body>` under the shared secret
//!   (the timestamp in the signed text lets receivers refuse replays);
//! - a Slack incoming webhook (`{"text": …}`);
//! - email over SMTP, one per recipient.

use crate::domain::prompts::{Need, APP_BILLING, APP_CONSUMER_KEY_REGENERATED, APP_X_INCIDENT};
use crate::server::config::{PeopleConfig, Webhook};
use crate::server::db::accounts::AccountSummary;
use crate::server::db::prompts::{NewNotification, Notification, Prompt};
use crate::server::db::users::User;
use crate::server::secret::Secret;
use crate::server::AppState;
use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;

/// How long one delivery may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("AUTHWATCH_SMTP_URL: {0}")]
    SmtpUrl(String),
    #[error("AUTHWATCH_SMTP_FROM: {0}")]
    From(String),
}

/// Why one delivery failed (recorded on the notification, retried).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    #[error("the receiver could not be reached: {0}")]
    Unreachable(String),
    #[error("email: {0}")]
    Email(String),
    #[error("the channel is no longer configured")]
    NotConfigured,
    #[error("the stored message is unreadable: {0}")]
    Payload(String),
}

/// One message about one prompt, as queued: the generic webhook's body, and
/// what the other channels render from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `prompt.opened`, `prompt.escalated` or `prompt.recovered`.
    pub event: String,
    pub subject: String,
    pub account: Option<NamedAccount>,
    /// `domain::health::Cause::as_str`.
    pub cause: String,
    /// One line, e.g. "Reconnect @acme_jobs".
    pub title: String,
    /// The whole message in words.
    pub text: String,
    /// Where the person acts (or looks).
    pub url: String,
    pub recipients: Vec<Recipient>,
    /// ms since the epoch.
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedAccount {
    pub id: String,
    pub handle: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    pub name: String,
    pub email: String,
}

fn recipients(users: &[User]) -> Vec<Recipient> {
    users.iter().map(|u| Recipient { name: u.name.clone(), email: u.email.clone() }).collect()
}

fn names(users: &[User]) -> String {
    if users.is_empty() {
        return "nobody yet (add a user)".into();
    }
    users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn what(subject: &str, account: Option<&AccountSummary>) -> String {
    match (subject, account) {
        (_, Some(a)) => format!("@{}", a.handle),
        (crate::domain::prompts::APP_CLOCK, None) => "This server's clock".into(),
        (APP_BILLING, None) => "The X app's credits".into(),
        (APP_X_INCIDENT, None) => "X".into(),
        _ => "The X app".into(),
    }
}

impl Message {
    fn url(state: &AppState, subject: &str, account_id: Option<&str>, reconnect: bool) -> String {
        let path = match (account_id, reconnect) {
            (Some(id), true) => format!("accounts/{id}/reconnect"),
            (Some(id), false) => format!("accounts/{id}"),
            // The accounts the incident holds are on the dashboard.
            (None, _) if subject == APP_X_INCIDENT => String::new(),
            (None, _) => "settings".into(),
        };
        crate::server::config::join(&state.config.public_url, &path).to_string()
    }

    pub fn opened(state: &AppState, need: &Need, account: Option<&AccountSummary>, to: &[User], at: i64) -> Self {
        let who = what(&need.subject, account);
        let title = match (account, need.subject.as_str()) {
            (Some(a), _) => format!("Reconnect @{}", a.handle),
            (None, APP_X_INCIDENT) => "X incident: many accounts fail the same way".into(),
            (None, APP_BILLING) => "The X app's credits are used up".into(),
            (None, APP_CONSUMER_KEY_REGENERATED) => "The X app's consumer key was regenerated".into(),
            (None, _) => format!("{who} needs an admin"),
        };
        let url = Self::url(state, &need.subject, need.account_id.as_deref(), true);
        let text = match need.subject.as_str() {
            APP_X_INCIDENT => format!(
                "Many accounts of the X app failed the same way within minutes: {} That is most likely X's incident, not the accounts': \
                 their reconnect prompts are held, and once X answers normally again authwatch verifies each with one refresh. \
                 Nothing to do now ({}); one notice follows when it is over. See the accounts: {url}",
                need.cause.describe(),
                names(to)
            ),
            APP_BILLING => format!(
                "X answers the app's calls with 402 Payment Required (\"credits depleted\"): the X app's pay-per-use balance is empty. \
                 An admin ({}) must top it up in X's developer console, or turn on auto-recharge. Every account is fine and nobody \
                 needs to reconnect: posts are held, and published once X accepts calls again. {url}",
                names(to)
            ),
            APP_CONSUMER_KEY_REGENERATED => format!(
                "{} An admin ({}) must make sure AUTHWATCH_X_CONSUMER_KEY and AUTHWATCH_X_CONSUMER_SECRET hold the new API key and secret. \
                 Each account's owner is asked to reconnect it; reconnecting with OAuth 2.0 avoids this in future. {url}",
                need.cause.describe(),
                names(to)
            ),
            _ => format!("{who} needs you ({}). {} Act here: {url}", names(to), need.cause.describe()),
        };
        Self {
            event: "prompt.opened".into(),
            subject: need.subject.clone(),
            account: account.map(|a| NamedAccount { id: a.id.clone(), handle: a.handle.clone() }),
            cause: need.cause.as_str().into(),
            title,
            text,
            url,
            recipients: recipients(to),
            at,
        }
    }

    pub fn escalated(state: &AppState, p: &Prompt, account: Option<&AccountSummary>, admins: &[User], at: i64) -> Self {
        let who = what(&p.subject, account);
        let cause = p.cause.describe();
        let hours = (at - p.opened_at) as f64 / 3_600_000.0;
        let url = Self::url(state, &p.subject, p.account_id.as_deref(), true);
        Self {
            event: "prompt.escalated".into(),
            subject: p.subject.clone(),
            account: account.map(|a| NamedAccount { id: a.id.clone(), handle: a.handle.clone() }),
            cause: p.cause.as_str().into(),
            title: if p.subject == APP_X_INCIDENT {
                "Escalated: the X incident goes on".to_owned()
            } else {
                format!("Escalated: {who} still needs a person")
            },
            text: if p.subject == APP_X_INCIDENT {
                format!(
                    "For {hours:.1} h, X has failed the same way for the accounts the incident holds: {cause} Their prompts stay held; \
                     check X's status page, and whether anything changed on the X app. Admins ({}): {url}",
                    names(admins)
                )
            } else {
                format!(
                    "{who} has needed a person for {hours:.1} h and nobody has acted. {cause} Admins ({}): {url}",
                    names(admins)
                )
            },
            url,
            recipients: recipients(admins),
            at,
        }
    }

    pub fn recovered(state: &AppState, p: &Prompt, account: Option<&AccountSummary>, to: &[User], at: i64) -> Self {
        let who = what(&p.subject, account);
        let url = Self::url(state, &p.subject, p.account_id.as_deref(), false);
        let text = match p.subject.as_str() {
            APP_X_INCIDENT => format!(
                "X answers normally again: the accounts the incident held were verified with a refresh. Any still refused now has a prompt of its own. {url}"
            ),
            APP_BILLING => format!("X accepts the app's calls again: the credits are back, and the held posts are being published. {url}"),
            _ => format!("{who} works again; nothing more to do. {url}"),
        };
        Self {
            event: "prompt.recovered".into(),
            subject: p.subject.clone(),
            account: account.map(|a| NamedAccount { id: a.id.clone(), handle: a.handle.clone() }),
            cause: p.cause.as_str().into(),
            title: format!("Recovered: {who}"),
            text,
            url,
            recipients: recipients(to),
            at,
        }
    }
}

/// The configured channels.
pub struct Channels {
    http: reqwest::Client,
    webhook: Option<Webhook>,
    slack: Option<Secret>,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl Channels {
    pub fn new(config: &PeopleConfig) -> Result<Self, ChannelError> {
        let http = reqwest::Client::builder()
            // A webhook URL is configuration, but a redirect could still lead
            // anywhere: follow none.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DELIVERY_TIMEOUT)
            .build()?;
        let smtp = match &config.smtp {
            None => None,
            Some(smtp) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp.url.expose())
                    .map_err(|e| ChannelError::SmtpUrl(e.to_string()))?
                    .timeout(Some(DELIVERY_TIMEOUT))
                    .build();
                let from: Mailbox =
                    smtp.from.parse().map_err(|e: lettre::address::AddressError| ChannelError::From(e.to_string()))?;
                Some((transport, from))
            }
        };
        Ok(Self { http, webhook: config.webhook.clone(), slack: config.slack_webhook_url.clone(), smtp })
    }

    /// The rows to queue for `message`: one per team-wide webhook, one email
    /// per recipient.
    pub fn queue(&self, kind: &'static str, message: &Message, to: &[User]) -> Vec<NewNotification> {
        let payload = serde_json::to_string(message).unwrap_or_default();
        let mut out = Vec::new();
        if self.webhook.is_some() {
            out.push(NewNotification { kind, channel: "webhook", recipient: String::new(), payload: payload.clone() });
        }
        if self.slack.is_some() {
            out.push(NewNotification { kind, channel: "slack", recipient: String::new(), payload: payload.clone() });
        }
        if self.smtp.is_some() {
            for u in to {
                out.push(NewNotification {
                    kind,
                    channel: "email",
                    recipient: u.email.clone(),
                    payload: payload.clone(),
                });
            }
        }
        out
    }

    /// Delivers one queued message.
    pub async fn send(&self, n: &Notification) -> Result<(), DeliveryError> {
        let message: Message = serde_json::from_str(&n.payload).map_err(|e| DeliveryError::Payload(e.to_string()))?;
        match n.channel.as_str() {
            "webhook" => {
                let hook = self.webhook.as_ref().ok_or(DeliveryError::NotConfigured)?;
                let timestamp = (message.at / 1000).to_string();
                let signature = sign(&hook.secret, &timestamp, &n.payload);
                let request = self
                    .http
                    .post(hook.url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("X-Authwatch-Event", &message.event)
                    .header("X-Authwatch-Timestamp", timestamp)
                    .header("X-Authwatch-Signature", format!("sha256={signature}"))
                    .body(n.payload.clone());
                post(request).await
            }
            "slack" => {
                let url = self.slack.as_ref().ok_or(DeliveryError::NotConfigured)?;
                let body = serde_json::json!({ "text": format!("*{}*\n{}", message.title, message.text) });
                post(self.http.post(url.expose()).json(&body)).await
            }
            "email" => {
                let (transport, from) = self.smtp.as_ref().ok_or(DeliveryError::NotConfigured)?;
                let to: Mailbox = n
                    .recipient
                    .parse()
                    .map_err(|e: lettre::address::AddressError| DeliveryError::Email(e.to_string()))?;
                let email = lettre::Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&message.title)
                    .body(format!("{}\n\n— authwatch\n", message.text))
                    .map_err(|e| DeliveryError::Email(e.to_string()))?;
                transport.send(email).await.map(|_| ()).map_err(|e| DeliveryError::Email(e.to_string()))
            }
            _ => Err(DeliveryError::NotConfigured),
        }
    }
}

async fn post(request: reqwest::RequestBuilder) -> Result<(), DeliveryError> {
    // The error's text never includes the URL (a Slack URL is a secret).
    let response = request.send().await.map_err(|e| DeliveryError::Unreachable(e.without_url().to_string()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status(response.status().as_u16()))
    }
}

/// Hex HMAC-SHA256 of `<timestamp>.<body>`.
pub fn sign(secret: &Secret, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"whsec_test",
        // b'1700000000.{"event":"prompt.opened"}', hashlib.sha256).hexdigest()
        let sig = sign(&Secret::new("whsec_test"), "1700000000", r#"{"event":"prompt.opened"}"#);
        assert_eq!(sig, "fcc1af3c0a133be186541f71fb35d82053848c1172ef9b4aa7c6b9052c13b149");
    }
}
