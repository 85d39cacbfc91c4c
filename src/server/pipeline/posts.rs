//! `POST /accounts/{id}/posts`: publish through authwatch. One call to X;
//! on a 401 a fresh token and exactly one retry; on a failure a person must
//! fix, the post is held (kept, in order) and published after the reconnect.
//! An idempotency key makes a retried request answer the first one's result.

use super::accounts::retry_after;
use super::auth::Caller;
use super::broker;
use super::dto::{ActionSlug, NewPostRequest, PostState, PostView};
use super::problem::{ApiError, ApiJson, Problem};
use super::Shared;
use crate::domain::classify::{forbidden_given, XCall};
use crate::domain::flow::Flow;
use crate::domain::health::{AttemptResult, Cause};
use crate::domain::pipeline::{after_refusal, check_text, fate, Fate, Next, TextProblem, MAX_POST_CHARS};
use crate::domain::verdict::{
    after_access_refused, after_oauth1_refusal, post_stopped, Confirmation, Confirmed, RefusedAccess, SecondCall,
};
use crate::server::db;
use crate::server::db::events::{self, EventKind, NewEvent, Outcome as EventOutcome};
use crate::server::db::posts::{self, Claim, Finished, HeldClaim, NewPost, Post, PostStatus};
use crate::server::lifecycle::check::{consumer_key_refused, second_call};
use crate::server::pipeline::broker::Token;
use crate::server::x::oauth1::UserToken;
use crate::server::x::{now_ms, XError};
use crate::server::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The request header that makes a publish safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer replayed from an earlier request with the same key.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Publish a post, retrying once on a 401; held instead of lost when a person must act.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/posts",
    tag = "posts",
    security(("api_key" = [])),
    params(
        ("id" = String, Path, description = "The account's id"),
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$",
            description = "1 to 200 visible ASCII characters, unique per post: a retried request with the same key gets the first one's answer and never posts twice"),
    ),
    request_body = NewPostRequest,
    responses(
        (status = 201, description = "Published on X", body = PostView),
        (status = 202, description = "Held: a person must act first (cause, who, action); it is published after they have", body = PostView),
        (status = 400, description = "Malformed JSON or a missing idempotency key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not act for this account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this idempotency key is still being published, or the key was used for another post", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The post was held, then discarded by the account's owner or an admin: it is never published", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty text or text over X's 280 characters (`invalid-request`); X refused the request (`rejected-by-x`); or X refused the post for its content, e.g. a duplicate of an earlier post (`content-refused`): the account is fine, change the post", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "X's answer was lost after sending: the post may be published and is not sent again", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "X is unavailable; send the same request (same key) again after `retry_after` seconds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn publish(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<NewPostRequest>,
) -> Result<Response, ApiError> {
    caller.check(&id)?;
    let key = idempotency_key(&headers)?;
    match check_text(&request.text) {
        Ok(()) => {}
        Err(TextProblem::Empty) => return Err(ApiError::Invalid("The post's text is empty.".into())),
        Err(TextProblem::TooLong { chars }) => {
            return Err(ApiError::Invalid(format!(
                "The post's text is {chars} characters; X allows at most {MAX_POST_CHARS}."
            )))
        }
    }
    crate::server::db::accounts::summary(&state.pool, &id)
        .await
        .map_err(|e| ApiError::internal("reading the account failed", e))?
        .ok_or_else(|| ApiError::UnknownAccount(id.clone()))?;

    let request_hash = hex::encode(Sha256::digest(format!("{id}\n{}", request.text).as_bytes()));
    let new = NewPost {
        account_id: &id,
        api_key_id: &caller.0.id,
        idempotency_key: key,
        request_hash: &request_hash,
        text: &request.text,
    };
    let post_id = match posts::claim(&state.pool, &new, now_ms())
        .await
        .map_err(|e| ApiError::internal("storing the post failed", e))?
    {
        Claim::Mine(post_id) => post_id,
        Claim::Existing(post) if post.request_hash != request_hash => return Err(ApiError::KeyReused),
        Claim::Existing(post) if post.status() == PostStatus::Publishing && post.updated_at < stale_before(&state) => {
            posts::give_up_stale(&state.pool, stale_before(&state), now_ms())
                .await
                .map_err(|e| ApiError::internal("recording a stale post failed", e))?;
            return Err(ApiError::OutcomeUnknown);
        }
        Claim::Existing(post) => {
            let mut response = answer(&post)?;
            response.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
            return Ok(response);
        }
    };
    let attempt = attempt(&state, &id, &request.text, &caller.actor()).await;
    let post = record(&state, post_id, &attempt, PostStatus::Retryable).await?;
    answer(&post)
}

/// A claim older than this is from a request that died: one publish takes at
/// most a refresh and two posts, each bounded by the X timeout.
/// Every `every`, marks the posts whose publishing request never finished
/// (the replica serving it died, or its request was dropped) as `unknown`:
/// they may have reached X, so they are never sent again, and the pipeline
/// and the timeline say so instead of "publishing" for good. Every replica
/// runs it; the UPDATE is the same whoever runs it first.
pub async fn settle_stale_every(state: AppState, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match posts::give_up_stale(&state.pool, stale_before(&state), now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(posts = n, "posts whose publishing never finished are now unknown"),
            Err(e) => tracing::warn!(error = %e, "settling stale posts"),
        }
    }
}

fn stale_before(state: &AppState) -> i64 {
    now_ms() - (state.config.x_timeout * 3 + Duration::from_secs(10)).as_millis() as i64
}

fn idempotency_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(IDEMPOTENCY_KEY).ok_or_else(|| {
        ApiError::Malformed(
            "The `Idempotency-Key` header is required: a unique value per post, reused when retrying it.".into(),
        )
    })?;
    value.to_str().ok().filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())).ok_or_else(
        || ApiError::Malformed("The `Idempotency-Key` header must be 1 to 200 visible ASCII characters.".into()),
    )
}

/// The answer a post's state gives, the first time and on every replay.
fn answer(post: &Post) -> Result<Response, ApiError> {
    let view = |status: PostState, detail: String| {
        let cause = post.cause();
        PostView {
            id: post.id,
            account_id: post.account_id.clone(),
            status,
            text: post.text.clone(),
            x_post_id: post.x_post_id.clone(),
            cause: cause.map(|c| c.as_str().to_owned()),
            who: cause.map(|c| c.who().into()),
            action: cause.and_then(action_for),
            detail,
            x_calls: post.x_calls,
        }
    };
    match post.status() {
        PostStatus::Published => {
            Ok((StatusCode::CREATED, Json(view(PostState::Published, "Published on X.".into()))).into_response())
        }
        PostStatus::Held => {
            let why = post.cause().map(Cause::describe).unwrap_or("A person must act on the account.");
            let detail = match post.cause() {
                Some(Cause::CreditsDepleted) => format!(
                    "Held, not lost: {why} An admin must top up the X app's balance (or turn on auto-recharge); it is published once X accepts the app's calls again."
                ),
                _ => format!("Held, not lost: {why} It is published once the account is fixed."),
            };
            Ok((StatusCode::ACCEPTED, Json(view(PostState::Held, detail))).into_response())
        }
        PostStatus::Publishing => Err(ApiError::InProgress),
        PostStatus::Rejected if post.cause() == Some(Cause::ContentRefused) => Err(ApiError::ContentRefused {
            status: post.http_status.and_then(|s| u16::try_from(s).ok()).unwrap_or(403),
            body: post.x_error.clone().unwrap_or_default(),
        }),
        PostStatus::Rejected => Err(ApiError::XRejected {
            status: post.http_status.and_then(|s| u16::try_from(s).ok()).unwrap_or(400),
            body: post.x_error.clone().unwrap_or_default(),
        }),
        PostStatus::Unknown => Err(ApiError::OutcomeUnknown),
        PostStatus::Retryable => Err(ApiError::Unavailable {
            cause: post.cause().unwrap_or(Cause::XUnavailable),
            retry_after: retry_after(None),
        }),
        PostStatus::Cancelled => Err(ApiError::PostCancelled),
    }
}

fn action_for(cause: Cause) -> Option<ActionSlug> {
    if cause == Cause::CreditsDepleted {
        return Some(ActionSlug::TopUpCredits);
    }
    cause.who().action().map(Into::into)
}

/// How one attempt to publish ended.
#[derive(Debug)]
pub struct PublishAttempt {
    pub outcome: Attempted,
    /// Calls made to `POST /2/tweets`.
    pub x_calls: u32,
}

#[derive(Debug)]
pub enum Attempted {
    Published {
        x_post_id: Option<String>,
    },
    /// A person must act; X's answer when there was one.
    Held {
        cause: Cause,
        status: Option<u16>,
        body: Option<String>,
    },
    /// X refused the request (400) or the post's content (`ContentRefused`).
    Rejected {
        status: u16,
        body: String,
        cause: Option<Cause>,
    },
    /// X's passing trouble before anything was posted.
    Retryable {
        cause: Cause,
        status: Option<u16>,
        body: Option<String>,
    },
    /// The request may have reached X: never resend.
    Unknown {
        message: String,
    },
    /// authwatch could not read or record something.
    Failed {
        context: String,
    },
}

/// Publishes `text` as the account: a valid token from the broker, one call
/// to X, and on a 401 one fresh token and one retry — never a third call.
pub async fn attempt(state: &AppState, account_id: &str, text: &str, actor: &str) -> PublishAttempt {
    let mut token = match broker::token(state, account_id, actor).await {
        Ok(token) => token,
        Err(refusal) => return PublishAttempt { outcome: refused(refusal), x_calls: 0 },
    };
    let mut retried = false;
    // The refusal of a valid token that the retry confirms or not.
    let mut first_refusal: Option<RefusedAccess> = None;
    let mut x_calls = 0;
    loop {
        x_calls += 1;
        let error = match post_as(state, &token, text).await {
            Ok(posted) => {
                let published =
                    format!("published post {} ({x_calls} call(s) to X)", posted.id.as_deref().unwrap_or("?"));
                let fixed = first_refusal.map(|refused| {
                    after_access_refused(
                        &refused,
                        &Confirmation::FreshWorks { generation: token.generation, at: now_ms() },
                    )
                });
                let detail = match fixed {
                    Some(Confirmed::Fixed { note }) => format!("{note} Then {published}."),
                    _ => published,
                };
                let event = NewEvent {
                    kind: EventKind::Publish,
                    outcome: EventOutcome::Ok,
                    generation_before: Some(token.generation),
                    actor: actor.to_owned(),
                    detail: Some(detail),
                    ..NewEvent::default()
                };
                // The post is out: a failure to log it must not turn into a resend.
                if let Err(e) = events::append(&state.pool, account_id, now_ms(), &event, AttemptResult::Verified).await
                {
                    tracing::warn!(account_id, error = %e, "could not record the publish event");
                }
                return PublishAttempt { outcome: Attempted::Published { x_post_id: posted.id }, x_calls };
            }
            Err(error) => error,
        };
        let (status, body) = (error.status(), error.body());
        // A missing scope needs evidence: X's generic 403 on a grant that
        // covers posting refuses the post, not the grant.
        let cause = forbidden_given(XCall::Post, error.cause(), &token.scopes);
        let outcome = match &error {
            XError::Unreachable { maybe_processed: true, message } => Attempted::Unknown { message: message.clone() },
            XError::Unreachable { .. } | XError::Malformed(_) => {
                Attempted::Retryable { cause: Cause::XUnavailable, status: None, body: Some(body) }
            }
            XError::Rejected { status: 400, .. } => Attempted::Rejected { status: 400, body, cause: None },
            // The post's problem: the account stays as it is, nothing is held.
            XError::Rejected { status, .. } if cause == Cause::ContentRefused => {
                Attempted::Rejected { status: *status, body, cause: Some(cause) }
            }
            // The app's billing, not the account's: held for the admins, with
            // nothing recorded against the account and no retry.
            XError::Rejected { .. } if cause == Cause::CreditsDepleted => {
                crate::server::lifecycle::observe_billing(state, &error, now_ms()).await;
                Attempted::Held { cause, status, body: Some(body) }
            }
            XError::Rejected { .. } if cause.is_transient() => Attempted::Retryable { cause, status, body: Some(body) },
            XError::Rejected { .. } => match after_refusal(cause, retried) {
                // Nothing to refresh: the second signed call says whether
                // the token works. If it does, the post is tried once more.
                Next::RetryOnce if token.flow == Flow::OAuth1 => {
                    retried = true;
                    let Some(secret) = token.token_secret.as_ref() else {
                        return PublishAttempt {
                            outcome: Attempted::Failed { context: "an OAuth 1.0a token without its secret".into() },
                            x_calls,
                        };
                    };
                    let user = UserToken { token: &token.access, secret };
                    x_calls += 1;
                    match second_call(state, user).await {
                        (SecondCall::Works, _) => continue,
                        (second, refusal) => {
                            let verdict = after_oauth1_refusal(now_ms(), second);
                            let cause = verdict.cause;
                            let evidence = refusal.unwrap_or(error);
                            if cause == Cause::ConsumerKeyRejected {
                                consumer_key_refused(state, &evidence, now_ms()).await;
                            }
                            stop(state, account_id, token.generation, cause, &evidence, actor, verdict.why).await;
                            let (status, body) = (evidence.status(), evidence.body());
                            match fate(cause) {
                                Fate::Hold => Attempted::Held { cause, status, body: Some(body) },
                                Fate::Retryable => Attempted::Retryable { cause, status, body: Some(body) },
                            }
                        }
                    }
                }
                Next::RetryOnce => {
                    retried = true;
                    if now_ms() < token.expires_at {
                        first_refusal = Some(RefusedAccess {
                            at: now_ms(),
                            generation: token.generation,
                            valid_until: token.expires_at,
                        });
                    }
                    match broker::fresh_after_refusal(state, account_id, token.generation, actor).await {
                        Ok(fresh) => {
                            token = fresh;
                            continue;
                        }
                        Err(refusal) => refused(refusal),
                    }
                }
                Next::Stop(cause) => {
                    // The retry's token is one X granted a moment ago: refused
                    // too, it is X refusing valid tokens, not the account.
                    let verdict = post_stopped(cause, retried, first_refusal.as_ref(), token.generation, now_ms());
                    let cause = verdict.cause;
                    stop(state, account_id, token.generation, cause, &error, actor, verdict.why).await;
                    match fate(cause) {
                        Fate::Hold => Attempted::Held { cause, status, body: Some(body) },
                        Fate::Retryable => Attempted::Retryable { cause, status, body: Some(body) },
                    }
                }
            },
        };
        return PublishAttempt { outcome, x_calls };
    }
}

/// Publishes `text` with `token`: as a bearer (OAuth 2.0), or signed
/// (OAuth 1.0a), so that a 1.0a secret never leaves authwatch.
async fn post_as(state: &AppState, token: &Token, text: &str) -> Result<crate::server::x::Posted, XError> {
    match (token.flow, token.token_secret.as_ref()) {
        (Flow::OAuth1, Some(secret)) => {
            state.x.post_tweet_oauth1(UserToken { token: &token.access, secret }, text).await
        }
        (Flow::OAuth1, None) => Err(XError::Malformed("an OAuth 1.0a token without its secret".into())),
        (Flow::OAuth2, _) => state.x.post_tweet(&token.access, text).await,
    }
}

/// X refused the retry too (or refused what no token cures): the failure
/// becomes the account's incident — the owner's prompt comes from it.
async fn stop(
    state: &AppState,
    account_id: &str,
    generation: i64,
    cause: Cause,
    error: &XError,
    actor: &str,
    why: String,
) {
    let event = NewEvent {
        kind: EventKind::Publish,
        outcome: EventOutcome::Failed,
        cause: Some(cause),
        http_status: error.status(),
        x_error: Some(error.body()),
        generation_before: Some(generation),
        actor: actor.to_owned(),
        detail: Some(why),
        ..NewEvent::default()
    };
    if let Err(e) = events::append(&state.pool, account_id, now_ms(), &event, AttemptResult::Failed(cause)).await {
        tracing::error!(account_id, error = %e, "could not record the refused post");
    }
    state.pipeline.forget(account_id);
    tracing::warn!(account_id, generation, cause = cause.as_str(), "post refused by X after one retry: stopped");
}

fn refused(refusal: ApiError) -> Attempted {
    match refusal {
        ApiError::NeedsPerson { cause, .. } => Attempted::Held { cause, status: None, body: None },
        ApiError::Unavailable { cause, .. } => Attempted::Retryable { cause, status: None, body: None },
        ApiError::UnknownAccount(_) => Attempted::Failed { context: "the account disappeared".into() },
        ApiError::Internal(context) => Attempted::Failed { context },
        other => Attempted::Failed { context: other.to_string() },
    }
}

/// Records how the attempt ended on post `id`. `when_passing` is the status
/// for X's passing trouble: `retryable` for a request the caller may send
/// again, `held` for a held post that must keep its place.
async fn record(
    state: &AppState,
    id: i64,
    attempt: &PublishAttempt,
    when_passing: PostStatus,
) -> Result<Post, ApiError> {
    let (status, x_post_id, cause, http_status, x_error) = match &attempt.outcome {
        Attempted::Published { x_post_id } => (PostStatus::Published, x_post_id.as_deref(), None, None, None),
        Attempted::Held { cause, status, body } => (PostStatus::Held, None, Some(*cause), *status, body.as_deref()),
        Attempted::Rejected { status, body, cause } => {
            (PostStatus::Rejected, None, *cause, Some(*status), Some(body.as_str()))
        }
        Attempted::Retryable { cause, status, body } => (when_passing, None, Some(*cause), *status, body.as_deref()),
        Attempted::Unknown { message } => {
            (PostStatus::Unknown, None, Some(Cause::XUnavailable), None, Some(message.as_str()))
        }
        // Nothing reached X: the same request may try again.
        Attempted::Failed { .. } => (when_passing, None, None, None, None),
    };
    let done = Finished { status, x_post_id, cause, http_status, x_error, x_calls: attempt.x_calls };
    let post = posts::finish(&state.pool, id, &done, now_ms())
        .await
        .map_err(|e| ApiError::internal("recording the post failed", e))?;
    if let Attempted::Failed { context } = &attempt.outcome {
        return Err(ApiError::Internal(context.clone()));
    }
    Ok(post)
}

/// What a release of held posts did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Released {
    pub published: usize,
    /// Still held (a person must act again, or X had trouble): they keep their order.
    pub still_held: usize,
    /// Cancelled instead: the API key that queued them is revoked.
    pub cancelled: usize,
}

/// Publishes the account's held posts, oldest first, stopping at the first
/// that cannot go out so the rest keep their order. Each post is claimed
/// before it is sent, so two releases at once publish it once — and only
/// while the key that queued it is live: a post whose key was revoked is
/// cancelled, on the timeline, and never goes out in the brand's name.
pub async fn release_held(state: &AppState, account_id: &str, actor: &str) -> Result<Released, ApiError> {
    posts::give_up_stale(&state.pool, stale_before(state), now_ms())
        .await
        .map_err(|e| ApiError::internal("recording stale posts failed", e))?;
    let held =
        posts::held(&state.pool, account_id).await.map_err(|e| ApiError::internal("listing held posts failed", e))?;
    let mut released = Released::default();
    for (i, post) in held.iter().enumerate() {
        let claimed =
            claim(state, post, actor).await.map_err(|e| ApiError::internal("claiming a held post failed", e))?;
        match claimed {
            HeldClaim::Claimed => {}
            HeldClaim::KeyRevoked => {
                released.cancelled += 1;
                continue;
            }
            HeldClaim::Gone => continue,
        }
        let attempt = attempt(state, account_id, &post.text, actor).await;
        let stored = record(state, post.id, &attempt, PostStatus::Held).await;
        match (&attempt.outcome, stored) {
            (Attempted::Published { .. }, Ok(_)) => released.published += 1,
            // X refused this post's content, or may have posted it: it no
            // longer holds up the others.
            (Attempted::Rejected { .. } | Attempted::Unknown { .. }, Ok(_)) => {}
            (_, stored) => {
                released.still_held = held.len() - i;
                stored?;
                break;
            }
        }
    }
    tracing::info!(
        account_id,
        published = released.published,
        still_held = released.still_held,
        cancelled = released.cancelled,
        "held posts released"
    );
    Ok(released)
}

/// Claims one held post for the release, or cancels it — with its event on
/// the timeline, in one transaction — when its key is no longer live.
async fn claim(state: &AppState, post: &Post, actor: &str) -> Result<HeldClaim, sqlx::Error> {
    let now = now_ms();
    let mut tx = db::begin_write(&state.pool, db::WriteScope::Account(&post.account_id)).await?;
    let claimed = posts::claim_held(&mut tx, post.id, now).await?;
    if claimed == HeldClaim::KeyRevoked {
        let event = NewEvent {
            kind: EventKind::Discard,
            outcome: EventOutcome::Ok,
            actor: actor.to_owned(),
            detail: Some(format!(
                "held post {} cancelled, never published: the API key that queued it ({}) is revoked",
                post.id, post.api_key_id
            )),
            ..NewEvent::default()
        };
        events::record(&mut tx, &post.account_id, now, &event, AttemptResult::Inconclusive).await?;
    }
    tx.commit().await?;
    if claimed == HeldClaim::KeyRevoked {
        tracing::info!(post_id = post.id, key_id = %post.api_key_id, "held post of a revoked key cancelled");
    }
    Ok(claimed)
}

/// Discards held post `post_id` of `account_id` for `by` (an owner or an
/// admin: the caller has checked): it is never published, and the timeline
/// says who discarded it. Returns whether it was still held.
pub async fn discard_held(state: &AppState, account_id: &str, post_id: i64, by: &str) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let mut tx = db::begin_write(&state.pool, db::WriteScope::Account(account_id)).await?;
    if !posts::discard_held(&mut tx, account_id, post_id, now).await? {
        return Ok(false);
    }
    let event = NewEvent {
        kind: EventKind::Discard,
        outcome: EventOutcome::Ok,
        actor: by.to_owned(),
        detail: Some(format!("held post {post_id} discarded: it will never be published")),
        ..NewEvent::default()
    };
    events::record(&mut tx, account_id, now, &event, AttemptResult::Inconclusive).await?;
    tx.commit().await?;
    tracing::info!(account_id, post_id, by, "held post discarded");
    Ok(true)
}
