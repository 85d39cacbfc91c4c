//! An account's auth health, decided by one pure function, [`diagnose`],
//! from plain facts and the clock. The dashboard, the account page and the
//! engine all read health from here, so they can never disagree.

use crate::flow::Flow;
use crate::scopes::Scopes;
use serde::{Deserialize, Serialize};

/// Why an account cannot publish, or could soon not (docs/x-behaviour.md,
/// "Causes and who acts").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cause {
    /// The access token's 2 hours are over (the system refreshes).
    AccessTokenExpired,
    /// X rotated the refresh token but the old one was kept.
    RotatedTokenNotSaved,
    /// A refresh was sent but its answer never arrived or was never written:
    /// X may have rotated the refresh token.
    RefreshAnswerLost,
    /// A lost answer, verified: the stored refresh token is dead, so X had
    /// rotated it and the new one never arrived.
    RotationLost,
    /// X rejected the refresh token: revoked, expired (~6 months) or spent.
    RefreshTokenRejected,
    /// The account disconnected the app in X's settings.
    UserRevoked,
    /// The grant lacks a scope authwatch requires (e.g. `tweet.write`).
    ScopeMissing,
    /// No refresh token: `offline.access` was not granted.
    NoRefreshToken,
    /// X rejected the app's client credentials (wrong environment's secret, rotated secret).
    AppCredentialsRejected,
    /// This server's clock is off against X's.
    ClockDrift,
    /// X answered 5xx, timed out, or could not be reached.
    XUnavailable,
    /// X answered 429.
    RateLimited,
    /// X refuses access tokens that are valid: even one refreshed a moment
    /// ago. X's own incident (an auth outage), not the account's.
    XRefusesValidTokens,
    /// X rejected the refresh token while the access token of the same
    /// generation still worked: another copy of these tokens refreshed it.
    TokensCopied,
    /// X rejected the refresh token of a grant about 6 months old: it ran out.
    RefreshTokenExpired,
    /// X refused a post for its content (a duplicate, a reply it does not
    /// allow). The post's problem, never the account's.
    ContentRefused,
    /// X answered 402 "credits depleted": the X app's pay-per-use balance is
    /// empty. Billing, for an admin: every account is fine.
    CreditsDepleted,
    /// X answered an OAuth 1.0a call with code 89 "Invalid or expired
    /// token", confirmed by a second signed call: the account revoked the
    /// app, or the app's consumer key was regenerated.
    Oauth1TokenInvalid,
    /// X answered an OAuth 1.0a call with code 32 "Could not authenticate
    /// you": the app's consumer key or secret is wrong (or was regenerated
    /// and the old one is configured). The app's, never an account's.
    ConsumerKeyRejected,
    /// Every account connected with OAuth 1.0a was refused with code 89
    /// together: the app's consumer key was regenerated, which kills every
    /// 1.0a token of the app at once.
    ConsumerKeyRegenerated,
}

impl Cause {
    /// Every cause, for exhaustive tests and filters.
    pub const ALL: [Cause; 20] = [
        Cause::AccessTokenExpired,
        Cause::RotatedTokenNotSaved,
        Cause::RefreshAnswerLost,
        Cause::RotationLost,
        Cause::RefreshTokenRejected,
        Cause::UserRevoked,
        Cause::ScopeMissing,
        Cause::NoRefreshToken,
        Cause::AppCredentialsRejected,
        Cause::ClockDrift,
        Cause::XUnavailable,
        Cause::RateLimited,
        Cause::XRefusesValidTokens,
        Cause::TokensCopied,
        Cause::RefreshTokenExpired,
        Cause::ContentRefused,
        Cause::CreditsDepleted,
        Cause::Oauth1TokenInvalid,
        Cause::ConsumerKeyRejected,
        Cause::ConsumerKeyRegenerated,
    ];

    /// The database spelling: the one place a cause becomes a string.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::AccessTokenExpired => "access_token_expired",
            Cause::RotatedTokenNotSaved => "rotated_token_not_saved",
            Cause::RefreshAnswerLost => "refresh_answer_lost",
            Cause::RotationLost => "rotation_lost",
            Cause::RefreshTokenRejected => "refresh_token_rejected",
            Cause::UserRevoked => "user_revoked",
            Cause::ScopeMissing => "scope_missing",
            Cause::NoRefreshToken => "no_refresh_token",
            Cause::AppCredentialsRejected => "app_credentials_rejected",
            Cause::ClockDrift => "clock_drift",
            Cause::XUnavailable => "x_unavailable",
            Cause::RateLimited => "rate_limited",
            Cause::XRefusesValidTokens => "x_refuses_valid_tokens",
            Cause::TokensCopied => "tokens_copied",
            Cause::RefreshTokenExpired => "refresh_token_expired",
            Cause::ContentRefused => "content_refused",
            Cause::CreditsDepleted => "credits_depleted",
            Cause::Oauth1TokenInvalid => "oauth1_token_invalid",
            Cause::ConsumerKeyRejected => "consumer_key_rejected",
            Cause::ConsumerKeyRegenerated => "consumer_key_regenerated",
        }
    }

    pub fn parse(s: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What must happen about an open incident of this cause, in words;
    /// `None` for a cause that never makes an account's incident. Who acts
    /// is [`Cause::who`]'s to say, and the health follows from who acts.
    pub fn incident_step(self) -> Option<&'static str> {
        Some(match self {
            Cause::RefreshTokenRejected
            | Cause::RotationLost
            | Cause::UserRevoked
            | Cause::RotatedTokenNotSaved
            | Cause::ScopeMissing
            | Cause::NoRefreshToken
            | Cause::Oauth1TokenInvalid => "The account's owner must reconnect it in the browser, signed in to X as this account.",
            Cause::ConsumerKeyRegenerated => {
                "The account's owner must reconnect it in the browser, signed in to X as this account: a regenerated consumer key kills every OAuth 1.0a token of the app, and an admin must make sure authwatch holds the new API key and secret."
            }
            Cause::ConsumerKeyRejected => {
                "An admin must fix the X app's OAuth 1.0a API key and secret (consumer key) in authwatch's configuration."
            }
            Cause::TokensCopied => {
                "The account's owner must reconnect it, and whoever runs the other copy of its tokens must find it and stop it, or it will happen again."
            }
            Cause::RefreshTokenExpired => {
                "The account's owner must reconnect it in the browser (consent again), signed in to X as this account."
            }
            Cause::ClockDrift => "Operations must fix this server's clock (NTP); the token itself may be fine.",
            Cause::AppCredentialsRejected => "An admin must fix the X app's client id and secret.",
            Cause::RefreshAnswerLost => "authwatch will try the stored refresh token once to find out whether it still works.",
            Cause::XUnavailable | Cause::RateLimited => {
                "Nothing to do: authwatch retries with backoff. The account is not marked dead for this."
            }
            Cause::XRefusesValidTokens => {
                "Nothing to do: nobody needs to reconnect. authwatch keeps the grant and tries again; this clears once X accepts its tokens."
            }
            // An expired token is not an incident; it is handled by the age
            // checks. A refused post is the post's problem. Depleted credits
            // are the app's (an app warning), never an account's.
            Cause::AccessTokenExpired | Cause::ContentRefused | Cause::CreditsDepleted => return None,
        })
    }

    /// The cause in words, for a social media manager.
    pub fn describe(self) -> &'static str {
        match self {
            Cause::AccessTokenExpired => "The access token expired (X access tokens live 2 hours).",
            Cause::RotatedTokenNotSaved => "X rotated the refresh token but the new one was not saved.",
            Cause::RefreshAnswerLost => {
                "Refresh answer lost: X may have rotated the refresh token, but its answer never arrived."
            }
            Cause::RotationLost => {
                "Refresh answer lost: X rotated the refresh token but its answer never arrived, so the stored one is dead."
            }
            Cause::RefreshTokenRejected => {
                "X rejected the refresh token: it was revoked or already used (its access token had expired, so it could not tell which)."
            }
            Cause::UserRevoked => "The account's access was revoked at X (disconnected in X's settings).",
            Cause::ScopeMissing => "The grant lacks a permission authwatch needs.",
            Cause::NoRefreshToken => "X gave no refresh token (offline.access was not granted).",
            Cause::AppCredentialsRejected => {
                "X rejected the app's client credentials: wrong environment's secret, or the secret was rotated?"
            }
            Cause::ClockDrift => "This server's clock is off against X's, so valid tokens can look expired.",
            Cause::XUnavailable => "X is unavailable (errors or timeouts); authwatch retries with backoff.",
            Cause::RateLimited => "X is rate limiting; authwatch waits for the limit to reset.",
            Cause::XRefusesValidTokens => {
                "X is refusing valid access tokens, even one refreshed a moment ago: X's own incident, not the account's."
            }
            Cause::TokensCopied => {
                "Another system refreshed this account: a copy of these tokens exists (a restored backup, a second environment on the same app, a script)."
            }
            Cause::RefreshTokenExpired => "The refresh token expired: X's refresh tokens last about 6 months from the consent.",
            Cause::ContentRefused => "X refused the post's content (a duplicate, for instance); the account is fine.",
            Cause::CreditsDepleted => {
                "X answered 402 \"credits depleted\": the X app's pay-per-use balance is empty. Every account is fine."
            }
            Cause::Oauth1TokenInvalid => {
                "X says the OAuth 1.0a token is invalid (code 89 \"Invalid or expired token\"): the account revoked the app, or the app's consumer key was regenerated."
            }
            Cause::ConsumerKeyRejected => {
                "X could not authenticate the app's OAuth 1.0a API key and secret (code 32 \"Could not authenticate you\"): a wrong or regenerated consumer key."
            }
            Cause::ConsumerKeyRegenerated => {
                "Every account connected with OAuth 1.0a was refused at once with X's code 89: the app's consumer key was regenerated, which kills every 1.0a token of the app."
            }
        }
    }

    /// Who can fix it.
    pub fn who(self) -> Who {
        match self {
            Cause::AccessTokenExpired => Who::System,
            Cause::RefreshAnswerLost => Who::System,
            Cause::RotatedTokenNotSaved
            | Cause::RotationLost
            | Cause::RefreshTokenRejected
            | Cause::TokensCopied
            | Cause::RefreshTokenExpired
            | Cause::UserRevoked
            | Cause::ScopeMissing
            | Cause::NoRefreshToken
            | Cause::Oauth1TokenInvalid
            | Cause::ConsumerKeyRegenerated => Who::Owner,
            Cause::AppCredentialsRejected | Cause::CreditsDepleted | Cause::ConsumerKeyRejected => Who::Admin,
            Cause::ClockDrift => Who::Operations,
            // Whoever wrote a refused post changes it; for the account, nobody.
            Cause::XUnavailable | Cause::RateLimited | Cause::XRefusesValidTokens | Cause::ContentRefused => {
                Who::Nobody
            }
        }
    }

    /// Whether the cause is X's passing trouble, never a reason to send an
    /// account to reconnect.
    pub fn is_transient(self) -> bool {
        matches!(self, Cause::XUnavailable | Cause::RateLimited | Cause::XRefusesValidTokens)
    }

    /// Whether a successful check (a working access token) clears an open
    /// incident of this cause: X's passing trouble and clock drift. It proves
    /// nothing about the refresh token, so nothing else.
    ///
    /// An OAuth 1.0a token has nothing but itself: a signed call that works
    /// proves the token and the consumer key alive, so it clears X's code
    /// 89 and 32 too.
    pub fn cleared_by_check(self) -> bool {
        self.is_transient()
            || matches!(self, Cause::ClockDrift | Cause::Oauth1TokenInvalid | Cause::ConsumerKeyRejected)
    }

    /// Whether the scheduler's refresh can help an account whose open
    /// incident has this cause: X's passing trouble (tried again after the
    /// backoff), or a lost answer (the stored refresh token is tried once to
    /// tell). The others wait for a person.
    pub fn refresh_can_help(self) -> bool {
        self.is_transient() || self == Cause::RefreshAnswerLost
    }
}

impl TryFrom<String> for Cause {
    type Error = crate::spelling::UnknownSpelling;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Cause::parse(&value).ok_or(crate::spelling::UnknownSpelling { what: "cause", value })
    }
}

/// Who must act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Who {
    /// authwatch itself (a refresh).
    System,
    /// The person who can sign in to the X account: a reconnect.
    Owner,
    /// An admin: the X app's configuration.
    Admin,
    /// Operations: the server.
    Operations,
    /// Nobody: wait.
    Nobody,
}

impl Who {
    /// What `self` must do, when a person must act.
    pub fn action(self) -> Option<Action> {
        match self {
            Who::Owner => Some(Action::Reconnect),
            Who::Admin => Some(Action::FixApp),
            Who::Operations => Some(Action::FixClock),
            Who::System | Who::Nobody => None,
        }
    }

    /// The health of an account whose open incident waits for `self`.
    pub fn health_of_incident(self) -> Health {
        match (self, self.action()) {
            (_, Some(action)) => Health::ActionNeeded(action),
            // A lost refresh answer: authwatch verifies it with a refresh.
            (Who::System, None) => Health::RefreshDue,
            (_, None) => Health::XUnavailable,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Who::System => "authwatch (automatic)",
            Who::Owner => "the account's owner",
            Who::Admin => "an admin",
            Who::Operations => "operations",
            Who::Nobody => "nobody: wait",
        }
    }
}

/// What a person must do, when one must.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Sign in to the X account again, in the browser.
    Reconnect,
    /// Fix the X app's client id/secret configuration.
    FixApp,
    /// Fix the server's clock.
    FixClock,
}

/// The health of one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    /// The token works and is not due.
    Healthy,
    /// The access token expires within the lead time: authwatch refreshes it.
    RefreshDue,
    /// The access token expired; the refresh token should still work.
    ExpiredRefreshable,
    /// A person must act.
    ActionNeeded(Action),
    /// X is failing or rate limiting; nothing to do but wait.
    XUnavailable,
    /// Connected, but never verified since.
    NeverChecked,
}

impl Health {
    /// Every kind of health, in the order the dashboard lists them: the
    /// accounts that need a person first.
    pub const ALL: [Health; 8] = [
        Health::ActionNeeded(Action::Reconnect),
        Health::ActionNeeded(Action::FixApp),
        Health::ActionNeeded(Action::FixClock),
        Health::XUnavailable,
        Health::ExpiredRefreshable,
        Health::RefreshDue,
        Health::NeverChecked,
        Health::Healthy,
    ];

    /// Sort key: lower needs attention sooner.
    pub fn rank(self) -> u8 {
        Health::ALL.iter().position(|h| *h == self).unwrap_or(Health::ALL.len()) as u8
    }

    /// The words on the badge.
    pub fn label(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::RefreshDue => "Refresh due",
            Health::ExpiredRefreshable => "Expired, refreshable",
            Health::ActionNeeded(Action::Reconnect) => "Reconnect needed",
            Health::ActionNeeded(Action::FixApp) => "Fix app settings",
            Health::ActionNeeded(Action::FixClock) => "Fix clock",
            Health::XUnavailable => "X unavailable",
            Health::NeverChecked => "Never checked",
        }
    }

    /// A stable identifier for URLs, CSS classes and the API.
    pub fn slug(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::RefreshDue => "refresh-due",
            Health::ExpiredRefreshable => "expired-refreshable",
            Health::ActionNeeded(Action::Reconnect) => "reconnect",
            Health::ActionNeeded(Action::FixApp) => "fix-app",
            Health::ActionNeeded(Action::FixClock) => "fix-clock",
            Health::XUnavailable => "x-unavailable",
            Health::NeverChecked => "never-checked",
        }
    }

    pub fn from_slug(s: &str) -> Option<Health> {
        Health::ALL.into_iter().find(|h| h.slug() == s)
    }

    /// Whether a person must act.
    pub fn needs_person(self) -> bool {
        matches!(self, Health::ActionNeeded(_))
    }
}

/// The current token set, without the tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenFacts {
    /// The flow the grant came from: an OAuth 1.0a token never expires, so
    /// `expires_at` means nothing for it.
    pub flow: Flow,
    pub generation: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub scopes: Scopes,
    pub has_refresh_token: bool,
}

/// A failure that nothing has cleared since.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenIncident {
    pub cause: Cause,
    pub since: i64,
}

/// What is known of one account (times in ms since the epoch).
#[derive(Clone, Debug, PartialEq)]
pub struct AccountFacts {
    pub token: TokenFacts,
    /// The latest failure not cleared by a later success or reconnect.
    pub incident: Option<OpenIncident>,
    /// The last time X proved the grant alive: a connect, a successful
    /// refresh or a successful check.
    pub last_verified_at: Option<i64>,
}

/// What is known of the X app all accounts share.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppFacts {
    /// X rejected the client credentials, and nothing has succeeded since.
    pub credentials_rejected_since: Option<i64>,
    /// The last measured offset of X's clock minus ours, in ms.
    pub clock_offset_ms: Option<i64>,
    /// X answered 402 "credits depleted", and no probe has found credits since.
    pub credits_depleted_since: Option<i64>,
    /// What X said then (its body, as kept).
    pub credits_x_error: Option<String>,
    /// X refused the app's OAuth 1.0a consumer key (code 32), and no 1.0a
    /// call has succeeded since.
    pub consumer_key_rejected_since: Option<i64>,
    /// Every account connected with OAuth 1.0a (two at least) is refused
    /// with code 89 since about the same moment: the consumer key was
    /// regenerated ([`crate::incidents::consumer_key_regenerated`]).
    pub oauth1_keys_regenerated_since: Option<i64>,
}

/// Tunables of the diagnosis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// Refresh this long before expiry.
    pub refresh_lead_ms: i64,
    /// A clock offset beyond this is a problem.
    pub clock_drift_threshold_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self { refresh_lead_ms: 15 * 60 * 1000, clock_drift_threshold_ms: 30 * 1000 }
    }
}

/// The verdict on one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub health: Health,
    pub cause: Option<Cause>,
    /// The cause in words (or why all is well).
    pub summary: String,
    /// What to do next, in words.
    pub next_step: String,
    pub who: Who,
    /// Required scopes the grant lacks.
    pub missing_scopes: Vec<String>,
}

/// Decides an account's health. Pure: the same facts and clock give the same verdict.
///
/// Order matters: an app-level problem explains every account's failures,
/// so it comes first; then problems only a person can fix; then X's passing
/// trouble; then the token's age.
pub fn diagnose(account: &AccountFacts, app: &AppFacts, required: &Scopes, now: i64, policy: &Policy) -> Diagnosis {
    let required = match account.token.flow {
        Flow::OAuth2 => required.clone(),
        Flow::OAuth1 => required.for_oauth1(),
    };
    let missing = account.token.scopes.missing_from(&required);
    let verdict = |health: Health, cause: Option<Cause>, summary: String, next_step: &str, who: Who| Diagnosis {
        health,
        cause,
        summary,
        next_step: next_step.to_owned(),
        who,
        missing_scopes: missing.clone(),
    };

    let flow = account.token.flow;
    // The OAuth 2.0 client's credentials play no part in a 1.0a account's
    // calls, and the consumer key none in an OAuth 2.0 account's.
    if flow == Flow::OAuth1 && app.consumer_key_rejected_since.is_some() {
        let c = Cause::ConsumerKeyRejected;
        return verdict(
            c.who().health_of_incident(),
            Some(c),
            c.describe().into(),
            "An admin must fix the X app's API key and secret (consumer key); every OAuth 1.0a account of this app is affected, and none needs reconnecting for it.",
            c.who(),
        );
    }
    if flow == Flow::OAuth2 && app.credentials_rejected_since.is_some() {
        let c = Cause::AppCredentialsRejected;
        return verdict(
            c.who().health_of_incident(),
            Some(c),
            c.describe().into(),
            "An admin must fix the X app's client id and secret; every account of this app is affected.",
            c.who(),
        );
    }

    if let Some(incident) = &account.incident {
        let c = match incident.cause {
            Cause::Oauth1TokenInvalid if flow == Flow::OAuth1 && app.oauth1_keys_regenerated_since.is_some() => {
                Cause::ConsumerKeyRegenerated
            }
            c => c,
        };
        if let Some(next_step) = c.incident_step() {
            let who = c.who();
            return verdict(who.health_of_incident(), Some(c), c.describe().into(), next_step, who);
        }
    }

    if !missing.is_empty() {
        let c = if missing.iter().any(|s| s == "offline.access") && !account.token.has_refresh_token {
            Cause::NoRefreshToken
        } else {
            Cause::ScopeMissing
        };
        return verdict(
            c.who().health_of_incident(),
            Some(c),
            match c {
                Cause::NoRefreshToken => format!(
                    "The grant lacks {}: X gives no refresh token, so the account stops when its access token expires.",
                    missing.join(", ")
                ),
                _ => format!("The grant lacks {}, which authwatch requires.", missing.join(", ")),
            },
            "Reconnect granting every required scope; if X does not offer it, the X app's permissions need changing.",
            c.who(),
        );
    }

    let token = &account.token;
    if !flow.expires() {
        if account.last_verified_at.is_none() {
            return verdict(
                Health::NeverChecked,
                None,
                "Connected with OAuth 1.0a, but X has not confirmed the token since. It does not expire.".into(),
                "Run a check: authwatch asks X who this token belongs to.",
                Who::System,
            );
        }
        return verdict(
            Health::Healthy,
            None,
            "The token works. OAuth 1.0a tokens do not expire: it dies only when revoked or the app's keys change."
                .into(),
            "Nothing to do.",
            Who::Nobody,
        );
    }
    if now >= token.expires_at {
        if !token.has_refresh_token {
            let c = Cause::NoRefreshToken;
            return verdict(
                c.who().health_of_incident(),
                Some(c),
                format!("The access token expired and there is no refresh token. {}", c.describe()),
                "The account's owner must reconnect it, granting offline.access.",
                c.who(),
            );
        }
        return verdict(
            Health::ExpiredRefreshable,
            Some(Cause::AccessTokenExpired),
            Cause::AccessTokenExpired.describe().into(),
            "authwatch refreshes it with the stored refresh token; no one needs to act.",
            Cause::AccessTokenExpired.who(),
        );
    }
    if token.expires_at - now <= policy.refresh_lead_ms {
        return verdict(
            Health::RefreshDue,
            None,
            "The access token expires soon.".into(),
            "authwatch refreshes it before it expires.",
            Who::System,
        );
    }
    if account.last_verified_at.is_none() {
        return verdict(
            Health::NeverChecked,
            None,
            "Connected, but X has not confirmed the grant since.".into(),
            "Run a check: authwatch asks X who this token belongs to.",
            Who::System,
        );
    }
    verdict(Health::Healthy, None, "The token works and is not due.".into(), "Nothing to do.", Who::Nobody)
}

/// App-level problems, shown once above all accounts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppWarning {
    pub cause: Cause,
    pub message: String,
}

/// The app-level warnings: rejected credentials, depleted credits and clock drift.
pub fn app_warnings(app: &AppFacts, policy: &Policy) -> Vec<AppWarning> {
    let mut out = Vec::new();
    if let Some(since) = app.credits_depleted_since {
        let said = app.credits_x_error.as_deref().map(|e| format!(" X answered: {e}")).unwrap_or_default();
        out.push(AppWarning {
            cause: Cause::CreditsDepleted,
            message: format!(
                "Since {}, X refuses the app's calls with 402 Payment Required (\"credits depleted\"): the X app's pay-per-use balance is empty.{said} \
                 An admin must top up the balance in X's developer console (Billing), or turn on auto-recharge. \
                 Every account is fine: nobody needs to reconnect. Posts are held and published once X accepts calls again (authwatch asks X every few minutes).",
                crate::format::utc(since)
            ),
        });
    }
    if app.credentials_rejected_since.is_some() {
        out.push(AppWarning {
            cause: Cause::AppCredentialsRejected,
            message: format!(
                "{} Every account on this app is affected: fix the configuration, not the accounts.",
                Cause::AppCredentialsRejected.describe()
            ),
        });
    }
    if app.consumer_key_rejected_since.is_some() {
        out.push(AppWarning {
            cause: Cause::ConsumerKeyRejected,
            message: format!(
                "{} Every account connected with OAuth 1.0a is affected: an admin must fix AUTHWATCH_X_CONSUMER_KEY and AUTHWATCH_X_CONSUMER_SECRET, not the accounts.",
                Cause::ConsumerKeyRejected.describe()
            ),
        });
    }
    if let Some(since) = app.oauth1_keys_regenerated_since {
        out.push(AppWarning {
            cause: Cause::ConsumerKeyRegenerated,
            message: format!(
                "Since {}, every account connected with OAuth 1.0a is refused with X's code 89 \"Invalid or expired token\": \
                 the consumer key was regenerated, which kills every 1.0a token of the app at once. \
                 An admin must make sure authwatch holds the new API key and secret; then each account must be reconnected (their owners are asked). \
                 Reconnecting with OAuth 2.0 avoids this in future.",
                crate::format::utc(since)
            ),
        });
    }
    if let Some(offset) = app.clock_offset_ms {
        if offset.abs() > policy.clock_drift_threshold_ms {
            let direction = if offset > 0 { "behind" } else { "ahead of" };
            out.push(AppWarning {
                cause: Cause::ClockDrift,
                message: format!(
                    "This server's clock is {:.1} s {direction} X's (measured from X's Date header; threshold {} s). Fix the clock (NTP).",
                    offset.abs() as f64 / 1000.0,
                    policy.clock_drift_threshold_ms / 1000
                ),
            });
        }
    }
    out
}

/// What one attempt against X came to, as the incident bookkeeping needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// A connect, reconnect or successful refresh: a new grant or token set.
    Renewed,
    /// A successful check: the access token works (says nothing of the refresh token).
    Verified,
    /// A failure, classified.
    Failed(Cause),
    /// Says nothing either way (a refresh just started; a check of a token
    /// that had expired anyway).
    Inconclusive,
}

/// The open incident after an attempt, given the one before it.
///
/// A failure opens an incident, or continues the open one with the same
/// cause (so it counts once, `since` unchanged); depleted credits and a
/// refused consumer key are the app's and change nothing. X's passing trouble never
/// replaces a problem a person must fix. A renewal clears everything; a
/// successful check clears only X's passing trouble and clock drift, since a
/// working access token proves nothing about the refresh token.
pub fn next_incident(open: Option<OpenIncident>, result: AttemptResult, at: i64) -> Option<OpenIncident> {
    match result {
        // Billing and the consumer key are the app's incidents (its facts
        // carry them, and clear for every account at once): the account's
        // stays as it was.
        AttemptResult::Failed(Cause::CreditsDepleted | Cause::ConsumerKeyRejected) => open,
        AttemptResult::Renewed => None,
        AttemptResult::Inconclusive => open,
        AttemptResult::Verified => open.filter(|i| !i.cause.cleared_by_check()),
        AttemptResult::Failed(cause) => match open {
            Some(i) if i.cause == cause => Some(i),
            Some(i) if cause.is_transient() && !i.cause.is_transient() => Some(i),
            _ => Some(OpenIncident { cause, since: at }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scopes::DEFAULT_REQUIRED;

    const HOUR: i64 = 3_600_000;
    const NOW: i64 = 1_800_000_000_000;

    fn required() -> Scopes {
        Scopes::from_names(DEFAULT_REQUIRED.iter().copied())
    }

    fn fresh() -> AccountFacts {
        AccountFacts {
            token: TokenFacts {
                flow: Flow::OAuth2,
                generation: 3,
                issued_at: NOW - HOUR / 2,
                expires_at: NOW + 3 * HOUR / 2,
                scopes: required(),
                has_refresh_token: true,
            },
            incident: None,
            last_verified_at: Some(NOW - HOUR / 2),
        }
    }

    fn with_incident(cause: Cause) -> AccountFacts {
        AccountFacts { incident: Some(OpenIncident { cause, since: NOW - 1000 }), ..fresh() }
    }

    fn run(a: &AccountFacts) -> Diagnosis {
        diagnose(a, &AppFacts::default(), &required(), NOW, &Policy::default())
    }

    fn oauth1(issued_days_ago: i64) -> AccountFacts {
        let mut a = fresh();
        a.token.flow = Flow::OAuth1;
        a.token.scopes = Scopes::of_oauth1_access_level("read-write");
        a.token.issued_at = NOW - issued_days_ago * 24 * HOUR;
        // What the row holds for a token that never expires means nothing.
        a.token.expires_at = a.token.issued_at;
        a.token.has_refresh_token = false;
        a
    }

    #[test]
    fn an_oauth1_token_years_old_is_healthy_and_never_due_for_a_refresh() {
        let d = run(&oauth1(3 * 365));
        assert_eq!(d.health, Health::Healthy, "{d:?}");
        assert!(d.summary.contains("do not expire"), "{}", d.summary);
        let never = AccountFacts { last_verified_at: None, ..oauth1(1) };
        assert_eq!(run(&never).health, Health::NeverChecked);
    }

    #[test]
    fn oauth1_causes_go_to_the_person_who_can_fix_them() {
        let app = AppFacts::default();
        let on = |a: &AccountFacts, app: &AppFacts| diagnose(a, app, &required(), NOW, &Policy::default());
        let revoked = AccountFacts {
            incident: Some(OpenIncident { cause: Cause::Oauth1TokenInvalid, since: NOW }),
            ..oauth1(30)
        };
        assert_eq!(on(&revoked, &app).health, Health::ActionNeeded(Action::Reconnect));

        let regenerated = AppFacts { oauth1_keys_regenerated_since: Some(NOW), ..AppFacts::default() };
        let d = on(&revoked, &regenerated);
        assert_eq!((d.health, d.cause), (Health::ActionNeeded(Action::Reconnect), Some(Cause::ConsumerKeyRegenerated)));
        assert!(d.next_step.contains("admin"), "{}", d.next_step);

        // A rejected consumer key is the app's, for 1.0a accounts only…
        let key = AppFacts { consumer_key_rejected_since: Some(NOW), ..AppFacts::default() };
        let d = on(&revoked, &key);
        assert_eq!((d.health, d.cause), (Health::ActionNeeded(Action::FixApp), Some(Cause::ConsumerKeyRejected)));
        assert_eq!(on(&fresh(), &key).health, Health::Healthy);
        // …and the OAuth 2.0 client's secret plays no part in a 1.0a account's calls.
        let client = AppFacts { credentials_rejected_since: Some(NOW), ..AppFacts::default() };
        assert_eq!(on(&oauth1(1), &client).health, Health::Healthy);
        assert_eq!(on(&fresh(), &client).health, Health::ActionNeeded(Action::FixApp));

        let clock = AccountFacts { incident: Some(OpenIncident { cause: Cause::ClockDrift, since: NOW }), ..oauth1(1) };
        assert_eq!(on(&clock, &app).health, Health::ActionNeeded(Action::FixClock));
        // A signed call that works clears X's code 89: nothing else is left to prove.
        let after = next_incident(revoked.incident.clone(), AttemptResult::Verified, NOW + 1);
        assert_eq!(after, None);
    }

    #[test]
    fn a_fresh_verified_token_is_healthy() {
        let d = run(&fresh());
        assert_eq!(d.health, Health::Healthy);
        assert_eq!(d.who, Who::Nobody);
        assert!(d.cause.is_none());
    }

    #[test]
    fn access_token_expired_is_for_the_system_to_refresh() {
        let mut a = fresh();
        a.token.expires_at = NOW - 1;
        let d = run(&a);
        assert_eq!(d.health, Health::ExpiredRefreshable);
        assert_eq!(d.cause, Some(Cause::AccessTokenExpired));
        assert_eq!(d.who, Who::System);
    }

    #[test]
    fn expiry_within_the_lead_time_is_refresh_due_and_just_outside_is_not() {
        let mut a = fresh();
        a.token.expires_at = NOW + Policy::default().refresh_lead_ms;
        assert_eq!(run(&a).health, Health::RefreshDue);
        a.token.expires_at += 1;
        assert_eq!(run(&a).health, Health::Healthy);
    }

    #[test]
    fn dead_refresh_chains_need_the_owner_to_reconnect() {
        for cause in [
            Cause::RotatedTokenNotSaved,
            Cause::RotationLost,
            Cause::RefreshTokenRejected,
            Cause::UserRevoked,
            Cause::TokensCopied,
            Cause::RefreshTokenExpired,
        ] {
            let d = run(&with_incident(cause));
            assert_eq!(d.health, Health::ActionNeeded(Action::Reconnect), "{cause:?}");
            assert_eq!(d.cause, Some(cause));
            assert_eq!(d.who, Who::Owner);
        }
    }

    #[test]
    fn a_lost_refresh_answer_is_verified_by_the_system_not_guessed() {
        let d = run(&with_incident(Cause::RefreshAnswerLost));
        assert_eq!(d.health, Health::RefreshDue);
        assert_eq!(d.who, Who::System);
        assert!(d.summary.contains("Refresh answer lost"));
    }

    #[test]
    fn a_missing_scope_is_named_and_sent_to_the_owner() {
        let mut a = fresh();
        a.token.scopes = Scopes::parse("tweet.read users.read offline.access");
        let d = run(&a);
        assert_eq!(d.health, Health::ActionNeeded(Action::Reconnect));
        assert_eq!(d.cause, Some(Cause::ScopeMissing));
        assert_eq!(d.missing_scopes, vec!["tweet.write"]);
        assert!(d.summary.contains("tweet.write"));
    }

    #[test]
    fn no_offline_access_means_no_refresh_token() {
        let mut a = fresh();
        a.token.scopes = Scopes::parse("tweet.read tweet.write users.read");
        a.token.has_refresh_token = false;
        let d = run(&a);
        assert_eq!(d.cause, Some(Cause::NoRefreshToken));
        assert_eq!(d.health, Health::ActionNeeded(Action::Reconnect));
    }

    #[test]
    fn rejected_app_credentials_are_an_admin_problem_for_every_account() {
        let app = AppFacts { credentials_rejected_since: Some(NOW - 5000), ..AppFacts::default() };
        // Even an account that also has its own incident: the app explains it.
        for a in [fresh(), with_incident(Cause::RefreshTokenRejected)] {
            let d = diagnose(&a, &app, &required(), NOW, &Policy::default());
            assert_eq!(d.health, Health::ActionNeeded(Action::FixApp));
            assert_eq!(d.who, Who::Admin);
        }
        assert_eq!(app_warnings(&app, &Policy::default())[0].cause, Cause::AppCredentialsRejected);
    }

    #[test]
    fn clock_drift_is_an_operations_problem_with_the_measured_offset() {
        let d = run(&with_incident(Cause::ClockDrift));
        assert_eq!(d.health, Health::ActionNeeded(Action::FixClock));
        assert_eq!(d.who, Who::Operations);

        let app = AppFacts { clock_offset_ms: Some(-95_400), ..AppFacts::default() };
        let w = app_warnings(&app, &Policy::default());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].cause, Cause::ClockDrift);
        assert!(w[0].message.contains("95.4 s ahead of X's"), "{}", w[0].message);
        let small = AppFacts { clock_offset_ms: Some(29_000), ..AppFacts::default() };
        assert!(app_warnings(&small, &Policy::default()).is_empty());
    }

    #[test]
    fn depleted_credits_are_the_apps_billing_and_leave_every_account_as_it_was() {
        let app = AppFacts {
            credits_depleted_since: Some(NOW - 60_000),
            credits_x_error: Some(r#"{"title":"Payment Required","detail":"credits depleted"}"#.into()),
            ..AppFacts::default()
        };
        let d = diagnose(&fresh(), &app, &required(), NOW, &Policy::default());
        assert_eq!(d.health, Health::Healthy, "the account is fine: {d:?}");
        let w = app_warnings(&app, &Policy::default());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].cause, Cause::CreditsDepleted);
        for words in ["credits depleted", "top up", "auto-recharge", "Every account is fine"] {
            assert!(w[0].message.contains(words), "{words}: {}", w[0].message);
        }
        assert_eq!(Cause::CreditsDepleted.who(), Who::Admin);

        // A 402 neither opens an account incident nor replaces or clears one.
        assert_eq!(next_incident(None, AttemptResult::Failed(Cause::CreditsDepleted), 10), None);
        let dead = Some(OpenIncident { cause: Cause::UserRevoked, since: 5 });
        assert_eq!(next_incident(dead.clone(), AttemptResult::Failed(Cause::CreditsDepleted), 10), dead);
        // Even recorded on an account, it says nothing about the account.
        assert_eq!(run(&with_incident(Cause::CreditsDepleted)).health, Health::Healthy);
    }

    #[test]
    fn x_outages_and_rate_limits_never_send_an_account_to_reconnect() {
        for cause in [Cause::XUnavailable, Cause::RateLimited, Cause::XRefusesValidTokens] {
            let mut a = with_incident(cause);
            a.token.expires_at = NOW - 1;
            let d = run(&a);
            assert_eq!(d.health, Health::XUnavailable, "{cause:?}");
            assert_eq!(d.who, Who::Nobody);
            assert!(!d.health.needs_person());
        }
    }

    #[test]
    fn a_copy_of_the_tokens_asks_for_the_copy_to_be_found_too() {
        let d = run(&with_incident(Cause::TokensCopied));
        assert!(d.summary.contains("a copy of these tokens exists"), "{}", d.summary);
        assert!(d.next_step.contains("find it and stop it"), "{}", d.next_step);
    }

    #[test]
    fn a_refused_post_says_nothing_about_the_account() {
        assert_eq!(run(&with_incident(Cause::ContentRefused)).health, Health::Healthy);
        assert_eq!(Cause::ContentRefused.who(), Who::Nobody);
    }

    #[test]
    fn x_refusing_valid_tokens_never_hides_a_dead_grant_and_a_working_token_clears_it() {
        let dead = Some(OpenIncident { cause: Cause::TokensCopied, since: 10 });
        assert_eq!(next_incident(dead.clone(), AttemptResult::Failed(Cause::XRefusesValidTokens), 20), dead);
        let x = next_incident(None, AttemptResult::Failed(Cause::XRefusesValidTokens), 30);
        assert_eq!(next_incident(x, AttemptResult::Verified, 40), None);
    }

    #[test]
    fn an_unverified_connection_is_never_checked() {
        let a = AccountFacts { last_verified_at: None, ..fresh() };
        assert_eq!(run(&a).health, Health::NeverChecked);
    }

    #[test]
    fn every_cause_round_trips_through_its_database_spelling() {
        for c in Cause::ALL {
            assert_eq!(Cause::parse(c.as_str()), Some(c));
            assert!(!c.describe().is_empty());
        }
        assert_eq!(Cause::parse("nonsense"), None);
        for h in Health::ALL {
            assert_eq!(Health::from_slug(h.slug()), Some(h));
        }
    }

    #[test]
    fn incidents_count_once_and_outages_never_hide_a_dead_grant() {
        let dead = Some(OpenIncident { cause: Cause::RefreshTokenRejected, since: 10 });
        // The same cause again continues the incident.
        assert_eq!(next_incident(dead.clone(), AttemptResult::Failed(Cause::RefreshTokenRejected), 20), dead);
        // X's outage does not replace it, and a working access token does not clear it.
        assert_eq!(next_incident(dead.clone(), AttemptResult::Failed(Cause::XUnavailable), 30), dead);
        assert_eq!(next_incident(dead.clone(), AttemptResult::Verified, 40), dead);
        // A reconnect does.
        assert_eq!(next_incident(dead, AttemptResult::Renewed, 50), None);

        let outage = next_incident(None, AttemptResult::Failed(Cause::XUnavailable), 60);
        assert_eq!(outage, Some(OpenIncident { cause: Cause::XUnavailable, since: 60 }));
        assert_eq!(next_incident(outage.clone(), AttemptResult::Failed(Cause::XUnavailable), 70), outage);
        assert_eq!(next_incident(outage.clone(), AttemptResult::Verified, 80), None);
        // A real diagnosis replaces an outage.
        assert_eq!(
            next_incident(outage, AttemptResult::Failed(Cause::UserRevoked), 90),
            Some(OpenIncident { cause: Cause::UserRevoked, since: 90 })
        );
    }

    #[test]
    fn who_acts_on_an_incident_is_its_causes_who_and_the_health_follows() {
        for cause in Cause::ALL {
            let d = run(&with_incident(cause));
            match cause.incident_step() {
                Some(step) => {
                    assert_eq!(
                        (d.cause, d.who, d.health),
                        (Some(cause), cause.who(), cause.who().health_of_incident()),
                        "{cause:?}"
                    );
                    assert_eq!(d.next_step, step);
                }
                // Never an account's incident: the account is judged as if it had none.
                None => assert_eq!(d, run(&fresh()), "{cause:?}"),
            }
        }
    }

    #[test]
    fn a_check_clears_only_passing_trouble_and_clock_drift() {
        for cause in Cause::ALL {
            let open = Some(OpenIncident { cause, since: 1 });
            let after = next_incident(open.clone(), AttemptResult::Verified, 2);
            assert_eq!(after.is_none(), cause.cleared_by_check(), "{cause:?}");
        }
        assert!(Cause::ClockDrift.cleared_by_check() && Cause::XRefusesValidTokens.cleared_by_check());
        assert!(!Cause::RefreshAnswerLost.cleared_by_check() && !Cause::UserRevoked.cleared_by_check());
    }

    #[test]
    fn people_problems_sort_first() {
        let mut all = Health::ALL.to_vec();
        all.reverse();
        all.sort_by_key(|h| h.rank());
        assert!(all[0].needs_person());
        assert_eq!(*all.last().unwrap(), Health::Healthy);
    }
}
