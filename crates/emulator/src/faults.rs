//! Injected faults — X being down, slow, rate limiting, or losing answers —
//! and the call counters tests read to check what a client did.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use serde::{Deserialize, Serialize};

/// The endpoints of X the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET`/`POST /i/oauth2/authorize` (consent page and its form).
    Authorize,
    /// `POST /2/oauth2/token`.
    Token,
    /// `POST /2/oauth2/revoke`.
    Revoke,
    /// `GET /2/users/me`.
    UsersMe,
    /// `POST /2/tweets`.
    Tweets,
    /// `POST /oauth/request_token` (OAuth 1.0a).
    RequestToken,
    /// `GET`/`POST /oauth/authorize` and `/oauth/authenticate` (OAuth 1.0a
    /// consent page and its form).
    Oauth1Authorize,
    /// `POST /oauth/access_token` (OAuth 1.0a).
    AccessToken,
    /// `GET /1.1/account/verify_credentials.json` (OAuth 1.0a user context).
    VerifyCredentials,
    /// For faults only: every v2 endpoint (`users_me` and `tweets`), as an
    /// app-wide or X-wide condition hits them all. No call is counted here.
    V2,
}

impl Endpoint {
    /// Whether a fault aimed at `self` hits a call to `called`.
    fn hits(self, called: Endpoint) -> bool {
        self == called || (self == Endpoint::V2 && matches!(called, Endpoint::UsersMe | Endpoint::Tweets))
    }
}

/// The two grants of the token endpoint, to aim a fault at one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// `grant_type=authorization_code`.
    AuthorizationCode,
    /// `grant_type=refresh_token`.
    RefreshToken,
}

/// What goes wrong.
///
/// JSON (control API): `{"status":503}`, `"rate_limited"`,
/// `{"slow":{"millis":500}}`, `"drop_connection"`, `"rotate_and_drop"`,
/// `"success_as_text_plain"`, `"expires_in_as_string"`, `"truncated_success"`,
/// `"auth_outage"`, `"credits_depleted"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status (typically 5xx) and a plausible X body,
    /// without processing the request.
    Status(u16),
    /// Answer 429 with X's body and rate-limit headers showing nothing left.
    RateLimited,
    /// Wait this long, then answer normally.
    Slow {
        /// The delay in milliseconds.
        millis: u64,
    },
    /// Never give a complete answer: the client sees a transport error. The
    /// request is not processed.
    DropConnection,
    /// Process the request — for a refresh: rotate, the old refresh token
    /// dies and the new one is stored — then lose the answer as with
    /// [`FaultKind::DropConnection`]. Works on every endpoint (a post is
    /// published, a code is spent) but exists for the token endpoint.
    RotateAndDrop,
    /// Token endpoint: process the request and answer success with X's
    /// JSON, but under `Content-Type: text/plain` (as a gateway rewriting
    /// headers would). Error answers and other endpoints are unchanged.
    SuccessAsTextPlain,
    /// Token endpoint: process the request and answer success with
    /// `expires_in` as a JSON string (`"7200"`). Error answers and other
    /// endpoints are unchanged.
    ExpiresInAsString,
    /// Token endpoint: process the request — for a refresh: rotate — and
    /// answer 200 `application/json` with X's body cut before its closing
    /// brace: unreadable JSON that still holds the new tokens, whole. Error
    /// answers and other endpoints are unchanged.
    TruncatedSuccess,
    /// X's own auth outage (docs/x-behaviour.md, "Failures that are not
    /// the account's"): the ordinary v2 401 problem for every access token,
    /// valid ones and fresh ones included, while the token endpoint keeps
    /// working. Meant for `users_me`, `tweets` or `v2`.
    AuthOutage,
    /// The app's pay-per-use credits are used up: 402 with X's exact body
    /// (`{"title":"Payment Required","detail":"credits depleted","type":"https://api.x.com/2/problems/credits-depleted"}`).
    /// Meant for `v2` with the app's `client_id`: X refuses every v2 call
    /// of the app.
    CreditsDepleted,
}

/// How a processed success answer of the token endpoint is mangled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mangle {
    TextPlain,
    ExpiresInString,
    Truncated,
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which endpoint misbehaves.
    pub endpoint: Endpoint,
    /// How.
    pub kind: FaultKind,
    /// How many matching calls it hits; `None` until cleared.
    #[serde(default)]
    pub times: Option<u32>,
    /// Token endpoint only: hit only this grant type.
    #[serde(default)]
    pub grant: Option<GrantKind>,
    /// Hit only calls made by this app (identified by its credentials, the
    /// `client_id` parameter, the access token used, or the OAuth 1.0a
    /// consumer key).
    #[serde(default)]
    pub client_id: Option<String>,
}

impl Fault {
    /// A fault hitting every call to `endpoint` until cleared.
    pub fn new(endpoint: Endpoint, kind: FaultKind) -> Self {
        Self { endpoint, kind, times: None, grant: None, client_id: None }
    }

    /// Hits only the next `times` matching calls.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    /// Hits only token requests of this grant type.
    pub fn grant(mut self, grant: GrantKind) -> Self {
        self.grant = Some(grant);
        self
    }

    /// Hits only calls made by this app.
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    fn matches(&self, call: &Call<'_>) -> bool {
        self.endpoint.hits(call.endpoint)
            && self.times != Some(0)
            && self.grant.is_none_or(|g| call.grant == Some(g))
            && self.client_id.as_deref().is_none_or(|c| call.client_id == Some(c))
    }
}

/// One incoming call, as faults and counters see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub endpoint: Endpoint,
    pub grant: Option<GrantKind>,
    pub client_id: Option<&'a str>,
    /// For the authorize endpoints: the consent form was posted (vs the page
    /// being shown).
    pub consent: bool,
    /// Signed with OAuth 1.0a (vs a Bearer token), for the v2 endpoints.
    pub oauth1: bool,
}

/// The faults in force, in the order they were injected.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    active: Vec<Fault>,
}

impl Faults {
    pub fn inject(&mut self, fault: Fault) {
        self.active.push(fault);
    }

    pub fn clear(&mut self) {
        self.active.clear();
    }

    pub fn list(&self) -> Vec<Fault> {
        self.active.clone()
    }

    /// The first fault matching `call`, used up by one if counted.
    pub fn take(&mut self, call: &Call<'_>) -> Option<FaultKind> {
        let index = self.active.iter().position(|f| f.matches(call))?;
        let fault = &mut self.active[index];
        let kind = fault.kind.clone();
        if let Some(times) = &mut fault.times {
            *times -= 1;
            if *times == 0 {
                self.active.remove(index);
            }
        }
        Some(kind)
    }
}

/// Calls to each endpoint. Every call counts, whatever its answer (errors and
/// faults included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointCounts {
    /// Consent pages shown (`GET /i/oauth2/authorize`).
    pub authorize: u64,
    /// Consent forms posted (`POST /i/oauth2/authorize`).
    pub consent: u64,
    /// All calls to the token endpoint.
    pub token: u64,
    /// Token calls with `grant_type=authorization_code`.
    pub code_grants: u64,
    /// Token calls with `grant_type=refresh_token`.
    pub refresh_grants: u64,
    /// Calls to the revoke endpoint.
    pub revoke: u64,
    /// Calls to `GET /2/users/me`.
    pub users_me: u64,
    /// Calls to `POST /2/tweets`.
    pub tweets: u64,
    /// Of `users_me`, the calls signed with OAuth 1.0a.
    pub users_me_oauth1: u64,
    /// Of `tweets`, the calls signed with OAuth 1.0a.
    pub tweets_oauth1: u64,
    /// Calls to `POST /oauth/request_token`.
    pub request_token: u64,
    /// OAuth 1.0a consent pages shown (`GET /oauth/authorize` or
    /// `/oauth/authenticate`).
    pub oauth1_authorize: u64,
    /// OAuth 1.0a consent forms posted.
    pub oauth1_consent: u64,
    /// Calls to `POST /oauth/access_token`.
    pub access_token: u64,
    /// Calls to `GET /1.1/account/verify_credentials.json`.
    pub verify_credentials: u64,
}

impl EndpointCounts {
    fn record(&mut self, call: &Call<'_>) {
        match call.endpoint {
            Endpoint::Authorize if call.consent => self.consent += 1,
            Endpoint::Authorize => self.authorize += 1,
            Endpoint::Token => {
                self.token += 1;
                match call.grant {
                    Some(GrantKind::AuthorizationCode) => self.code_grants += 1,
                    Some(GrantKind::RefreshToken) => self.refresh_grants += 1,
                    None => {}
                }
            }
            Endpoint::Revoke => self.revoke += 1,
            Endpoint::UsersMe => {
                self.users_me += 1;
                self.users_me_oauth1 += u64::from(call.oauth1);
            }
            Endpoint::Tweets => {
                self.tweets += 1;
                self.tweets_oauth1 += u64::from(call.oauth1);
            }
            Endpoint::RequestToken => self.request_token += 1,
            Endpoint::Oauth1Authorize if call.consent => self.oauth1_consent += 1,
            Endpoint::Oauth1Authorize => self.oauth1_authorize += 1,
            Endpoint::AccessToken => self.access_token += 1,
            Endpoint::VerifyCredentials => self.verify_credentials += 1,
            Endpoint::V2 => {}
        }
    }
}

/// Calls per endpoint, in total and per app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    /// All calls.
    pub total: EndpointCounts,
    /// Calls whose app was identified (by credentials, `client_id`
    /// parameter, or access token), keyed by client id.
    pub by_client: BTreeMap<String, EndpointCounts>,
}

impl CallCounts {
    pub(crate) fn record(&mut self, call: &Call<'_>) {
        self.total.record(call);
        if let Some(client_id) = call.client_id {
            self.by_client.entry(client_id.to_owned()).or_default().record(call);
        }
    }

    /// The counts of one app (zero if it made no call).
    pub fn client(&self, client_id: &str) -> EndpointCounts {
        self.by_client.get(client_id).cloned().unwrap_or_default()
    }
}

/// A response whose body fails before its first byte: hyper aborts the
/// connection, so the client never gets a complete answer.
pub(crate) fn dropped_response() -> Response {
    Response::new(Body::new(FailingBody))
}

struct FailingBody;

impl HttpBody for FailingBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the X emulator dropped this connection on purpose (injected fault)",
        ))))
    }
}
