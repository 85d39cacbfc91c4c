//! `POST /accounts/{id}/auth-failures`: the pipeline reports a 401/403 it
//! got from X; authwatch classifies it, puts it on the account's timeline and
//! answers `retry_once` (with a fresh token) or `stop` (with the cause).

use super::accounts::token_view;
use super::auth::Caller;
use super::broker::{self, Refusal};
use super::dto::{AuthFailureReport, AuthFailureVerdict};
use super::problem::{action_slug, who_slug, ApiError, ApiJson, Problem};
use crate::domain::classify::{classify, XAnswer, XCall};
use crate::domain::health::{AttemptResult, Cause};
use crate::domain::pipeline::{after_refusal, Next};
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::db::posts;
use crate::server::x::now_ms;
use super::Shared;
use axum::extract::{Path, State};
use axum::{Extension, Json};

/// X's bodies are small; a larger one is not X's.
const MAX_BODY_CHARS: usize = 10_000;

/// Report a 401/403 from X and learn whether to retry once or stop.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/auth-failures",
    tag = "reports",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The account's id")),
    request_body = AuthFailureReport,
    responses(
        (status = 200, description = "`retry_once` with a fresh token, or `stop` with the cause; the report is on the account's timeline", body = AuthFailureVerdict),
        (status = 400, description = "The body is not JSON of this shape", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not act for this account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The generation was never handed out for this account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a 401/403, or a body over 10,000 characters", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(report): ApiJson<AuthFailureReport>,
) -> Result<Json<AuthFailureVerdict>, ApiError> {
    caller.check(&id)?;
    let status: u16 = match report.status {
        401 => 401,
        403 => 403,
        other => {
            return Err(ApiError::Invalid(format!(
                "Only X's 401 and 403 are reported here, not {other}: other statuses are not authentication failures."
            )))
        }
    };
    let body = match &report.body {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::Invalid(format!("X's body is at most {MAX_BODY_CHARS} characters.")));
    }
    let current = broker::load(&state, &id).await.map_err(|r| super::accounts::refusal(&id, r))?;
    let current_generation = current.token.generation;
    let generation = report.generation.unwrap_or(current_generation);
    if generation < 1 || generation > current_generation {
        return Err(ApiError::UnknownGeneration(format!(
            "Generation {generation} was never handed out for this account (the current one is {current_generation})."
        )));
    }

    let cause = classify_report(status, &body);
    let (reports, retried_before) =
        posts::count_report(&state.pool, &id, generation).await.map_err(|e| ApiError::internal("counting the report failed", e))?;
    let retried = reports > 1 || retried_before;
    let next = after_refusal(cause, retried);
    if reports == 1 {
        let verdict = match next {
            Next::RetryOnce => "retry_once",
            Next::Stop(_) => "stop",
        };
        posts::set_first_verdict(&state.pool, &id, generation, verdict)
            .await
            .map_err(|e| ApiError::internal("recording the verdict failed", e))?;
    }

    let actor = caller.actor();
    let answered = match next {
        Next::RetryOnce => "retry once with a fresh token".to_owned(),
        Next::Stop(_) if retried => "stop: the token was already retried once".to_owned(),
        Next::Stop(_) => "stop: a fresh token cannot cure this".to_owned(),
    };
    // A stop about the current token opens (or continues) the account's
    // incident, which is what sends the owner a prompt; a report about a
    // token already replaced, or one worth a retry, only goes on the timeline.
    let result = match next {
        Next::Stop(cause) if generation == current_generation => AttemptResult::Failed(cause),
        _ => AttemptResult::Inconclusive,
    };
    let event = NewEvent {
        kind: EventKind::Report,
        outcome: Outcome::Failed,
        cause: Some(cause),
        http_status: Some(status),
        x_error: Some(body),
        generation_before: Some(generation),
        actor: actor.clone(),
        detail: Some(format!("the pipeline reported X's {} (report {reports} for generation {generation}); answered: {answered}", status)),
        ..NewEvent::default()
    };
    events::append(&state.pool, &id, now_ms(), &event, result)
        .await
        .map_err(|e| ApiError::internal("recording the report failed", e))?;
    state.pipeline.forget(&id);
    tracing::info!(account_id = %id, generation, reports, cause = cause.as_str(), ?next, "auth failure reported");

    let stop = |cause: Cause, detail: String| {
        Json(AuthFailureVerdict {
            verdict: "stop".into(),
            cause: cause.as_str().into(),
            who: who_slug(cause.who()).into(),
            action: action_of(cause),
            detail,
            token: None,
        })
    };
    match next {
        Next::Stop(cause) => Ok(stop(cause, format!("{} Do not retry with this account until it is fixed.", cause.describe()))),
        Next::RetryOnce => match broker::fresh_after_refusal(&state, &id, generation, &actor).await {
            Ok(token) => Ok(Json(AuthFailureVerdict {
                verdict: "retry_once".into(),
                cause: cause.as_str().into(),
                who: who_slug(cause.who()).into(),
                action: None,
                detail: "Retry the request once with this token. If X refuses it again, report that too: the answer will be stop."
                    .into(),
                token: Some(token_view(&id, &token)),
            })),
            Err(Refusal::NeedsPerson { cause, detail, .. }) => Ok(stop(cause, detail)),
            Err(Refusal::Unavailable { cause, .. }) => {
                Ok(stop(cause, format!("{} No fresh token could be had; try again later.", cause.describe())))
            }
            Err(other) => Err(super::accounts::refusal(&id, other)),
        },
    }
}

/// What a person must do about `cause`, as the API spells it.
fn action_of(cause: Cause) -> Option<String> {
    use crate::domain::health::{Action, Who};
    let action = match cause.who() {
        Who::Owner => Action::Reconnect,
        Who::Admin => Action::FixApp,
        Who::Operations => Action::FixClock,
        Who::System | Who::Nobody => return None,
    };
    Some(action_slug(action).to_owned())
}

/// Classifies X's 401/403 body as a v2 call (a post or a lookup).
fn classify_report(status: u16, body: &str) -> Cause {
    #[derive(serde::Deserialize, Default)]
    struct Fields {
        error: Option<String>,
        #[serde(rename = "type")]
        problem_type: Option<String>,
        reason: Option<String>,
    }
    let fields: Fields = serde_json::from_str(body).unwrap_or_default();
    let problem = fields.reason.or(fields.problem_type);
    let answer = XAnswer { status: Some(status), error: fields.error.as_deref(), problem: problem.as_deref() };
    classify(XCall::Post, answer).unwrap_or(Cause::XUnavailable)
}
