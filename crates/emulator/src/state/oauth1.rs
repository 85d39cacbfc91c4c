//! X's OAuth 1.0a user context in the emulated world: request tokens, the
//! user's consent, access tokens that never expire, and the checks every
//! signed request goes through, in X's order.
//!
//! Like the rest of the state, everything runs under the emulator's one
//! mutex, so a request token is exchanged once under any concurrency.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Caller, State};
use crate::model::{EmulatorError, Oauth1Token};
use crate::signature::SignedRequest;
use crate::tokens::random_alphanumeric;

/// What a 1.0a user token may do: X's "Read and write" app permission, as
/// the v2 endpoints' scopes.
const READ_WRITE: &[&str] = &["tweet.read", "tweet.write", "users.read"];

/// Why X refused a signed request, with its v1.1 code and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Oauth1Error {
    /// 32: a missing or garbled header, an unknown consumer key, a bad
    /// signature, or a replayed nonce.
    CouldNotAuthenticate,
    /// 135: `oauth_timestamp` too far from X's clock.
    TimestampOutOfBounds,
    /// 89: the token is unknown, revoked, spent, expired, or was issued
    /// under a consumer key since regenerated.
    InvalidToken,
}

impl Oauth1Error {
    pub fn code(self) -> u16 {
        match self {
            Self::CouldNotAuthenticate => 32,
            Self::TimestampOutOfBounds => 135,
            Self::InvalidToken => 89,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::CouldNotAuthenticate => "Could not authenticate you.",
            Self::TimestampOutOfBounds => "Timestamp out of bounds.",
            Self::InvalidToken => "Invalid or expired token.",
        }
    }
}

/// Why `POST /oauth/request_token` refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestTokenRefusal {
    Auth(Oauth1Error),
    /// 415: the callback is not one of the app's registered callbacks.
    CallbackNotApproved,
}

/// Which token a signed request must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenUse {
    /// `request_token`: the consumer key alone.
    Consumer,
    /// `access_token`: a request token.
    Request,
    /// Everything else: a user's access token.
    Access,
}

/// A nonce is unique per consumer key and token (RFC 5849 §3.3).
type NonceKey = (String, String, String);

/// Nonces of authentic requests, forgotten once their requests would be
/// refused for their timestamp anyway.
#[derive(Debug, Default)]
struct Nonces {
    seen: HashSet<NonceKey>,
    /// In the order they were seen, with when to forget them.
    queue: VecDeque<(u64, NonceKey)>,
}

impl Nonces {
    fn forget_before(&mut self, now_ms: u64) {
        while self.queue.front().is_some_and(|(until, _)| *until <= now_ms) {
            if let Some((_, key)) = self.queue.pop_front() {
                self.seen.remove(&key);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Consent {
    Pending,
    Authorized {
        user_id: String,
        verifier: String,
    },
    /// Cancelled, exchanged, or killed: the token is of no further use.
    Spent,
}

#[derive(Debug)]
struct RequestTokenRecord {
    secret: String,
    client_id: String,
    consumer_key: String,
    /// `oob` or an approved callback URL, query string included.
    callback: String,
    expires_ms: u64,
    consent: Consent,
    /// The verifier handed out, kept after the token is spent: a secret
    /// a client must never leak, whatever became of it.
    verifier: Option<String>,
}

#[derive(Debug)]
struct AccessTokenRecord {
    secret: String,
    client_id: String,
    /// The consumer key it was issued under: regenerating the key kills it.
    consumer_key: String,
    user_id: String,
    revoked: bool,
}

/// The 1.0a part of the world.
#[derive(Debug, Default)]
pub(crate) struct Oauth1World {
    request_tokens: HashMap<String, RequestTokenRecord>,
    access_tokens: HashMap<String, AccessTokenRecord>,
    nonces: Nonces,
}

/// A request whose signature, timestamp and nonce passed.
#[derive(Debug)]
pub(crate) struct Authentic {
    client_id: String,
    token: Option<String>,
    nonce: NonceKey,
}

/// A request token handed out.
#[derive(Debug)]
pub(crate) struct RequestTokenIssued {
    pub token: String,
    pub secret: String,
}

/// An access token handed out.
#[derive(Debug)]
pub(crate) struct AccessTokenIssued {
    pub token: String,
    pub secret: String,
    pub user_id: String,
    pub screen_name: String,
}

/// What the consent page shows for a request token.
#[derive(Debug)]
pub(crate) struct Oauth1Consent {
    pub app_name: String,
    pub token: String,
}

/// Where the consent form sends the browser.
#[derive(Debug)]
pub(crate) enum Oauth1Outcome {
    /// 303 to the callback, with `oauth_token` and `oauth_verifier` or with
    /// `denied`.
    Redirect { location: String, user_id: Option<String> },
    /// `oob`: X shows the verifier as a PIN to type into the app.
    Pin { verifier: String, user_id: String },
    /// `oob` and Cancel: nowhere to go.
    DeniedOob,
}

impl State {
    fn app_by_consumer_key(&self, consumer_key: &str) -> Option<&super::AppRecord> {
        self.apps.values().find(|r| r.app.consumer_key == consumer_key)
    }

    /// The app a signed request names by its consumer key, valid or not
    /// (for counters and faults).
    pub fn oauth1_client(&self, request: &SignedRequest) -> Option<String> {
        let key = request.header.get("oauth_consumer_key")?;
        self.app_by_consumer_key(key).map(|r| r.app.client_id.clone())
    }

    /// The app a request token was issued to, valid or not (for counters
    /// and faults).
    pub fn oauth1_request_token_client(&self, token: &str) -> Option<String> {
        self.oauth1.request_tokens.get(token).map(|r| r.client_id.clone())
    }

    /// The checks of every signed request, in X's order: the header and
    /// consumer key, the token's existence (its secret is part of the key),
    /// the signature, the timestamp, the nonce. Whether the token is still
    /// good is the caller's to check. Changes nothing: an authentic
    /// request's nonce is remembered by [`State::remember_nonce`].
    fn authenticate(&self, request: &SignedRequest, token_use: TokenUse) -> Result<Authentic, Oauth1Error> {
        use Oauth1Error::*;
        let header = &request.header;
        let field = |name| header.get(name).filter(|v| !v.is_empty());
        if header.get("oauth_signature_method") != Some("HMAC-SHA1")
            || header.get("oauth_version").is_some_and(|v| v != "1.0")
        {
            return Err(CouldNotAuthenticate);
        }
        let (Some(consumer_key), Some(nonce), Some(timestamp), Some(_)) =
            (field("oauth_consumer_key"), field("oauth_nonce"), field("oauth_timestamp"), field("oauth_signature"))
        else {
            return Err(CouldNotAuthenticate);
        };
        let app = &self.app_by_consumer_key(consumer_key).ok_or(CouldNotAuthenticate)?.app;
        let token = field("oauth_token");
        let token_secret = match token_use {
            TokenUse::Consumer => "",
            TokenUse::Request => {
                let token = token.ok_or(InvalidToken)?;
                &self.oauth1.request_tokens.get(token).ok_or(InvalidToken)?.secret
            }
            TokenUse::Access => {
                let token = token.ok_or(CouldNotAuthenticate)?;
                &self.oauth1.access_tokens.get(token).ok_or(InvalidToken)?.secret
            }
        };
        if !request.signature_matches(&app.consumer_secret, token_secret) {
            return Err(CouldNotAuthenticate);
        }
        let timestamp: u64 = timestamp.parse().map_err(|_| CouldNotAuthenticate)?;
        let now_secs = self.clock.now_ms() / 1000;
        if timestamp.abs_diff(now_secs) > self.settings.oauth1_timestamp_window_secs {
            return Err(TimestampOutOfBounds);
        }
        let token = if token_use == TokenUse::Consumer { None } else { token.map(str::to_owned) };
        let nonce = (consumer_key.to_owned(), token.clone().unwrap_or_default(), nonce.to_owned());
        if self.oauth1.nonces.seen.contains(&nonce) {
            return Err(CouldNotAuthenticate);
        }
        Ok(Authentic { client_id: app.client_id.clone(), token, nonce })
    }

    /// Remembers an authentic request's nonce for as long as its timestamp
    /// could still be accepted.
    fn remember_nonce(&mut self, nonce: NonceKey) {
        let now = self.clock.now_ms();
        let nonces = &mut self.oauth1.nonces;
        nonces.forget_before(now);
        if nonces.seen.insert(nonce.clone()) {
            let keep_ms = 2 * self.settings.oauth1_timestamp_window_secs * 1000 + 1000;
            nonces.queue.push_back((now + keep_ms, nonce));
        }
    }

    // ---- the 3-legged flow ---------------------------------------------

    /// `POST /oauth/request_token`: a request token bound to the callback
    /// (`oauth_callback` of the header: `oob` or one of the app's callbacks,
    /// compared on scheme, host, port and path; a query string is allowed).
    pub fn oauth1_request_token(&mut self, request: &SignedRequest) -> Result<RequestTokenIssued, RequestTokenRefusal> {
        let authentic = self.authenticate(request, TokenUse::Consumer).map_err(RequestTokenRefusal::Auth)?;
        // A missing callback is not an approved one (UNV).
        let callback = request.header.get("oauth_callback").unwrap_or_default().to_owned();
        let app = &self.apps.get(&authentic.client_id).ok_or(RequestTokenRefusal::Auth(Oauth1Error::InvalidToken))?.app;
        let approved = callback == "oob" || app.callbacks.iter().any(|registered| same_callback(registered, &callback));
        let consumer_key = app.consumer_key.clone();
        // Authentic either way: the nonce is spent.
        self.remember_nonce(authentic.nonce);
        if !approved {
            return Err(RequestTokenRefusal::CallbackNotApproved);
        }
        let issued = RequestTokenIssued { token: random_alphanumeric(27), secret: random_alphanumeric(32) };
        let expires_ms = self.clock.now_ms() + self.settings.oauth1_request_token_ttl_secs * 1000;
        self.oauth1.request_tokens.insert(
            issued.token.clone(),
            RequestTokenRecord {
                secret: issued.secret.clone(),
                client_id: authentic.client_id,
                consumer_key,
                callback,
                expires_ms,
                consent: Consent::Pending,
                verifier: None,
            },
        );
        Ok(issued)
    }

    /// A request token still waiting for the user's answer.
    fn pending_request_token(&self, token: &str) -> Result<(&RequestTokenRecord, &super::AppRecord), &'static str> {
        let record = self.oauth1.request_tokens.get(token).ok_or("unknown oauth_token")?;
        if record.consent != Consent::Pending {
            return Err("this oauth_token was already used");
        }
        if self.clock.now_ms() >= record.expires_ms {
            return Err("this oauth_token has expired");
        }
        let app = self.apps.get(&record.client_id).ok_or("the app of this oauth_token is gone")?;
        if app.app.consumer_key != record.consumer_key {
            return Err("this oauth_token was issued under a consumer key since regenerated");
        }
        Ok((record, app))
    }

    /// `GET /oauth/authorize` (or `authenticate`): what the consent page
    /// shows, or why X shows its error page instead.
    pub fn oauth1_consent_view(&self, token: Option<&str>) -> Result<Oauth1Consent, &'static str> {
        let token = token.filter(|t| !t.is_empty()).ok_or("oauth_token is missing")?;
        let (_, app) = self.pending_request_token(token)?;
        Ok(Oauth1Consent { app_name: app.app.name.clone(), token: token.to_owned() })
    }

    /// The consent form: Authorize (as `user_id`) or Cancel. Either way the
    /// request token can be shown no more.
    pub fn oauth1_consent(
        &mut self,
        token: Option<&str>,
        user_id: Option<&str>,
        authorize: bool,
    ) -> Result<Oauth1Outcome, &'static str> {
        let token = token.filter(|t| !t.is_empty()).ok_or("oauth_token is missing")?;
        let callback = self.pending_request_token(token)?.0.callback.clone();
        let user = if authorize {
            Some(user_id.and_then(|id| self.user(id)).ok_or("user_id does not name an emulated account")?.id.clone())
        } else {
            None
        };
        let verifier = random_alphanumeric(32);
        let record = self.oauth1.request_tokens.get_mut(token).ok_or("unknown oauth_token")?;
        record.consent = match &user {
            Some(user_id) => {
                record.verifier = Some(verifier.clone());
                Consent::Authorized { user_id: user_id.clone(), verifier: verifier.clone() }
            }
            None => Consent::Spent,
        };
        Ok(match (user, callback.as_str()) {
            (Some(user_id), "oob") => Oauth1Outcome::Pin { verifier, user_id },
            (None, "oob") => Oauth1Outcome::DeniedOob,
            (Some(user_id), _) => Oauth1Outcome::Redirect {
                location: append_query(&callback, &[("oauth_token", token), ("oauth_verifier", &verifier)]),
                user_id: Some(user_id),
            },
            (None, _) => {
                Oauth1Outcome::Redirect { location: append_query(&callback, &[("denied", token)]), user_id: None }
            }
        })
    }

    /// `POST /oauth/access_token`: the authorized request token and its
    /// verifier become the user's access token. A wrong verifier leaves the
    /// request token usable (UNV, as for OAuth 2.0 codes); a success spends it.
    pub fn oauth1_access_token(
        &mut self,
        request: &SignedRequest,
        verifier: Option<&str>,
    ) -> Result<AccessTokenIssued, Oauth1Error> {
        let authentic = self.authenticate(request, TokenUse::Request)?;
        self.remember_nonce(authentic.nonce);
        let token = authentic.token.ok_or(Oauth1Error::InvalidToken)?;
        let now = self.clock.now_ms();
        let record = self.oauth1.request_tokens.get(&token).ok_or(Oauth1Error::InvalidToken)?;
        let app = &self.apps.get(&authentic.client_id).ok_or(Oauth1Error::InvalidToken)?.app;
        let user_id = match &record.consent {
            Consent::Authorized { user_id, verifier: expected }
                if record.client_id == app.client_id
                    && record.consumer_key == app.consumer_key
                    && now < record.expires_ms
                    && verifier == Some(expected.as_str()) =>
            {
                user_id.clone()
            }
            _ => return Err(Oauth1Error::InvalidToken),
        };
        let screen_name = self.user(&user_id).ok_or(Oauth1Error::InvalidToken)?.username.clone();
        let (client_id, consumer_key) = (app.client_id.clone(), app.consumer_key.clone());
        if let Some(record) = self.oauth1.request_tokens.get_mut(&token) {
            record.consent = Consent::Spent;
        }
        let live = |r: &AccessTokenRecord| {
            r.client_id == client_id && r.user_id == user_id && r.consumer_key == consumer_key && !r.revoked
        };
        if self.settings.oauth1_reissue_same_token {
            if let Some((token, record)) = self.oauth1.access_tokens.iter().find(|(_, r)| live(r)) {
                return Ok(AccessTokenIssued {
                    token: token.clone(),
                    secret: record.secret.clone(),
                    user_id,
                    screen_name,
                });
            }
        } else {
            // One 1.0a token per app and user: a fresh one replaces it.
            for record in self.oauth1.access_tokens.values_mut().filter(|r| live(r)) {
                record.revoked = true;
            }
        }
        let issued = AccessTokenIssued {
            token: format!("{user_id}-{}", random_alphanumeric(40)),
            secret: random_alphanumeric(45),
            user_id: user_id.clone(),
            screen_name,
        };
        self.oauth1.access_tokens.insert(
            issued.token.clone(),
            AccessTokenRecord { secret: issued.secret.clone(), client_id, consumer_key, user_id, revoked: false },
        );
        Ok(issued)
    }

    // ---- user context --------------------------------------------------

    /// Who a request signed with a user's access token comes from, if every
    /// check passes. Changes nothing (see [`State::oauth1_admit`]).
    pub fn oauth1_caller(&self, request: &SignedRequest) -> Result<Caller, Oauth1Error> {
        self.oauth1_check(request).map(|(caller, _)| caller)
    }

    /// [`State::oauth1_caller`], remembering the request's nonce when it
    /// passes: the one call per request that X answers.
    pub fn oauth1_admit(&mut self, request: &SignedRequest) -> Result<Caller, Oauth1Error> {
        let (caller, nonce) = self.oauth1_check(request)?;
        self.remember_nonce(nonce);
        Ok(caller)
    }

    fn oauth1_check(&self, request: &SignedRequest) -> Result<(Caller, NonceKey), Oauth1Error> {
        let authentic = self.authenticate(request, TokenUse::Access)?;
        let token = authentic.token.as_deref().ok_or(Oauth1Error::InvalidToken)?;
        let record = self.oauth1.access_tokens.get(token).ok_or(Oauth1Error::InvalidToken)?;
        let app = &self.apps.get(&authentic.client_id).ok_or(Oauth1Error::InvalidToken)?.app;
        if record.revoked || record.client_id != app.client_id || record.consumer_key != app.consumer_key {
            return Err(Oauth1Error::InvalidToken);
        }
        let user = self.user(&record.user_id).ok_or(Oauth1Error::InvalidToken)?.clone();
        let caller = Caller {
            client_id: app.client_id.clone(),
            user,
            scopes: READ_WRITE.iter().map(|s| (*s).to_owned()).collect(),
            in_project: app.in_project,
        };
        Ok((caller, authentic.nonce))
    }

    // ---- death of tokens -------------------------------------------------

    /// The user disconnected the app: their 1.0a tokens die, and request
    /// tokens they authorized but the app did not exchange yet.
    pub(super) fn revoke_oauth1(&mut self, client_id: &str, user_id: &str) {
        for record in self.oauth1.access_tokens.values_mut() {
            if record.client_id == client_id && record.user_id == user_id {
                record.revoked = true;
            }
        }
        for record in self.oauth1.request_tokens.values_mut() {
            let theirs = matches!(&record.consent, Consent::Authorized { user_id: u, .. } if u == user_id);
            if record.client_id == client_id && theirs {
                record.consent = Consent::Spent;
            }
        }
    }

    /// "Regenerate" of the API key and secret in X's portal, or setting
    /// them: the old key stops authenticating and every 1.0a token issued
    /// under it dies (also if the old key is set again later).
    pub fn set_consumer_key(
        &mut self,
        client_id: &str,
        consumer_key: Option<String>,
        consumer_secret: Option<String>,
    ) -> Result<(String, String), EmulatorError> {
        if !self.apps.contains_key(client_id) {
            return Err(EmulatorError::UnknownApp(client_id.to_owned()));
        }
        let key = consumer_key.unwrap_or_else(new_consumer_key);
        if self.apps.values().any(|r| r.app.consumer_key == key && r.app.client_id != client_id) {
            return Err(EmulatorError::DuplicateConsumerKey(key));
        }
        let secret = consumer_secret.unwrap_or_else(new_consumer_secret);
        for record in self.oauth1.access_tokens.values_mut().filter(|r| r.client_id == client_id) {
            record.revoked = true;
        }
        for record in self.oauth1.request_tokens.values_mut().filter(|r| r.client_id == client_id) {
            record.consent = Consent::Spent;
        }
        let record = self.apps.get_mut(client_id).ok_or_else(|| EmulatorError::UnknownApp(client_id.to_owned()))?;
        record.app.consumer_key = key.clone();
        record.app.consumer_secret = secret.clone();
        Ok((key, secret))
    }

    /// The app's 1.0a access tokens (without their secrets).
    pub fn oauth1_tokens(&self, client_id: &str) -> Vec<Oauth1Token> {
        let current = self.apps.get(client_id).map(|r| r.app.consumer_key.as_str());
        let mut tokens: Vec<Oauth1Token> = self
            .oauth1
            .access_tokens
            .iter()
            .filter(|(_, r)| r.client_id == client_id)
            .map(|(token, r)| Oauth1Token {
                token: token.clone(),
                user_id: r.user_id.clone(),
                live: !r.revoked && current == Some(r.consumer_key.as_str()),
            })
            .collect();
        tokens.sort_by(|a, b| a.token.cmp(&b.token));
        tokens
    }

    /// Every 1.0a secret handed out: access tokens and their secrets,
    /// request token secrets and verifiers (request tokens themselves are
    /// public: they travel in the browser's address bar before any consent).
    pub(super) fn oauth1_secrets(&self) -> Vec<String> {
        let access = self.oauth1.access_tokens.iter().flat_map(|(token, r)| [token.clone(), r.secret.clone()]);
        let request = self
            .oauth1
            .request_tokens
            .values()
            .flat_map(|r| std::iter::once(r.secret.clone()).chain(r.verifier.clone()));
        access.chain(request).collect()
    }
}

/// X's API keys are 25 characters; their secrets 50.
pub(super) fn new_consumer_key() -> String {
    random_alphanumeric(25)
}

pub(super) fn new_consumer_secret() -> String {
    random_alphanumeric(50)
}

/// Whether `callback` is `registered` up to a query string: same scheme,
/// host, port and path, no fragment.
fn same_callback(registered: &str, callback: &str) -> bool {
    let (Ok(registered), Ok(callback)) = (url::Url::parse(registered), url::Url::parse(callback)) else {
        return false;
    };
    callback.fragment().is_none()
        && registered.scheme() == callback.scheme()
        && registered.host_str() == callback.host_str()
        && registered.port_or_known_default() == callback.port_or_known_default()
        && registered.path() == callback.path()
}

/// `url` with `pairs` appended to its query (the callback may have one).
fn append_query(url: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.query_pairs_mut().extend_pairs(pairs);
            parsed.to_string()
        }
        Err(_) => url.to_owned(),
    }
}
