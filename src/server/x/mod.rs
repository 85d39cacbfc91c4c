//! authwatch's client for X: OAuth 2.0 (through the `oauth2` crate) and the
//! v2 endpoints it needs. Redirects are off (a token request must never be
//! followed somewhere else) and every call has a timeout. Every answer's
//! `date` header is read, so the server can measure its clock against X's.
//! What is kept of X's answers is decided in [`answer`]: never a success
//! body, never anything token-shaped.

pub mod answer;
pub mod oauth1;

use crate::domain::classify::{classify_answer, XAnswer, XCall};
use crate::domain::health::Cause;
use crate::domain::scopes::Scopes;
use crate::server::config::{ClientType, XAppConfig};
use crate::server::secret::Secret;
use oauth2::basic::BasicClient;
use oauth2::{
    AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type OAuthClient = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A failed call to X, with what a person needs to know — never a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum XError {
    /// X answered with an error (never a 2xx).
    #[error("X answered {status}: {body}")]
    Rejected {
        call: &'static str,
        status: u16,
        /// X's `error` code (token endpoint) or problem `type`/`reason` (v2),
        /// token-shaped words redacted.
        code: Option<String>,
        /// What is kept of X's body ([`answer::kept`]): its error fields,
        /// or a short excerpt, with every token-shaped word redacted.
        body: String,
        cause: Cause,
        /// When X says to try again (`x-rate-limit-reset`, ms since the epoch).
        retry_at: Option<i64>,
        /// X's clock minus ours, from this answer's `date` header.
        clock_offset_ms: Option<i64>,
    },
    /// No (complete) answer: timeout, connection refused or dropped.
    #[error("X could not be reached: {message}")]
    Unreachable {
        message: String,
        /// The request may have reached X and been carried out (a timeout
        /// or a cut-off answer, as opposed to a refused connection).
        maybe_processed: bool,
    },
    /// X answered success with something authwatch cannot use. Nothing of
    /// X's answer is in it, and X may well have carried the request out (a
    /// refresh rotated, a code spent).
    #[error("X's answer could not be understood: {0}")]
    Malformed(String),
}

impl XError {
    /// The classified cause (docs/x-behaviour.md, "Causes and who acts").
    pub fn cause(&self) -> Cause {
        match self {
            XError::Rejected { cause, .. } => *cause,
            XError::Unreachable { .. } | XError::Malformed(_) => Cause::XUnavailable,
        }
    }

    /// X's clock minus ours, when X answered at all.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        match self {
            XError::Rejected { clock_offset_ms, .. } => *clock_offset_ms,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            XError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether X may have carried the request out although no usable answer
    /// came back: a timeout or cut-off answer, or a success authwatch could
    /// not read. For a refresh, the refresh token may have rotated.
    pub fn maybe_processed(&self) -> bool {
        match self {
            XError::Unreachable { maybe_processed, .. } => *maybe_processed,
            XError::Malformed(_) => true,
            XError::Rejected { .. } => false,
        }
    }

    /// What is kept of X's answer for the event log ([`answer::kept`]), or
    /// what happened instead. Never a token.
    pub fn body(&self) -> String {
        match self {
            XError::Rejected { body, .. } => body.clone(),
            other => other.to_string(),
        }
    }
}

/// Tokens X granted.
#[derive(Debug)]
pub struct Granted {
    pub access: Secret,
    /// Present only when `offline.access` was granted.
    pub refresh: Option<Secret>,
    /// What X granted, which can be less than what was asked for.
    pub scopes: Scopes,
    pub expires_in: Duration,
    /// When X answered, by our clock (ms since the epoch).
    pub received_at: i64,
    /// X's clock minus ours, from the answer's `date` header.
    pub clock_offset_ms: Option<i64>,
}

/// An X user, as `GET /2/users/me` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct XUser {
    pub id: String,
    pub username: String,
    pub name: String,
}

/// What `GET /2/users/me` told, including the clock.
#[derive(Debug, Clone)]
pub struct Me {
    pub user: XUser,
    pub clock_offset_ms: Option<i64>,
}

/// A post X accepted.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The new post's id (`None` only if X's 2xx body could not be read).
    pub id: Option<String>,
    pub clock_offset_ms: Option<i64>,
}

/// A started authorization: the URL to send the person to, and what the
/// callback needs to finish it. The verifier never leaves the server.
pub struct Authorization {
    pub url: Url,
    pub state: Secret,
    pub verifier: Secret,
}

/// The client for one configured X app.
#[derive(Clone)]
pub struct XClient {
    app: XAppConfig,
    http: reqwest::Client,
}

/// The status, `date` and body of the last answer, kept while `oauth2`
/// parses it (it does not return them).
#[derive(Default)]
struct Seen {
    status: Option<u16>,
    date: Option<SystemTime>,
    /// X's body as received. Use it to read the answer; keep only
    /// [`answer::kept`] of it.
    body: String,
    /// `x-rate-limit-reset`, Unix seconds.
    rate_limit_reset: Option<i64>,
    /// The `content-type` header, for the log when it is not JSON.
    content_type: Option<String>,
}

impl XClient {
    /// A client whose calls give up after `timeout`.
    pub fn new(app: XAppConfig, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .user_agent(concat!("authwatch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { app, http })
    }

    pub fn app(&self) -> &XAppConfig {
        &self.app
    }

    fn oauth(&self) -> OAuthClient {
        let e = &self.app.endpoints;
        let mut client = BasicClient::new(ClientId::new(self.app.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(e.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(e.token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(self.app.callback_url.clone()));
        match (self.app.client_type, &self.app.client_secret) {
            (ClientType::Confidential, Some(secret)) => {
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
            }
            // Public clients send their client id in the body and no secret.
            _ => client = client.set_auth_type(AuthType::RequestBody),
        }
        client
    }

    /// Starts an authorization asking for `scopes`: a fresh state and PKCE
    /// (S256) verifier every time.
    pub fn authorize(&self, scopes: &Scopes) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .oauth()
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.iter().map(|s| Scope::new(s.to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url,
            state: Secret::new(state.secret().clone()),
            verifier: Secret::new(verifier.secret().clone()),
        }
    }

    /// Exchanges an authorization code (from the callback) for tokens.
    pub async fn exchange_code(&self, code: &str, verifier: &Secret) -> Result<Granted, XError> {
        let seen = Mutex::new(Seen::default());
        let http = Capturing { http: &self.http, seen: &seen };
        let result = self
            .oauth()
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()))
            .request_async(&http)
            .await;
        self.granted(result, seen, XCall::CodeExchange, "token (authorization_code)")
    }

    /// Trades a refresh token for a new token set. X rotates: on success the
    /// refresh token passed in is dead and the returned one must be saved.
    pub async fn refresh(&self, refresh: &Secret) -> Result<Granted, XError> {
        let seen = Mutex::new(Seen::default());
        let http = Capturing { http: &self.http, seen: &seen };
        let result = self
            .oauth()
            .exchange_refresh_token(&RefreshToken::new(refresh.expose().to_owned()))
            .request_async(&http)
            .await;
        self.granted(result, seen, XCall::Refresh, "token (refresh_token)")
    }

    /// Revokes an access token at X (used when a reconnect came back as the
    /// wrong account). Sent directly rather than through `oauth2`, which
    /// refuses plain-http revocation URLs — and the emulator is plain http.
    pub async fn revoke(&self, token: &Secret) -> Result<(), XError> {
        let mut form = vec![("token", token.expose()), ("token_type_hint", "access_token")];
        let mut request = self.http.post(self.app.endpoints.revoke_url.clone());
        match (self.app.client_type, &self.app.client_secret) {
            (ClientType::Confidential, Some(secret)) => {
                request = request.basic_auth(&self.app.client_id, Some(secret.expose()));
            }
            _ => form.push(("client_id", &self.app.client_id)),
        }
        let response = request.form(&form).send().await.map_err(|e| unreachable_error(&e))?;
        let status = response.status().as_u16();
        let date = date_of(response.headers());
        let body = response.text().await.map_err(|e| unreachable_error(&e))?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(rejected("revoke", XCall::Revoke, &Seen { status: Some(status), date, body, ..Seen::default() }))
        }
    }

    /// `GET /2/users/me`: whose token this is.
    pub async fn users_me(&self, access: &Secret) -> Result<Me, XError> {
        let url = crate::server::config::join(&self.app.endpoints.api_base, "2/users/me");
        let seen = v2(self.http.get(url).bearer_auth(access.expose()), "users/me", "users_me", XCall::UsersMe).await?;
        #[derive(Deserialize)]
        struct Data {
            data: XUser,
        }
        // serde's message may quote the body: only its redacted form is kept.
        let data: Data = serde_json::from_str(&seen.body)
            .map_err(|e| XError::Malformed(format!("users/me: {}", answer::redact(&e.to_string()))))?;
        Ok(Me { user: data.data, clock_offset_ms: offset(seen.date) })
    }

    /// `POST /2/tweets`: publishes `text` as the token's user. X answers 201
    /// with the new post; a refusal keeps X's status and body.
    pub async fn post_tweet(&self, access: &Secret, text: &str) -> Result<Posted, XError> {
        let url = crate::server::config::join(&self.app.endpoints.api_base, "2/tweets");
        let request = self.http.post(url).bearer_auth(access.expose()).json(&serde_json::json!({ "text": text }));
        let seen = v2(request, "tweets", "tweets", XCall::Post).await?;
        Ok(posted(&seen))
    }

    fn granted(
        &self,
        result: Result<
            oauth2::basic::BasicTokenResponse,
            RequestTokenError<oauth2::HttpClientError<reqwest::Error>, oauth2::basic::BasicErrorResponse>,
        >,
        seen: Mutex<Seen>,
        call: XCall,
        name: &'static str,
    ) -> Result<Granted, XError> {
        let seen = into_seen(seen);
        match result {
            Ok(tokens) => {
                let scopes = tokens.scopes().map(|s| s.iter().map(|x| x.to_string()).collect());
                Ok(Granted::new(
                    Secret::new(tokens.access_token().secret().clone()),
                    tokens.refresh_token().map(|r| Secret::new(r.secret().clone())),
                    scopes,
                    tokens.expires_in(),
                    &seen,
                ))
            }
            Err(RequestTokenError::Request(e)) => {
                // A refused connection never reached X; anything later may have.
                let maybe_processed = match &e {
                    oauth2::HttpClientError::Reqwest(r) => !r.is_connect(),
                    _ => true,
                };
                Err(XError::Unreachable { message: error_chain(&e), maybe_processed })
            }
            Err(_) => match seen.status {
                // `oauth2` refused a success: X's JSON under another content
                // type, a field of an unexpected type. It holds the new tokens
                // (a refresh has rotated): read it, never keep it.
                Some(status) if (200..300).contains(&status) => lenient(&seen, status, name),
                Some(_) => Err(rejected(name, call, &seen)),
                None => Err(XError::Malformed(format!("{name}: no answer was recorded"))),
            },
        }
    }
}

impl Granted {
    fn new(
        access: Secret,
        refresh: Option<Secret>,
        scopes: Option<Vec<String>>,
        expires_in: Option<Duration>,
        seen: &Seen,
    ) -> Self {
        Granted {
            access,
            refresh,
            scopes: scopes.map(|s| Scopes::from_names(s.iter().map(String::as_str))).unwrap_or_default(),
            // X always sends expires_in; if it ever did not, assume its documented 2 hours.
            expires_in: expires_in.unwrap_or(Duration::from_secs(7200)),
            received_at: now_ms(),
            clock_offset_ms: offset(seen.date),
        }
    }
}

/// A token endpoint's success answer that `oauth2` could not parse, read
/// by [`answer::read_tokens`]. Without a usable access token it is an
/// answer lost after X may have processed the request, never a refusal.
fn lenient(seen: &Seen, status: u16, name: &'static str) -> Result<Granted, XError> {
    let content_type = seen.content_type.as_deref().map(answer::redact);
    match answer::read_tokens(&seen.body) {
        Some(tokens) => {
            tracing::warn!(
                call = name,
                status,
                content_type,
                "X's token answer broke OAuth 2.0's rules (content type or field types); read it leniently"
            );
            Ok(Granted::new(tokens.access, tokens.refresh, tokens.scopes, tokens.expires_in, seen))
        }
        None => {
            tracing::warn!(
                call = name,
                status,
                content_type,
                "X answered success without tokens authwatch can read; nothing of the answer is kept"
            );
            Err(XError::Malformed(format!(
                "X answered HTTP {status} to the {name} request, but not with tokens authwatch can read (nothing of that answer was kept). X may have carried the request out."
            )))
        }
    }
}

/// An HTTP client for `oauth2` that remembers the answer's status, `date`
/// and body, which `oauth2` does not hand back.
struct Capturing<'a> {
    http: &'a reqwest::Client,
    seen: &'a Mutex<Seen>,
}

impl<'c> AsyncHttpClient<'c> for Capturing<'_> {
    type Error = oauth2::HttpClientError<reqwest::Error>;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.call(request).await?;
            if let Ok(mut s) = self.seen.lock() {
                s.status = Some(response.status().as_u16());
                s.date = date_of(response.headers());
                s.body = String::from_utf8_lossy(response.body()).into_owned();
                s.rate_limit_reset = rate_limit_reset(response.headers());
                s.content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
            }
            Ok(response)
        })
    }
}

/// What X's 2xx answer to `POST /2/tweets` says. The post went through: a
/// body that cannot be read must not look like a failure worth sending again.
fn posted(seen: &Seen) -> Posted {
    #[derive(Deserialize)]
    struct Data {
        data: PostedData,
    }
    #[derive(Deserialize)]
    struct PostedData {
        id: String,
    }
    let id = serde_json::from_str::<Data>(&seen.body).map(|d| d.data.id).ok();
    Posted { id, clock_offset_ms: offset(seen.date) }
}

fn into_seen(seen: Mutex<Seen>) -> Seen {
    seen.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends one v2 API request and keeps what X answered: status, `Date`, body
/// and rate-limit reset; records the remaining rate limit for `/metrics`
/// under `endpoint`. A non-2xx answer is returned as the classified refusal.
async fn v2(
    request: reqwest::RequestBuilder,
    call_name: &'static str,
    endpoint: &'static str,
    call: XCall,
) -> Result<Seen, XError> {
    let response = request.send().await.map_err(|e| unreachable_error(&e))?;
    let status = response.status().as_u16();
    let date = date_of(response.headers());
    let reset = rate_limit_reset(response.headers());
    let remaining = response.headers().get("x-rate-limit-remaining").and_then(|v| v.to_str().ok()?.parse::<f64>().ok());
    if let Some(remaining) = remaining {
        metrics::gauge!("authwatch_x_rate_limit_remaining", "endpoint" => endpoint).set(remaining);
    }
    let body = response.text().await.map_err(|e| unreachable_error(&e))?;
    let seen = Seen { status: Some(status), date, body, rate_limit_reset: reset, content_type: None };
    if !(200..300).contains(&status) {
        return Err(rejected(call_name, call, &seen));
    }
    Ok(seen)
}

fn rejected(call_name: &'static str, call: XCall, seen: &Seen) -> XError {
    #[derive(Deserialize, Default)]
    struct Fields {
        error: Option<String>,
        #[serde(rename = "type")]
        problem_type: Option<String>,
        reason: Option<String>,
        detail: Option<String>,
    }
    let fields: Fields = serde_json::from_str(&seen.body).unwrap_or_default();
    let problem = fields.reason.clone().or(fields.problem_type.clone());
    let x_answer = XAnswer { status: seen.status, error: fields.error.as_deref(), problem: problem.as_deref() };
    let cause = classify_answer(call, x_answer, fields.detail.as_deref()).unwrap_or(Cause::XUnavailable);
    let status = seen.status.unwrap_or(0);
    XError::Rejected {
        call: call_name,
        status,
        code: fields.error.or(problem).map(|c| answer::redact(&c)),
        body: answer::kept(status, &seen.body),
        cause,
        // X's reset is on X's clock: move it onto ours.
        retry_at: seen.rate_limit_reset.map(|s| s * 1000 - offset(seen.date).unwrap_or(0)),
        clock_offset_ms: offset(seen.date),
    }
}

fn rate_limit_reset(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    headers.get("x-rate-limit-reset")?.to_str().ok()?.parse().ok()
}

fn date_of(headers: &reqwest::header::HeaderMap) -> Option<SystemTime> {
    headers.get(reqwest::header::DATE)?.to_str().ok().and_then(|d| httpdate::parse_http_date(d).ok())
}

/// X's clock minus ours. The `date` header has 1 s resolution, so offsets
/// under a second are noise; callers compare against a threshold of seconds.
fn offset(date: Option<SystemTime>) -> Option<i64> {
    let theirs = date?.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64;
    Some(theirs - now_ms())
}

/// Milliseconds since the epoch, by this server's clock.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn unreachable_error(e: &reqwest::Error) -> XError {
    XError::Unreachable { message: transport_message(e), maybe_processed: !e.is_connect() }
}

/// A transport error's message. authwatch never puts a token in a URL, so
/// the URL reqwest includes is safe to show.
fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "request failed"
    };
    format!("{kind} ({})", error_chain(e))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
