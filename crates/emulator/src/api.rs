//! X's v2 endpoints used by authwatch: `GET /2/users/me` and `POST /2/tweets`,
//! with an OAuth 2.0 Bearer token or an OAuth 1.0a signature (user context).
//!
//! Every answer carries X's headers (`date`, `x-rate-limit-*`,
//! `x-transaction-id`, `x-response-time`); errors are `application/problem+json`
//! with X's exact bodies. Rate limits are counted per user and app (X's
//! "per user" limits are per user of an app) in fixed windows, and only
//! for calls with a live token.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::faults::{dropped_response, Call, Endpoint, FaultKind};
use super::http::{plan_fault, raw_json_response, FaultPlan, Problem, RateHeaders, Stamp, JSON, PROBLEM_JSON};
use super::oauth1::{has_oauth_header, signed_request};
use super::signature::SignedRequest;
use super::state::{Bucket, Caller, RateView, State as World};
use super::Emulator;

/// What `users/me` needs (DOC, OBS: `users.read` alone gives 403).
const USERS_ME_SCOPES: &[&str] = &["tweet.read", "users.read"];
/// What posting needs (DOC).
const TWEETS_SCOPES: &[&str] = &["tweet.read", "tweet.write", "users.read"];
/// X's limit on a post's length.
const MAX_TWEET_CHARS: usize = 280;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// How a v2 call authenticates: an OAuth 2.0 Bearer token, or an OAuth
/// 1.0a signature with a user's access token (`None`: a garbled header).
enum Auth {
    Bearer(Option<String>),
    Oauth1(Option<SignedRequest>),
}

impl Auth {
    fn of(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        if has_oauth_header(headers) {
            Self::Oauth1(signed_request(method, uri, headers, body))
        } else {
            Self::Bearer(bearer(headers))
        }
    }

    fn is_oauth1(&self) -> bool {
        matches!(self, Self::Oauth1(_))
    }

    /// The app the credentials name, valid or not (for counters and faults).
    fn client_id(&self, world: &World) -> Option<String> {
        match self {
            Self::Bearer(token) => token.as_deref().and_then(|t| world.token_client(t)),
            Self::Oauth1(signed) => signed.as_ref().and_then(|s| world.oauth1_client(s)),
        }
    }

    /// Who calls, if the credentials are good; changes nothing.
    fn caller(&self, world: &World) -> Option<Caller> {
        match self {
            Self::Bearer(token) => token.as_deref().and_then(|t| world.caller(t)),
            Self::Oauth1(signed) => signed.as_ref().and_then(|s| world.oauth1_caller(s).ok()),
        }
    }

    /// [`Auth::caller`] for the call X answers: a 1.0a nonce is spent.
    /// Every refusal of a 1.0a request is the generic 401 here (OBS).
    fn admit(&self, world: &mut World) -> Option<Caller> {
        match self {
            Self::Bearer(_) => self.caller(world),
            Self::Oauth1(signed) => signed.as_ref().and_then(|s| world.oauth1_admit(s).ok()),
        }
    }
}

/// An answer of a v2 endpoint, before headers.
struct Answer {
    status: u16,
    content_type: &'static str,
    /// Serialized at once: X's field order matters to byte-exact tests.
    body: Vec<u8>,
    rate: RateHeaders,
}

impl Answer {
    fn problem(status: u16, rate: RateHeaders) -> Self {
        Self { status, content_type: PROBLEM_JSON, body: to_json(&Problem::status(status)), rate }
    }
}

fn to_json(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())
}

/// X's 403 for an app that is not attached to a Project.
#[derive(Serialize)]
struct ClientForbidden<'a> {
    client_id: &'a str,
    title: &'static str,
    reason: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    detail: &'static str,
    required_enrollment: &'static str,
    registration_url: &'static str,
}

fn client_forbidden(client_id: &str) -> Vec<u8> {
    to_json(&ClientForbidden {
        client_id,
        title: "Client Forbidden",
        reason: "client-not-enrolled",
        kind: "https://api.x.com/2/problems/client-forbidden",
        detail: "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a \
                 Twitter developer App that is attached to a Project. You can create a project via the developer \
                 portal.",
        required_enrollment: "Appropriate Level of API Access",
        registration_url: "https://developer.twitter.com/en/docs/projects/overview",
    })
}

/// X's 400 for bad parameters.
#[derive(Serialize)]
struct InvalidRequest {
    title: &'static str,
    detail: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    errors: Vec<ErrorEntry>,
}

#[derive(Serialize)]
struct ErrorEntry {
    message: String,
}

fn invalid_request(message: impl Into<String>, rate: RateHeaders) -> Answer {
    let body = InvalidRequest {
        title: "Invalid Request",
        detail: "One or more parameters to your request was invalid.",
        kind: "https://api.x.com/2/problems/invalid-request",
        errors: vec![ErrorEntry { message: message.into() }],
    };
    Answer { status: 400, content_type: PROBLEM_JSON, body: to_json(&body), rate }
}

/// The buckets an endpoint reports in its headers: (header prefix, bucket,
/// key, limit, window).
type BucketSpec = (&'static str, Bucket, String, u32, u64);

fn buckets(world: &World, endpoint: Endpoint, caller: Option<&Caller>) -> Vec<BucketSpec> {
    let s = &world.settings;
    let window = s.rate_window_secs * 1000;
    let user_key = caller.map(|c| format!("{}:{}", c.client_id, c.user.id)).unwrap_or_default();
    match endpoint {
        Endpoint::Tweets => vec![
            ("x-rate-limit", Bucket::TweetsUser, user_key.clone(), s.tweets_limit_per_user, window),
            ("x-user-limit-24hour", Bucket::TweetsUser24h, user_key, s.tweets_limit_per_user_24h, DAY_MS),
            (
                "x-app-limit-24hour",
                Bucket::TweetsApp24h,
                caller.map(|c| c.client_id.clone()).unwrap_or_default(),
                s.tweets_limit_per_app_24h,
                DAY_MS,
            ),
        ],
        _ => vec![("x-rate-limit", Bucket::UsersMe, user_key, s.users_me_limit, window)],
    }
}

/// Headers for an answer that used no call: a caller-less answer shows a
/// fresh window.
fn peek(world: &World, specs: &[BucketSpec], exhausted: bool) -> RateHeaders {
    let now = world.clock.now_ms();
    specs.iter().fold(RateHeaders::default(), |headers, (prefix, bucket, key, limit, window)| {
        let mut view = if key.is_empty() {
            RateView { limit: *limit, remaining: *limit, reset_ms: now + window }
        } else {
            world.rate.view(*bucket, key, *limit, *window, now)
        };
        if exhausted {
            view.remaining = 0;
        }
        headers.with(prefix, view, &world.clock)
    })
}

/// Authenticates the caller and uses one call of each bucket; the early
/// answer (401, 403 not enrolled, 429) if the call goes no further.
fn admit(world: &mut World, endpoint: Endpoint, auth: &Auth) -> Result<(Caller, RateHeaders), Answer> {
    let caller = auth.admit(world);
    let specs = buckets(world, endpoint, caller.as_ref());
    let Some(caller) = caller else {
        return Err(Answer::problem(401, peek(world, &specs, false)));
    };
    if !caller.in_project {
        let rate = peek(world, &specs, false);
        return Err(Answer {
            status: 403,
            content_type: PROBLEM_JSON,
            body: client_forbidden(&caller.client_id),
            rate,
        });
    }
    let now = world.clock.now_ms();
    let exhausted = specs
        .iter()
        .any(|(_, bucket, key, limit, window)| world.rate.view(*bucket, key, *limit, *window, now).remaining == 0);
    if exhausted {
        return Err(Answer::problem(429, peek(world, &specs, false)));
    }
    let mut rate = RateHeaders::default();
    for (prefix, bucket, key, limit, window) in &specs {
        let view = world.rate.consume(*bucket, key, *limit, *window, now);
        rate = rate.with(prefix, view, &world.clock);
    }
    Ok((caller, rate))
}

/// The common shape of both endpoints: count, fault, admit, handle.
async fn serve_v2(
    emulator: Emulator,
    endpoint: Endpoint,
    auth: Auth,
    handle: impl FnOnce(&mut World, Caller, RateHeaders) -> Answer,
) -> Response {
    let started = Instant::now();
    let (fault, fault_answer) = {
        let mut world = emulator.lock();
        let client_id = auth.client_id(&world);
        let call =
            Call { endpoint, grant: None, client_id: client_id.as_deref(), consent: false, oauth1: auth.is_oauth1() };
        world.counts.record(&call);
        let fault = world.faults.take(&call);
        // Injected answers report the caller's buckets, exhausted for a 429.
        let answer = match &fault {
            Some(FaultKind::Status(status)) => Some(injected(&world, endpoint, &auth, *status, started)),
            Some(FaultKind::RateLimited) => Some(injected(&world, endpoint, &auth, 429, started)),
            Some(FaultKind::AuthOutage) => Some(injected(&world, endpoint, &auth, 401, started)),
            Some(FaultKind::CreditsDepleted) => Some(credits_depleted(&world, endpoint, &auth, started)),
            _ => None,
        };
        (fault, answer)
    };
    let mut fault_answer = fault_answer;
    let drop_after = match plan_fault(fault, |_| fault_answer.take().unwrap_or_else(dropped_response)).await {
        FaultPlan::Respond(response) => return response,
        FaultPlan::Proceed { drop_after, .. } => drop_after,
    };
    let (answer, stamp) = {
        let mut world = emulator.lock();
        let answer = match admit(&mut world, endpoint, &auth) {
            Err(answer) => answer,
            Ok((caller, rate)) => handle(&mut world, caller, rate),
        };
        (answer, Stamp::new(started, &world.clock))
    };
    if drop_after {
        return dropped_response();
    }
    render(answer, &stamp)
}

/// The answer of an injected error status; a 429 shows no call left.
fn injected(world: &World, endpoint: Endpoint, auth: &Auth, status: u16, started: Instant) -> Response {
    let caller = auth.caller(world);
    let specs = buckets(world, endpoint, caller.as_ref());
    let rate = peek(world, &specs, status == 429);
    render(Answer::problem(status, rate), &Stamp::new(started, &world.clock))
}

/// X's 402 when the app's pay-per-use credits are used up; field order as X sends it.
#[derive(Serialize)]
struct PaymentRequired {
    title: &'static str,
    detail: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn credits_depleted(world: &World, endpoint: Endpoint, auth: &Auth, started: Instant) -> Response {
    let caller = auth.caller(world);
    let specs = buckets(world, endpoint, caller.as_ref());
    let body = PaymentRequired {
        title: "Payment Required",
        detail: "credits depleted",
        kind: "https://api.x.com/2/problems/credits-depleted",
    };
    let answer =
        Answer { status: 402, content_type: PROBLEM_JSON, body: to_json(&body), rate: peek(world, &specs, false) };
    render(answer, &Stamp::new(started, &world.clock))
}

/// X's 403 for a post whose text the same account already posted; field
/// order as X was seen sending it.
#[derive(Serialize)]
struct DuplicateContent {
    detail: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
}

fn duplicate_content(rate: RateHeaders) -> Answer {
    let body = DuplicateContent {
        detail: "You are not allowed to create a Tweet with duplicate content.",
        kind: "about:blank",
        title: "Forbidden",
        status: 403,
    };
    Answer { status: 403, content_type: PROBLEM_JSON, body: to_json(&body), rate }
}

fn render(answer: Answer, stamp: &Stamp) -> Response {
    raw_json_response(answer.status, answer.content_type, answer.body, stamp, &answer.rate)
}

#[derive(Serialize)]
struct Data<T> {
    data: T,
}

#[derive(Serialize)]
struct UserData<'a> {
    id: &'a str,
    name: &'a str,
    username: &'a str,
}

#[derive(Serialize)]
struct TweetData<'a> {
    id: &'a str,
    text: &'a str,
    edit_history_tweet_ids: [&'a str; 1],
}

/// `GET /2/users/me`, with a Bearer token or signed with OAuth 1.0a.
pub(crate) async fn users_me(
    State(emulator): State<Emulator>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let auth = Auth::of(&method, &uri, &headers, &[]);
    serve_v2(emulator, Endpoint::UsersMe, auth, |_, caller, rate| {
        if !caller.has_scopes(USERS_ME_SCOPES) {
            return Answer::problem(403, rate);
        }
        let user = &caller.user;
        let body = Data { data: UserData { id: &user.id, name: &user.name, username: &user.username } };
        Answer { status: 200, content_type: JSON, body: to_json(&body), rate }
    })
    .await
}

/// `POST /2/tweets`: answers 201 with the new post. With OAuth 1.0a, the
/// JSON body is not part of the signature (only form bodies are).
pub(crate) async fn create_tweet(
    State(emulator): State<Emulator>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = Auth::of(&method, &uri, &headers, &body);
    serve_v2(emulator, Endpoint::Tweets, auth, move |world, caller, rate| {
        if !caller.has_scopes(TWEETS_SCOPES) {
            return Answer::problem(403, rate);
        }
        let text = match serde_json::from_slice::<Value>(&body) {
            Err(_) => return invalid_request("The request body is not valid JSON.", rate),
            Ok(Value::Object(fields)) => match fields.get("text") {
                None | Some(Value::Null) => {
                    return invalid_request("Requires at least one of text, media, poll, quote_tweet_id.", rate)
                }
                Some(Value::String(text)) if text.is_empty() => {
                    return invalid_request("Requires at least one of text, media, poll, quote_tweet_id.", rate)
                }
                Some(Value::String(text)) => text.clone(),
                Some(_) => return invalid_request("$.text: expected a string.", rate),
            },
            Ok(_) => return invalid_request("The request body must be a JSON object.", rate),
        };
        if text.chars().count() > MAX_TWEET_CHARS {
            return invalid_request("Text is too long: at most 280 characters.", rate);
        }
        if world.settings.reject_duplicate_posts && world.has_posted(&caller.user.id, &text) {
            return duplicate_content(rate);
        }
        let tweet = world.post_tweet(&caller, text);
        let body = Data { data: TweetData { id: &tweet.id, text: &tweet.text, edit_history_tweet_ids: [&tweet.id] } };
        Answer { status: 201, content_type: JSON, body: to_json(&body), rate }
    })
    .await
}
