//! `POST /accounts/{id}/auth-failures`: the pipeline reports a 401/403 it
//! got from X; authwatch puts it on the account's timeline and answers
//! `retry_once` (with a fresh token) or `stop`.
//!
//! A report is a hint, never a verdict: any key scoped to the account can
//! send one, with any body. A first 401 is answered with a refresh (through
//! the engine's single flight), which is itself a question to X; anything
//! that would stop the account is first verified at X ([`super::verify`]),
//! and only X's answer — never the report — can make the account wait for a
//! person. Reports are rate limited per key and account, and the timeline
//! shows what a report said as the pipeline's words, not X's.

use super::accounts::token_view;
use super::auth::Caller;
use super::broker;
use super::dto::{AuthFailureReport, AuthFailureVerdict, Verdict};
use super::problem::{ApiError, ApiJson, Problem};
use super::verify::{self, Verification};
use super::Shared;
use crate::domain::classify::{classify_answer, forbidden_given, XAnswer, XCall};
use crate::domain::health::{Action, AttemptResult, Cause, Health, Who};
use crate::domain::pipeline::{after_refusal, Next};
use crate::domain::scopes::Scopes;
use crate::server::db::events::{self, EventKind, NewEvent, Outcome};
use crate::server::db::posts;
use crate::server::x::answer::redact;
use crate::server::x::now_ms;
use axum::extract::{Path, State};
use axum::{Extension, Json};

/// X's bodies are small; a larger one is not X's.
const MAX_BODY_CHARS: usize = 10_000;
/// How much of a report's body the timeline keeps.
const SHOWN_BODY_CHARS: usize = 500;
/// Report a 401/403 from X and learn whether to retry once or stop.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/auth-failures",
    tag = "reports",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The account's id")),
    request_body = AuthFailureReport,
    responses(
        (status = 200, description = "`retry_once` with a fresh token, or `stop` with the cause; the report is on the account's timeline. A report is verified at X before it can stop the account: `who` is `nobody` when X says the account is fine", body = AuthFailureVerdict),
        (status = 400, description = "The body is not JSON of this shape", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not act for this account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The generation was never handed out for this account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a 401/403, or a body over 10,000 characters", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "More than 10 reports about this account from this key within a minute: this one was not recorded; try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a report is taken again"))),
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
    let current = broker::load(&state, &id).await?;
    // Beyond the budget nothing is recorded, counted or verified.
    state.pipeline.take_report(&caller.0.id, &id).map_err(|retry_after| ApiError::TooManyReports { retry_after })?;
    let current_generation = current.token.generation;
    let generation = report.generation.unwrap_or(current_generation);
    if generation < 1 || generation > current_generation {
        return Err(ApiError::UnknownGeneration(format!(
            "Generation {generation} was never handed out for this account (the current one is {current_generation})."
        )));
    }

    let claimed = classify_report(status, &body, &current.token.scopes);
    // The answer if this is the generation's first report; a later one
    // (another worker, a loop, the fresh token refused too) is told to stop.
    let retried_before = posts::retried_before(&state.pool, &id, generation)
        .await
        .map_err(|e| ApiError::internal("reading earlier reports failed", e))?;
    let first = after_refusal(claimed, retried_before);
    let count = posts::count_report(&state.pool, &id, generation, verdict_slug(first))
        .await
        .map_err(|e| ApiError::internal("counting the report failed", e))?;
    let reports = count.reports;
    let next = if reports == 1 { first } else { after_refusal(claimed, true) };
    // The generation's first report got a refresh, which asked X already:
    // this one is its duplicate, and the token is being (or was) replaced.
    let duplicate = reports > 1 && count.first_verdict == verdict_slug(Next::RetryOnce);

    let known = needs_person(current.diagnosis.health, current.diagnosis.cause);
    let plan = match (next, &known) {
        (_, Some(_)) => "stop: the account already waits for a person",
        (Next::RetryOnce, None) => "retry once with a fresh token",
        (Next::Stop(_), None) if duplicate => "stop: a fresh token was handed out for that one already",
        (Next::Stop(_), None) if generation < current_generation => "stop: that token was replaced since",
        (Next::Stop(_), None) => "stop; authwatch asks X itself before deciding anything about the account",
    };
    // The report says nothing about the account by itself: no cause, no
    // status, no body of X's — what the pipeline said is its own words.
    let event = NewEvent {
        kind: EventKind::Report,
        outcome: Outcome::Failed,
        generation_before: Some(generation),
        actor: caller.actor(),
        detail: Some(format!(
            "report {reports} for generation {generation}, answered: {plan} — {}",
            reported(caller.name(), status, &body)
        )),
        ..NewEvent::default()
    };
    events::append(&state.pool, &id, now_ms(), &event, AttemptResult::Inconclusive)
        .await
        .map_err(|e| ApiError::internal("recording the report failed", e))?;
    tracing::info!(account_id = %id, generation, reports, claimed = claimed.as_str(), ?next, "auth failure reported");

    if let Some(stop) = known {
        return Ok(Json(stop));
    }
    let reporter = format!("the pipeline ({})", caller.name());
    match next {
        Next::RetryOnce => match broker::fresh_after_refusal(&state, &id, generation, &caller.actor()).await {
            Ok(token) => Ok(Json(AuthFailureVerdict {
                verdict: Verdict::RetryOnce,
                cause: claimed.as_str().into(),
                // A fresh token is authwatch's to give: no person acts.
                who: Who::System.into(),
                action: None,
                detail: "Retry the request once with this token. If X refuses it again, report that too: the answer will be stop."
                    .into(),
                token: Some(token_view(&id, &token)),
            })),
            // X refused the refresh token itself: X's verdict, recorded by the refresh.
            Err(ApiError::NeedsPerson { cause, who, action, detail }) => Ok(Json(stop(cause, who, action, detail))),
            Err(ApiError::Unavailable { cause, .. }) => Ok(Json(stop(
                cause,
                Who::Nobody,
                None,
                format!("{} No fresh token could be had; try again later.", cause.describe()),
            ))),
            Err(other) => Err(other),
        },
        Next::Stop(_) if generation < current_generation || duplicate => Ok(Json(stop(
            claimed,
            Who::Nobody,
            None,
            "That token was reported already or replaced since: get the current token (GET …/token) and use it instead.".into(),
        ))),
        Next::Stop(_) => {
            let verified = verify::verify(&state, &id, generation, &reporter).await?;
            Ok(Json(match verified {
                Verification::Alive => stop(
                    claimed,
                    Who::Nobody,
                    None,
                    "authwatch asked X: it accepts this account's token, so the account is fine and stays publishable. \
                     X refused this request, not the grant (a 403 on a post is usually its content, e.g. a duplicate): \
                     do not retry it as it is."
                        .into(),
                ),
                Verification::Refused(cause) => {
                    let (who, action) = (cause.who(), cause.who().action());
                    stop(cause, who, action, format!("{} X said so itself. Do not retry with this account until it is fixed.", cause.describe()))
                }
                Verification::Unanswered(cause) => stop(
                    cause,
                    Who::Nobody,
                    None,
                    format!("{} authwatch could not confirm the report at X, so the account is not marked; try again later.", cause.describe()),
                ),
            }))
        }
    }
}

/// How the reports table spells a first answer.
fn verdict_slug(next: Next) -> &'static str {
    match next {
        Next::RetryOnce => "retry_once",
        Next::Stop(_) => "stop",
    }
}

/// The answer `stop`.
fn stop(cause: Cause, who: Who, action: Option<Action>, detail: String) -> AuthFailureVerdict {
    AuthFailureVerdict {
        verdict: Verdict::Stop,
        cause: cause.as_str().into(),
        who: who.into(),
        action: action.map(Into::into),
        detail,
        token: None,
    }
}

/// `stop` for an account that already waits for a person, as its health says.
fn needs_person(health: Health, cause: Option<Cause>) -> Option<AuthFailureVerdict> {
    let Health::ActionNeeded(action) = health else { return None };
    let cause = cause.unwrap_or(Cause::RefreshTokenRejected);
    Some(stop(
        cause,
        cause.who(),
        Some(action),
        format!("{} Do not retry with this account until it is fixed.", cause.describe()),
    ))
}

/// What the pipeline said, labelled as its words: the body shortened, and
/// anything shaped like a token redacted, since a careless client may
/// paste its own request into the report.
fn reported(key_name: &str, status: u16, body: &str) -> String {
    let redacted = redact(body);
    let mut shown: String = redacted.chars().take(SHOWN_BODY_CHARS).collect();
    if redacted.chars().count() > SHOWN_BODY_CHARS {
        shown.push('…');
    }
    format!("reported by the pipeline ({key_name}): HTTP {status} {shown}")
}

/// What a person must do about `cause`.
/// Classifies X's 401/403 body as a post's, with the evidence authwatch has:
/// a 403 about the post itself (a duplicate) is the post's problem, and a
/// missing scope needs the grant to lack what posting needs.
fn classify_report(status: u16, body: &str, granted: &Scopes) -> Cause {
    #[derive(serde::Deserialize, Default)]
    struct Fields {
        error: Option<String>,
        #[serde(rename = "type")]
        problem_type: Option<String>,
        reason: Option<String>,
        detail: Option<String>,
    }
    let fields: Fields = serde_json::from_str(body).unwrap_or_default();
    let problem = fields.reason.or(fields.problem_type);
    let answer = XAnswer { status: Some(status), error: fields.error.as_deref(), problem: problem.as_deref() };
    let cause = classify_answer(XCall::Post, answer, fields.detail.as_deref()).unwrap_or(Cause::XUnavailable);
    forbidden_given(XCall::Post, cause, granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shaped_text_is_redacted_and_xs_words_are_kept() {
        let key = "awk_Q2hhbmdlTWUhIDEyMzQ1Njc4OTAxMjM0NTY3ODkwYWJj";
        let x_token = "bWRWa3gzdnk3WHRGU1ZyNjRuaWZzTjJ3R2dIc0xQZmpvOjE3MDAwMDAwMDAwMDA6MTowOmF0OjE";
        let body = format!("Authorization: Bearer {key} and {x_token}. {{\"detail\":\"Unauthorized\"}}");
        let shown = redact(&body);
        assert!(!shown.contains(key) && !shown.contains(x_token), "{shown}");
        assert_eq!(shown, "Authorization: Bearer [redacted] and [redacted]. {\"detail\":\"Unauthorized\"}");
        // The rule is X's answers' (`x::answer::redact`): a long word with a
        // digit or capital is redacted even when it is a header name.
        let not_enrolled = r#"{"reason":"client-not-enrolled","type":"https://api.x.com/2/problems/client-forbidden","required_enrollment":"Appropriate Level of API Access","id":"1600000000000000001","h":"x-rate-limit-remaining"}"#;
        assert_eq!(redact(not_enrolled), not_enrolled, "X's words, URLs, ids and header names stay");
    }

    #[test]
    fn what_the_pipeline_said_is_labelled_as_its_words_and_shortened() {
        let long = "é".repeat(SHOWN_BODY_CHARS + 10);
        let shown = reported("scheduler", 403, &long);
        assert!(shown.starts_with("reported by the pipeline (scheduler): HTTP 403 "), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'é').count(), SHOWN_BODY_CHARS);
        assert!(shown.ends_with('…'));
    }
}
