//! The types server functions hand to the pages. Made for display: plain
//! values, no secrets (a type here must never hold a token or ciphertext).

use crate::domain::access::Role;
pub use crate::domain::flow::Flow;
use crate::domain::health::{AppWarning, Health, Who};
use crate::domain::timeline::{EventKind, Outcome};
use serde::{Deserialize, Serialize};

/// Facts about this authwatch instance for the page header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppInfo {
    /// e.g. production, staging, demo.
    pub environment: String,
    /// Running against the built-in X emulator.
    pub demo: bool,
    pub version: String,
    /// The flows "Connect account" offers: OAuth 2.0, and OAuth 1.0a when configured.
    pub flows: Vec<Flow>,
}

/// Which accounts the dashboard lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DashboardQuery {
    /// A [`Health::slug`], or `None` for all; `needs-person` for every action needed.
    pub health: Option<String>,
    /// Part of a handle or display name.
    pub search: String,
    /// A [`Flow::as_str`] (`oauth2`, `oauth1`), or `None` for both.
    #[serde(default)]
    pub flow: Option<String>,
    /// 1-based.
    pub page: u32,
}

/// How many of the viewer's prompts the dashboard lists; the others are
/// one link away (the accounts that need a person). An install with
/// thousands of failing accounts must not send all of them with every page.
pub const NEEDS_YOU_SHOWN: usize = 20;

/// The dashboard: counts, app-level warnings, and one page of accounts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// The server's clock when this was made (ms since the epoch).
    pub now: i64,
    pub total: u32,
    /// How many accounts are in each health, in dashboard order.
    pub counts: Vec<HealthCount>,
    /// Accounts per OAuth flow, every flow listed.
    pub flow_counts: Vec<FlowCount>,
    pub warnings: Vec<AppWarning>,
    pub rows: Vec<AccountRow>,
    /// The signed-in user's oldest open prompts, at most
    /// [`NEEDS_YOU_SHOWN`]; the rest are counted in `needs_you_total`.
    pub needs_you: Vec<PromptView>,
    /// All the signed-in user's open prompts.
    pub needs_you_total: u32,
    /// Accounts matching the filter and search, over all pages.
    pub matching: u32,
    pub page: u32,
    pub pages: u32,
    /// Demo mode and an admin: the page shows the demo panel.
    pub demo_panel: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Oauth1Settings {
    pub consumer_key: String,
    pub secret_fingerprint: String,
    pub callback_url: String,
    pub request_token_url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowCount {
    pub flow: Flow,
    pub count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthCount {
    pub health: Health,
    pub count: u32,
}

/// One account on the dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountRow {
    pub id: String,
    pub handle: String,
    pub name: String,
    pub health: Health,
    /// The cause in words.
    pub summary: String,
    pub next_step: String,
    pub who: Who,
    pub generation: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    /// Granted scopes, then required ones that are missing.
    pub scopes: Vec<ScopeChip>,
    pub last_refresh: Option<LastTry>,
    pub last_check: Option<LastTry>,
    /// The owner's name (and the backup owner's, after a slash).
    pub owner: Option<String>,
    /// Whether the signed-in user may refresh and reconnect it.
    pub can_act: bool,
    /// When the open incident began.
    pub incident_since: Option<i64>,
    /// How it is connected: OAuth 2.0, or OAuth 1.0a (whose token never expires).
    pub flow: Flow,
    /// How to move a 1.0a account to OAuth 2.0, when it is one.
    pub advice: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeChip {
    pub name: String,
    /// Required but not granted.
    pub missing: bool,
}

/// When something was last tried and whether it worked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastTry {
    pub at: i64,
    pub ok: bool,
}

/// Everything the account page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountDetail {
    pub now: i64,
    pub row: AccountRow,
    pub x_user_id: String,
    pub client_id: String,
    pub connected_at: i64,
    /// Short SHA-256 fingerprints, never the tokens.
    pub access_fingerprint: String,
    pub refresh_fingerprint: Option<String>,
    /// Plain-sentence answers to the questions a social manager asks.
    pub answers: Vec<Answer>,
    /// The exact last error X returned.
    pub last_error: Option<XErrorView>,
    pub events: Vec<EventView>,
    /// The app-level warnings that apply to this account too.
    pub warnings: Vec<AppWarning>,
    /// Owners, what the viewer may do, links and the open prompt.
    pub people: AccountPeople,
}

/// A question and its answer in a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub question: String,
    pub answer: String,
    /// Whether the answer is good news.
    pub ok: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XErrorView {
    pub at: i64,
    pub status: Option<i64>,
    pub body: String,
    pub cause: String,
}

/// One event of the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub at: i64,
    pub kind: EventKind,
    pub outcome: Outcome,
    pub cause: Option<String>,
    pub http_status: Option<i64>,
    pub x_error: Option<String>,
    pub generation_before: Option<i64>,
    pub generation_after: Option<i64>,
    pub actor: String,
    pub detail: Option<String>,
}

/// The X app configuration as authwatch runs with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub environment: String,
    pub demo: bool,
    pub client_id: String,
    pub client_type: String,
    /// The callback URL to register with X.
    pub callback_url: String,
    pub required_scopes: Vec<String>,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub api_base: String,
    /// A fingerprint of the client secret, never the secret.
    pub secret_fingerprint: Option<String>,
    /// OAuth 1.0a, when configured: the consumer key, its secret's
    /// fingerprint and the callback to register with X.
    pub oauth1: Option<Oauth1Settings>,
    pub database: String,
    pub refresh_lead_minutes: i64,
    pub clock_drift_threshold_seconds: i64,
    /// Misconfigurations, explained.
    pub problems: Vec<String>,
    /// What the health checks cost at X.
    pub check_spend: CheckSpend,
}

/// The health checks' spend at X: a billed user read ($0.010) per account
/// X was asked about per UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSpend {
    /// Accounts X answered a user read for today (UTC, so far).
    pub today: u64,
    /// …and yesterday (UTC).
    pub yesterday: u64,
    /// The estimated daily spend, e.g. `$0.07`: from yesterday, or from
    /// today so far when yesterday had none.
    pub estimate: String,
    /// What the estimate is based on, in words.
    pub basis: String,
}

/// What the demo panel can make happen at the emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DemoAction {
    /// The account disconnects the app in X's settings.
    RevokeGrant,
    /// X expires the account's access token now.
    ExpireToken,
    /// X rotates the app's client secret: authwatch's copy is now wrong.
    RotateAppSecret,
    /// X's clock jumps 95 s ahead of ours.
    SkewClock,
}

/// The result of an action taken by a form post (Refresh now, Revoke, ...):
/// shown once, at the top of the page the form was on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// It did what was asked (its sentence may still report a failure at X).
    pub ok: bool,
    pub message: String,
}

/// The result of a connect or reconnect, shown once on the next page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub title: String,
    pub message: String,
    /// The account it is about, for a link.
    pub account_id: Option<String>,
    /// Offer "try again" for this account's reconnect.
    pub retry_account: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlashKind {
    Success,
    Warning,
    Problem,
}

/// What the reconnect page needs to brief the person before X.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconnectBrief {
    pub account_id: String,
    pub handle: String,
    pub name: String,
    pub required_scopes: Vec<String>,
    /// The flows the X app offers here: OAuth 2.0, and OAuth 1.0a when configured.
    pub flows: Vec<Flow>,
    /// The flow the account is connected with now.
    pub flow: Flow,
}

/// The signed-in user, for the header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerInfo {
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Open prompts addressed to this user: the header's badge.
    pub needs_you: u32,
}

/// One open prompt in a user's "needs you" list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptView {
    /// The account, or `None` for the X app or the server.
    pub account_id: Option<String>,
    /// "@acme_jobs", "The X app", "This server's clock".
    pub what: String,
    /// The cause in words.
    pub cause: String,
    pub opened_at: i64,
    pub escalated: bool,
    /// Where to act.
    pub href: String,
    /// "Reconnect", "Open settings".
    pub action: String,
}

/// What the sign-in page shows besides the form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInInfo {
    /// Nobody can sign in yet: the one-time setup page is open.
    pub setup_needed: bool,
    /// Demo mode only: the demo users and their passwords.
    pub demo_users: Vec<DemoUserView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoUserView {
    pub name: String,
    pub email: String,
    pub password: String,
    pub role: Role,
}

/// A dashboard user, for the users page and owner pickers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    /// Accounts they own or back up.
    pub owns: u32,
}

/// What the signed-in user may do on one account, and who owns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPeople {
    pub owner: Option<UserRef>,
    pub backup_owner: Option<UserRef>,
    /// Refresh, check, reconnect, create links.
    pub can_act: bool,
    /// Reassign owners (admins).
    pub can_assign: bool,
    /// For the owner pickers (admins only; empty otherwise).
    pub users: Vec<UserRef>,
    pub links: Vec<LinkView>,
    /// The account's open prompt, if any.
    pub prompt: Option<PromptView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: String,
    pub name: String,
}

/// A reconnect link, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub id: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// Unused and unexpired: it can still be revoked.
    pub open: bool,
}

/// A link just created: the only time its URL is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLinkView {
    pub url: String,
    pub expires_at: i64,
}

/// What a reconnect link's page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkBrief {
    /// It works: reconnect this account.
    Usable { handle: String, name: String, expires_at: i64, required_scopes: Vec<String>, flows: Vec<Flow> },
    /// It does not, and why, in words.
    Unusable { title: String, message: String },
}

/// A connect or reconnect that ended before it matched anything this
/// browser started: told to the result page by a short fixed code in its
/// address (`/connect/result?problem=<code>`), so that nothing needs a
/// session and the page shows only the sentences written here — never text
/// from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectProblem {
    /// The callback's address, or one of its parameters, was far too long.
    TooLong,
    /// The callback carried no `state`.
    NoState,
    /// The `state` matched no attempt in flight in this browser.
    UnknownState,
    LinkUnknown,
    LinkUsed,
    LinkExpired,
    LinkUnavailable,
    /// A reconnect of an account that does not exist.
    NoAccount,
    /// The database or the session store failed.
    Unavailable,
}

impl ConnectProblem {
    pub const ALL: [ConnectProblem; 9] = [
        Self::TooLong,
        Self::NoState,
        Self::UnknownState,
        Self::LinkUnknown,
        Self::LinkUsed,
        Self::LinkExpired,
        Self::LinkUnavailable,
        Self::NoAccount,
        Self::Unavailable,
    ];

    /// The code in the address.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLong => "too-long",
            Self::NoState => "no-state",
            Self::UnknownState => "unknown-state",
            Self::LinkUnknown => "link-unknown",
            Self::LinkUsed => "link-used",
            Self::LinkExpired => "link-expired",
            Self::LinkUnavailable => "link-unavailable",
            Self::NoAccount => "no-account",
            Self::Unavailable => "unavailable",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Where the person is sent to read it.
    pub fn path(self) -> String {
        format!("/connect/result?problem={}", self.code())
    }

    /// What the result page says.
    pub fn flash(self) -> Flash {
        let (title, message) = match self {
            Self::TooLong => (
                "This sign-in answer is not valid",
                "The address, or one of its parameters, was far too long to come from X. Nothing changed.",
            ),
            Self::NoState => (
                "This sign-in answer is incomplete",
                "X's answer had no state, so it cannot be matched to a sign-in you started. Nothing changed. Start again from the account.",
            ),
            Self::UnknownState => (
                "This sign-in has expired or was already used",
                "This answer does not match a sign-in started in this browser: it may have expired, or been used already (e.g. by reloading the page). Nothing changed. Start again from the account.",
            ),
            Self::LinkUnknown => {
                ("This reconnect link does not work", "This link is not valid: check that it was copied whole, or ask for a new one. Nothing changed.")
            }
            Self::LinkUsed => (
                "This reconnect link does not work",
                "This link was already used to reconnect the account. Links work once; ask for a new one if it needs reconnecting again.",
            ),
            Self::LinkExpired => ("This reconnect link does not work", "This link has expired. Nothing changed. Ask for a new one."),
            Self::LinkUnavailable => {
                ("This reconnect link does not work", "The link could not be checked just now; nothing changed. Try again in a minute.")
            }
            Self::NoAccount => ("No such account", "There is no account to reconnect at this address. Nothing changed."),
            Self::Unavailable => ("Something went wrong", "authwatch could not reach its database just now; nothing changed. Try again in a minute."),
        };
        Flash {
            kind: FlashKind::Problem,
            title: title.to_owned(),
            message: message.to_owned(),
            account_id: None,
            retry_account: None,
        }
    }
}
