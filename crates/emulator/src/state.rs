//! The emulator's in-memory world and the OAuth rules applied to it.
//!
//! Everything here is synchronous and runs under the emulator's one mutex,
//! which is what makes a refresh token single use under any concurrency:
//! the check and the rotation happen in one critical section.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::faults::{CallCounts, Faults};
use super::model::{ClientType, EmulatedApp, EmulatedUser, EmulatorError, NewApp, NewUser, PostedTweet};
use super::settings::EmulatorSettings;
use super::tokens::{new_token, random_alphanumeric, BasicCredentials, ChallengeMethod, TokenKind};

/// Every scope X's OAuth 2.0 documents (authwatch's docs/x-behaviour.md): the same
/// list authwatch validates its configuration against.
use authwatch_domain::scopes::KNOWN_SCOPES;

mod oauth1;

use oauth1::{new_consumer_key, new_consumer_secret, Oauth1World};
pub(crate) use oauth1::{Oauth1Error, Oauth1Outcome, RequestTokenRefusal};

/// X allows this many callback URLs per app.
const MAX_CALLBACKS: usize = 10;
/// X limits `state` to this many characters.
const MAX_STATE_LEN: usize = 500;
/// X's snowflake epoch (2010-11-04), so generated post ids look like X's.
const SNOWFLAKE_EPOCH_MS: u64 = 1_288_834_974_657;

/// The emulator's time. Two separate knobs: `advanced` moves X's own clock
/// (codes and tokens age), `offset` only skews the `date` header X sends,
/// which is how a client notices that *its* clock is off.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_secs: i64,
    advanced_ms: u64,
}

impl Clock {
    /// The emulator's now, in ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        real_now_ms().saturating_add(self.advanced_ms)
    }

    /// The time X reports in its `date` header.
    pub fn date_header(&self) -> SystemTime {
        let now = SystemTime::now();
        let shift = Duration::from_secs(self.offset_secs.unsigned_abs());
        if self.offset_secs >= 0 {
            now + shift
        } else {
            now.checked_sub(shift).unwrap_or(UNIX_EPOCH)
        }
    }

    /// The `date` header's clock in Unix seconds, for `x-rate-limit-reset`
    /// values consistent with it.
    pub fn date_header_unix_secs(&self) -> u64 {
        self.date_header().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }

    /// Converts an instant of the emulator's clock to Unix seconds on the
    /// `date` header's clock (rounded up, as a reset time should be).
    pub fn to_header_secs(&self, at_ms: u64) -> u64 {
        let ahead_ms = at_ms.saturating_sub(self.now_ms());
        self.date_header_unix_secs() + ahead_ms.div_ceil(1000)
    }
}

fn real_now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A validated authorization request (the query of the consent page).
#[derive(Debug, Clone)]
pub(crate) struct AuthorizeRequest {
    pub client_id: String,
    pub app_name: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: String,
    pub code_challenge: String,
    pub method: ChallengeMethod,
}

/// The raw parameters of an authorization request, as sent.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// A token endpoint refusal, each with X's exact wording (authwatch's docs/x-behaviour.md, "Errors").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    InvalidCode,
    VerifierMismatch,
    VerifierMissing,
    RedirectMismatch,
    InvalidToken,
    MissingAuthHeader,
    ClientAuthFailed,
    /// A required parameter other than `code_verifier` is missing; worded
    /// like X's `code_verifier` message.
    MissingParameter(&'static str),
    UnsupportedGrantType,
}

impl TokenError {
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingAuthHeader | Self::ClientAuthFailed => 401,
            _ => 400,
        }
    }

    pub fn error(&self) -> &'static str {
        match self {
            Self::MissingAuthHeader => "unauthorized_client",
            Self::ClientAuthFailed => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            _ => "invalid_request",
        }
    }

    pub fn description(&self) -> String {
        match self {
            Self::InvalidCode => "Value passed for the authorization code was invalid.".into(),
            Self::VerifierMismatch => "Value passed for the code verifier did not match the code challenge.".into(),
            Self::VerifierMissing => "Missing required parameter [code_verifier].".into(),
            Self::RedirectMismatch => {
                "Value passed for the redirect uri did not match the uri of the authorization code.".into()
            }
            Self::InvalidToken => "Value passed for the token was invalid.".into(),
            Self::MissingAuthHeader => "Missing valid authorization header".into(),
            Self::ClientAuthFailed => "Client authentication failed".into(),
            Self::MissingParameter(name) => format!("Missing required parameter [{name}]."),
            Self::UnsupportedGrantType => "Value passed for the grant type was invalid.".into(),
        }
    }
}

/// What a successful token call hands out.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scope: String,
    pub expires_in: u64,
}

/// Who is calling a v2 endpoint, from their access token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub client_id: String,
    pub user: EmulatedUser,
    pub scopes: Vec<String>,
    pub in_project: bool,
}

impl Caller {
    pub fn has_scopes(&self, needed: &[&str]) -> bool {
        needed.iter().all(|n| self.scopes.iter().any(|s| s == n))
    }
}

#[derive(Debug)]
struct AppRecord {
    app: EmulatedApp,
    /// Scopes the next consents leave out (see `withhold_scopes`).
    withheld: Vec<String>,
}

#[derive(Debug)]
struct CodeRecord {
    client_id: String,
    user_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    challenge: String,
    method: ChallengeMethod,
    expires_ms: u64,
    used: bool,
}

/// One consent turned into tokens: the family every rotated refresh token
/// and every access token of that chain belongs to.
#[derive(Debug)]
struct GrantRecord {
    client_id: String,
    user_id: String,
    scopes: Vec<String>,
    created_ms: u64,
    revoked: bool,
}

#[derive(Debug)]
struct AccessRecord {
    grant: u64,
    expires_ms: u64,
    revoked: bool,
}

#[derive(Debug)]
struct RefreshRecord {
    grant: u64,
    expires_ms: u64,
    /// When it was rotated away; a spent token is dead (after the grace
    /// window, if one is configured).
    spent_ms: Option<u64>,
    revoked: bool,
}

/// What a rate-limit header block reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateView {
    pub limit: u32,
    pub remaining: u32,
    /// On the emulator's clock.
    pub reset_ms: u64,
}

/// The rate-limited buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Bucket {
    UsersMe,
    TweetsUser,
    TweetsUser24h,
    TweetsApp24h,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: u64,
    used: u32,
}

/// Fixed windows starting at the first call, like X's.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    windows: HashMap<(Bucket, String), Window>,
}

impl RateLimits {
    /// The bucket's state now, without using it.
    pub fn view(&self, bucket: Bucket, key: &str, limit: u32, window_ms: u64, now_ms: u64) -> RateView {
        match self.windows.get(&(bucket, key.to_owned())) {
            Some(w) if now_ms < w.start_ms + window_ms => {
                RateView { limit, remaining: limit.saturating_sub(w.used), reset_ms: w.start_ms + window_ms }
            }
            _ => RateView { limit, remaining: limit, reset_ms: now_ms + window_ms },
        }
    }

    /// Uses one call of the bucket; the view after it.
    pub fn consume(&mut self, bucket: Bucket, key: &str, limit: u32, window_ms: u64, now_ms: u64) -> RateView {
        let window = self.windows.entry((bucket, key.to_owned())).or_insert(Window { start_ms: now_ms, used: 0 });
        if now_ms >= window.start_ms + window_ms {
            *window = Window { start_ms: now_ms, used: 0 };
        }
        window.used = window.used.saturating_add(1);
        RateView { limit, remaining: limit.saturating_sub(window.used), reset_ms: window.start_ms + window_ms }
    }

    pub fn clear(&mut self) {
        self.windows.clear();
    }
}

/// The whole emulated X.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub settings: EmulatorSettings,
    pub clock: Clock,
    pub faults: Faults,
    pub counts: CallCounts,
    pub rate: RateLimits,
    /// In creation order: the consent page lists them so.
    users: Vec<EmulatedUser>,
    apps: BTreeMap<String, AppRecord>,
    codes: HashMap<String, CodeRecord>,
    grants: HashMap<u64, GrantRecord>,
    access: HashMap<String, AccessRecord>,
    refresh: HashMap<String, RefreshRecord>,
    tweets: Vec<PostedTweet>,
    oauth1: Oauth1World,
    next_grant: u64,
    next_user: u64,
    last_tweet_id: u64,
}

impl State {
    pub fn new(settings: EmulatorSettings) -> Self {
        Self { settings, ..Self::default() }
    }

    // ---- clock -------------------------------------------------------

    pub fn set_clock_offset(&mut self, seconds: i64) {
        self.clock.offset_secs = seconds;
    }

    pub fn advance_time(&mut self, seconds: u64) {
        self.clock.advanced_ms = self.clock.advanced_ms.saturating_add(seconds.saturating_mul(1000));
    }

    // ---- users and apps ----------------------------------------------

    pub fn create_user(&mut self, new: NewUser) -> EmulatedUser {
        self.next_user += 1;
        let id = new.id.unwrap_or_else(|| (1_500_000_000_000_000_000u64 + self.next_user).to_string());
        let username = if new.username.is_empty() { format!("user{}", self.next_user) } else { new.username };
        let name = if new.name.is_empty() { username.clone() } else { new.name };
        let user = EmulatedUser { id, username, name };
        match self.users.iter_mut().find(|u| u.id == user.id) {
            Some(existing) => *existing = user.clone(),
            None => self.users.push(user.clone()),
        }
        user
    }

    pub fn users(&self) -> Vec<EmulatedUser> {
        self.users.clone()
    }

    pub fn user(&self, id: &str) -> Option<&EmulatedUser> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn create_app(&mut self, new: NewApp) -> Result<EmulatedApp, EmulatorError> {
        if new.callbacks.len() > MAX_CALLBACKS {
            return Err(EmulatorError::TooManyCallbacks(new.callbacks.len()));
        }
        for cb in &new.callbacks {
            let invalid = |reason| EmulatorError::InvalidCallback { url: cb.clone(), reason };
            let url = url::Url::parse(cb).map_err(|_| invalid("not an absolute URL"))?;
            if url.query().is_some() {
                return Err(invalid("X does not allow a query string in callback URLs"));
            }
            if url.fragment().is_some() {
                return Err(invalid("a callback URL cannot have a fragment"));
            }
        }
        // X's client ids are 34 characters; secrets 50.
        let client_id = new.client_id.unwrap_or_else(|| random_alphanumeric(34));
        if self.apps.contains_key(&client_id) {
            return Err(EmulatorError::DuplicateClientId(client_id));
        }
        let consumer_key = new.consumer_key.unwrap_or_else(new_consumer_key);
        if self.apps.values().any(|r| r.app.consumer_key == consumer_key) {
            return Err(EmulatorError::DuplicateConsumerKey(consumer_key));
        }
        let app = EmulatedApp {
            name: new.name,
            client_secret: new.client_secret.unwrap_or_else(|| random_alphanumeric(50)),
            client_id: client_id.clone(),
            client_type: new.client_type,
            callbacks: new.callbacks,
            in_project: new.in_project,
            consumer_key,
            consumer_secret: new.consumer_secret.unwrap_or_else(new_consumer_secret),
        };
        self.apps.insert(client_id, AppRecord { app: app.clone(), withheld: Vec::new() });
        Ok(app)
    }

    pub fn apps(&self) -> Vec<EmulatedApp> {
        self.apps.values().map(|r| r.app.clone()).collect()
    }

    pub fn has_app(&self, client_id: &str) -> bool {
        self.apps.contains_key(client_id)
    }

    pub fn set_client_secret(&mut self, client_id: &str, secret: &str) -> Result<(), EmulatorError> {
        let record = self.apps.get_mut(client_id).ok_or_else(|| EmulatorError::UnknownApp(client_id.into()))?;
        record.app.client_secret = secret.to_owned();
        Ok(())
    }

    pub fn withhold_scopes(&mut self, client_id: &str, scopes: Vec<String>) -> Result<(), EmulatorError> {
        if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
            return Err(EmulatorError::UnknownScope(unknown.clone()));
        }
        let record = self.apps.get_mut(client_id).ok_or_else(|| EmulatorError::UnknownApp(client_id.into()))?;
        record.withheld = scopes;
        Ok(())
    }

    // ---- grants --------------------------------------------------------

    /// Kills every grant (and so every token) of `user_id` for `client_id`,
    /// plus any code not yet exchanged, and the user's OAuth 1.0a tokens:
    /// what "disconnect app" in X's settings does.
    pub fn revoke_grant(&mut self, client_id: &str, user_id: &str) {
        self.revoke_oauth1(client_id, user_id);
        for grant in self.grants.values_mut() {
            if grant.client_id == client_id && grant.user_id == user_id {
                grant.revoked = true;
            }
        }
        for code in self.codes.values_mut() {
            if code.client_id == client_id && code.user_id == user_id {
                code.used = true;
            }
        }
    }

    /// Makes the access tokens of `client_id` (optionally of one user)
    /// expire now. Refresh tokens are untouched.
    pub fn expire_access_tokens(&mut self, client_id: &str, user_id: Option<&str>) {
        let now = self.clock.now_ms();
        let grants = &self.grants;
        for token in self.access.values_mut() {
            let Some(grant) = grants.get(&token.grant) else {
                continue;
            };
            if grant.client_id == client_id && user_id.is_none_or(|u| u == grant.user_id) {
                token.expires_ms = token.expires_ms.min(now);
            }
        }
    }

    /// X invalidates access tokens before their 2 hours are over: those of
    /// `client_id` (of one user, if given) that still work stop working;
    /// refresh tokens are untouched. How many died.
    pub fn invalidate_access_tokens(&mut self, client_id: &str, user_id: Option<&str>) -> usize {
        let now = self.clock.now_ms();
        let grants = &self.grants;
        let mut killed = 0;
        for token in self.access.values_mut() {
            let Some(grant) = grants.get(&token.grant) else {
                continue;
            };
            let live = !token.revoked && !grant.revoked && now < token.expires_ms;
            if live && grant.client_id == client_id && user_id.is_none_or(|u| u == grant.user_id) {
                token.revoked = true;
                killed += 1;
            }
        }
        killed
    }

    /// The same for one access token, if it is still working.
    pub fn invalidate_access_token(&mut self, access_token: &str) -> usize {
        let now = self.clock.now_ms();
        match self.access.get_mut(access_token) {
            Some(token) if !token.revoked && now < token.expires_ms => {
                token.revoked = true;
                1
            }
            _ => 0,
        }
    }

    // ---- authorize -----------------------------------------------------

    /// Checks an authorization request. `Err` carries why, for the error
    /// page's hidden detail: X itself only ever shows "Something went wrong".
    pub fn validate_authorize(&self, params: &AuthorizeParams) -> Result<AuthorizeRequest, &'static str> {
        let client_id = params.client_id.as_deref().filter(|s| !s.is_empty()).ok_or("client_id is missing")?;
        let record = self.apps.get(client_id).ok_or("unknown client_id")?;
        let redirect_uri = params.redirect_uri.as_deref().ok_or("redirect_uri is missing")?;
        if !record.app.callbacks.iter().any(|cb| cb == redirect_uri) {
            return Err("redirect_uri is not a registered callback URL of this app");
        }
        if params.response_type.as_deref() != Some("code") {
            return Err("response_type must be code");
        }
        let scope = params.scope.as_deref().unwrap_or("");
        let mut scopes: Vec<String> = Vec::new();
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            if !KNOWN_SCOPES.contains(&s) {
                return Err("scope names an unknown scope");
            }
            if !scopes.iter().any(|k| k == s) {
                scopes.push(s.to_owned());
            }
        }
        if scopes.is_empty() {
            return Err("scope is missing");
        }
        let state = params.state.as_deref().filter(|s| !s.is_empty()).ok_or("state is missing")?;
        if state.chars().count() > MAX_STATE_LEN {
            return Err("state is longer than 500 characters");
        }
        let code_challenge =
            params.code_challenge.as_deref().filter(|s| !s.is_empty()).ok_or("code_challenge is missing")?;
        let method = params
            .code_challenge_method
            .as_deref()
            .and_then(ChallengeMethod::parse)
            .ok_or("code_challenge_method must be S256 or plain")?;
        Ok(AuthorizeRequest {
            client_id: client_id.to_owned(),
            app_name: record.app.name.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state: state.to_owned(),
            code_challenge: code_challenge.to_owned(),
            method,
        })
    }

    /// The user consented: a code for what they granted — what was asked
    /// minus what the app's withheld scopes leave out.
    pub fn issue_code(&mut self, request: &AuthorizeRequest, user_id: &str) -> String {
        let withheld = self.apps.get(&request.client_id).map(|r| r.withheld.clone()).unwrap_or_default();
        let scopes = request.scopes.iter().filter(|s| !withheld.contains(s)).cloned().collect();
        let now = self.clock.now_ms();
        let code = new_token(TokenKind::AuthorizationCode, now);
        self.codes.insert(
            code.clone(),
            CodeRecord {
                client_id: request.client_id.clone(),
                user_id: user_id.to_owned(),
                redirect_uri: request.redirect_uri.clone(),
                scopes,
                challenge: request.code_challenge.clone(),
                method: request.method,
                expires_ms: now + self.settings.code_ttl_secs * 1000,
                used: false,
            },
        );
        code
    }

    // ---- token endpoint --------------------------------------------------

    /// Identifies the calling app the way X does: confidential clients by
    /// HTTP Basic, public clients by the `client_id` parameter. A public
    /// client may also send Basic (X ignores its secret: public apps have
    /// none in X's portal), but a confidential client without it is refused.
    pub fn authenticate_client(
        &self,
        basic: &BasicCredentials,
        body_client_id: Option<&str>,
    ) -> Result<String, TokenError> {
        match basic {
            BasicCredentials::Present { client_id, client_secret } => {
                let record = self.apps.get(client_id).ok_or(TokenError::ClientAuthFailed)?;
                match record.app.client_type {
                    ClientType::Confidential if record.app.client_secret != *client_secret => {
                        Err(TokenError::ClientAuthFailed)
                    }
                    _ => Ok(client_id.clone()),
                }
            }
            BasicCredentials::Malformed => Err(TokenError::MissingAuthHeader),
            BasicCredentials::Absent => {
                let client_id = body_client_id.filter(|s| !s.is_empty()).ok_or(TokenError::MissingAuthHeader)?;
                let record = self.apps.get(client_id).ok_or(TokenError::ClientAuthFailed)?;
                match record.app.client_type {
                    ClientType::Public => Ok(client_id.to_owned()),
                    ClientType::Confidential => Err(TokenError::MissingAuthHeader),
                }
            }
        }
    }

    /// `grant_type=authorization_code`. A failed attempt leaves the code
    /// usable (X's behaviour there is unverified); a successful one spends it.
    pub fn exchange_code(
        &mut self,
        client_id: &str,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<Issued, TokenError> {
        let code = code.filter(|s| !s.is_empty()).ok_or(TokenError::MissingParameter("code"))?;
        let redirect_uri = redirect_uri.ok_or(TokenError::MissingParameter("redirect_uri"))?;
        let verifier = verifier.filter(|s| !s.is_empty()).ok_or(TokenError::VerifierMissing)?;
        let now = self.clock.now_ms();
        let record = self.codes.get(code).ok_or(TokenError::InvalidCode)?;
        if record.used || now >= record.expires_ms || record.client_id != client_id {
            return Err(TokenError::InvalidCode);
        }
        if record.redirect_uri != redirect_uri {
            return Err(TokenError::RedirectMismatch);
        }
        if !record.method.verify(&record.challenge, verifier) {
            return Err(TokenError::VerifierMismatch);
        }
        let (user_id, scopes) = (record.user_id.clone(), record.scopes.clone());
        if let Some(record) = self.codes.get_mut(code) {
            record.used = true;
        }
        if self.settings.new_grant_invalidates_previous {
            self.revoke_grant(client_id, &user_id);
        }
        self.next_grant += 1;
        let grant = self.next_grant;
        self.grants.insert(
            grant,
            GrantRecord { client_id: client_id.to_owned(), user_id, scopes, created_ms: now, revoked: false },
        );
        Ok(self.issue_tokens(grant))
    }

    /// `grant_type=refresh_token`: rotation. The old refresh token dies in
    /// the same critical section that checks it, so of any number of
    /// concurrent refreshes with one token exactly one wins.
    pub fn refresh(&mut self, client_id: &str, refresh_token: Option<&str>) -> Result<Issued, TokenError> {
        let token = refresh_token.filter(|s| !s.is_empty()).ok_or(TokenError::MissingParameter("refresh_token"))?;
        let now = self.clock.now_ms();
        let grace_ms = self.settings.refresh_grace_seconds * 1000;
        let record = self.refresh.get(token).ok_or(TokenError::InvalidToken)?;
        let grant_id = record.grant;
        let grant = self.grants.get(&grant_id).ok_or(TokenError::InvalidToken)?;
        if grant.revoked || grant.client_id != client_id || record.revoked || now >= record.expires_ms {
            return Err(TokenError::InvalidToken);
        }
        if let Some(spent_ms) = record.spent_ms {
            if now >= spent_ms + grace_ms {
                if self.settings.replay_kills_family {
                    if let Some(grant) = self.grants.get_mut(&grant_id) {
                        grant.revoked = true;
                    }
                }
                return Err(TokenError::InvalidToken);
            }
        }
        if let Some(record) = self.refresh.get_mut(token) {
            record.spent_ms.get_or_insert(now);
        }
        let issued = self.issue_tokens(grant_id);
        if !self.settings.refresh_keeps_previous_access_token {
            for (access, record) in self.access.iter_mut() {
                if record.grant == grant_id && *access != issued.access_token {
                    record.revoked = true;
                }
            }
        }
        Ok(issued)
    }

    /// New access token (and refresh token, with `offline.access`) for a
    /// live grant.
    fn issue_tokens(&mut self, grant_id: u64) -> Issued {
        let now = self.clock.now_ms();
        let (scopes, created_ms) = match self.grants.get(&grant_id) {
            Some(g) => (g.scopes.clone(), g.created_ms),
            None => (Vec::new(), now),
        };
        let access_token = new_token(TokenKind::AccessToken, now);
        self.access.insert(
            access_token.clone(),
            AccessRecord {
                grant: grant_id,
                expires_ms: now + self.settings.access_token_ttl_secs * 1000,
                revoked: false,
            },
        );
        let refresh_token = scopes.iter().any(|s| s == "offline.access").then(|| {
            let start = if self.settings.refresh_token_sliding { now } else { created_ms };
            let token = new_token(TokenKind::RefreshToken, now);
            self.refresh.insert(
                token.clone(),
                RefreshRecord {
                    grant: grant_id,
                    expires_ms: start + self.settings.refresh_token_ttl_secs * 1000,
                    spent_ms: None,
                    revoked: false,
                },
            );
            token
        });
        Issued { access_token, refresh_token, scope: scopes.join(" "), expires_in: self.settings.access_token_ttl_secs }
    }

    /// `POST /2/oauth2/revoke`. Revoking a refresh token ends its whole grant
    /// (RFC 7009's advice); revoking an access token ends only that token.
    /// Unknown tokens, or another app's, are ignored, as RFC 7009 says.
    pub fn revoke_token(&mut self, client_id: &str, token: &str) {
        let grants = &mut self.grants;
        if let Some(record) = self.access.get_mut(token) {
            if grants.get(&record.grant).is_some_and(|g| g.client_id == client_id) {
                record.revoked = true;
            }
        } else if let Some(record) = self.refresh.get_mut(token) {
            if let Some(grant) = grants.get_mut(&record.grant).filter(|g| g.client_id == client_id) {
                record.revoked = true;
                grant.revoked = true;
            }
        }
    }

    // ---- v2 API ----------------------------------------------------------

    /// The app an access token was issued to, valid or not (for counters
    /// and faults).
    pub fn token_client(&self, access_token: &str) -> Option<String> {
        let record = self.access.get(access_token)?;
        self.grants.get(&record.grant).map(|g| g.client_id.clone())
    }

    /// Who a live access token belongs to; `None` means 401.
    pub fn caller(&self, access_token: &str) -> Option<Caller> {
        let record = self.access.get(access_token)?;
        let grant = self.grants.get(&record.grant)?;
        if record.revoked || grant.revoked || self.clock.now_ms() >= record.expires_ms {
            return None;
        }
        let app = &self.apps.get(&grant.client_id)?.app;
        Some(Caller {
            client_id: grant.client_id.clone(),
            user: self.user(&grant.user_id)?.clone(),
            scopes: grant.scopes.clone(),
            in_project: app.in_project,
        })
    }

    /// Records a post; its id is snowflake-shaped like X's.
    pub fn post_tweet(&mut self, caller: &Caller, text: String) -> PostedTweet {
        let now = self.clock.now_ms();
        let id = ((now.saturating_sub(SNOWFLAKE_EPOCH_MS)) << 22).max(self.last_tweet_id + 1);
        self.last_tweet_id = id;
        let tweet = PostedTweet {
            id: id.to_string(),
            text,
            author_id: caller.user.id.clone(),
            client_id: caller.client_id.clone(),
        };
        self.tweets.push(tweet.clone());
        tweet
    }

    pub fn tweets(&self) -> Vec<PostedTweet> {
        self.tweets.clone()
    }

    /// Whether `author_id` already posted exactly `text`.
    pub fn has_posted(&self, author_id: &str, text: &str) -> bool {
        self.tweets.iter().any(|t| t.author_id == author_id && t.text == text)
    }

    /// Every access token, refresh token and authorization code issued so
    /// far, live or dead, and the OAuth 1.0a secrets.
    pub fn issued_secrets(&self) -> Vec<String> {
        let oauth2 = self.access.keys().chain(self.refresh.keys()).chain(self.codes.keys()).cloned();
        oauth2.chain(self.oauth1_secrets()).collect()
    }
}
