//! Errors of the pipeline API, answered as `application/problem+json`
//! (RFC 9457): a stable `type` a program can match, and a `detail` a person
//! can read. Internal failures are logged in full and answered without details.

use super::dto::{ActionSlug, WhoSlug};
use crate::domain::health::{Action, Cause, Who};
use axum::extract::rejection::JsonRejection;
use axum::extract::FromRequest;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// What kind of problem, as a URN a program can match (`urn:authwatch:problem:<slug>`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The classified cause: what a person must act on (`user_revoked`, `tokens_copied`, …), X's
    /// trouble (`x_refuses_valid_tokens`, …), or `content_refused` for a post X refused for itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Who can fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub who: Option<WhoSlug>,
    /// What that person must do: `reconnect`, `fix_app` or `fix_clock`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionSlug>,
    /// Seconds to wait before trying again (also in the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// X's answer body, exactly as received, when X refused the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_error: Option<String>,
}

/// Everything the API can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no API key")]
    MissingKey,
    #[error("unknown or revoked API key")]
    InvalidKey,
    #[error("key not allowed for account {0}")]
    NotAllowed(String),
    #[error("no account {0}")]
    UnknownAccount(String),
    #[error("malformed request body: {0}")]
    Malformed(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("a person must act on the account: {}", .cause.as_str())]
    NeedsPerson { cause: Cause, who: Who, action: Option<Action>, detail: String },
    #[error("X is unavailable: {}", .cause.as_str())]
    Unavailable { cause: Cause, retry_after: Option<u64> },
    #[error("unknown token generation: {0}")]
    UnknownGeneration(String),
    #[error("a request with this idempotency key is in progress")]
    InProgress,
    #[error("idempotency key reused for another request")]
    KeyReused,
    #[error("X refused the post ({status})")]
    XRejected { status: u16, body: String },
    #[error("X refused the post's content ({status})")]
    ContentRefused { status: u16, body: String },
    #[error("X's answer was lost")]
    OutcomeUnknown,
    #[error("the post was cancelled before it was published")]
    PostCancelled,
    #[error("too many reports for this account from this key")]
    TooManyReports { retry_after: u64 },
    #[error("account {0} is connected with OAuth 1.0a: its credentials are not handed out")]
    SignedHere(String),
    #[error("no such route")]
    NotFound,
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// Logs the cause and hides it from the caller.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "pipeline API: {context}");
        ApiError::Internal(context.to_owned())
    }

    fn problem(&self) -> (StatusCode, Problem) {
        let p = |status: StatusCode, slug: &str, title: &str, detail: String| {
            (
                status,
                Problem {
                    kind: format!("urn:authwatch:problem:{slug}"),
                    title: title.to_owned(),
                    status: status.as_u16(),
                    detail,
                    cause: None,
                    who: None,
                    action: None,
                    retry_after: None,
                    x_error: None,
                },
            )
        };
        match self {
            ApiError::MissingKey => p(
                StatusCode::UNAUTHORIZED,
                "missing-api-key",
                "API key required",
                "Send an API key as `Authorization: Bearer <key>`; admins create keys.".into(),
            ),
            ApiError::InvalidKey => p(
                StatusCode::UNAUTHORIZED,
                "invalid-api-key",
                "Invalid API key",
                "This API key is unknown or was revoked.".into(),
            ),
            ApiError::NotAllowed(id) => p(
                StatusCode::FORBIDDEN,
                "account-not-allowed",
                "Key not allowed for this account",
                format!("This API key may not act for account {id}."),
            ),
            ApiError::UnknownAccount(id) => {
                p(StatusCode::NOT_FOUND, "unknown-account", "Unknown account", format!("There is no account {id}."))
            }
            ApiError::Malformed(why) => p(StatusCode::BAD_REQUEST, "malformed-request", "Malformed request", why.clone()),
            ApiError::Invalid(why) => p(StatusCode::UNPROCESSABLE_ENTITY, "invalid-request", "Invalid request", why.clone()),
            ApiError::NeedsPerson { cause, who, action, detail } => {
                let (status, mut problem) =
                    p(StatusCode::CONFLICT, "person-must-act", "A person must act on this account", detail.clone());
                problem.cause = Some(cause.as_str().to_owned());
                problem.who = Some((*who).into());
                problem.action = action.map(Into::into);
                (status, problem)
            }
            ApiError::Unavailable { cause, retry_after } => {
                let (status, mut problem) = p(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "x-unavailable",
                    "X is unavailable",
                    format!("{} Try again later.", cause.describe()),
                );
                problem.cause = Some(cause.as_str().to_owned());
                problem.who = Some(cause.who().into());
                problem.retry_after = *retry_after;
                (status, problem)
            }
            ApiError::SignedHere(id) => p(
                StatusCode::CONFLICT,
                "oauth1-signed-here",
                "This account's credentials never leave authwatch",
                format!(
                    "Account {id} is connected with OAuth 1.0a: its token and token secret sign requests inside authwatch and are never handed out. \
                     Publish through POST /api/v1/accounts/{id}/posts, which signs for you with the same retry-once and held-post rules; \
                     or reconnect the account with OAuth 2.0 to get tokens from this endpoint."
                ),
            ),
            ApiError::UnknownGeneration(why) => {
                p(StatusCode::CONFLICT, "unknown-generation", "Unknown token generation", why.clone())
            }
            ApiError::InProgress => p(
                StatusCode::CONFLICT,
                "request-in-progress",
                "Request in progress",
                "A request with this idempotency key is being published right now; ask again in a moment.".into(),
            ),
            // 409 like a request in progress: both conflict with what the key already stands for.
            ApiError::KeyReused => p(
                StatusCode::CONFLICT,
                "idempotency-key-reused",
                "Idempotency key reused",
                "This idempotency key was used for a different request (another account or text).".into(),
            ),
            ApiError::XRejected { status, body } => {
                let (code, mut problem) = p(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rejected-by-x",
                    "X refused the post",
                    format!("X answered {status}: the post's content was refused; sending it again will not help."),
                );
                problem.x_error = Some(body.clone());
                (code, problem)
            }
            ApiError::ContentRefused { status, body } => {
                let (code, mut problem) = p(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "content-refused",
                    "X refused the post's content",
                    format!(
                        "X answered {status}: it refused this post for its content (a duplicate of an earlier post, for instance; its words are in x_error). The account is fine and nothing was held: change the post rather than sending it again."
                    ),
                );
                problem.cause = Some(crate::domain::health::Cause::ContentRefused.as_str().to_owned());
                problem.who = Some(Who::Nobody.into());
                problem.x_error = Some(body.clone());
                (code, problem)
            }
            ApiError::OutcomeUnknown => p(
                StatusCode::BAD_GATEWAY,
                "outcome-unknown",
                "The post may have been published",
                "X's answer was lost after the post was sent: it may have been published. authwatch will not send it again."
                    .into(),
            ),
            ApiError::PostCancelled => p(
                StatusCode::GONE,
                "post-cancelled",
                "The post was cancelled",
                "This post was held, then discarded by the account's owner or an admin before it was published: it will not be published. Send it as a new post (a new idempotency key) if it should still go out."
                    .into(),
            ),
            ApiError::TooManyReports { retry_after } => {
                let (status, mut problem) = p(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-reports",
                    "Too many reports",
                    format!(
                        "This key sent more than {} reports about this account within a minute; this one was not recorded. Report once per refused token, and try again in {retry_after} s.",
                        crate::domain::pipeline::REPORTS_PER_WINDOW
                    ),
                );
                problem.retry_after = Some(*retry_after);
                (status, problem)
            }
            ApiError::NotFound => {
                p(StatusCode::NOT_FOUND, "not-found", "Not found", "No such route; see /api/v1/openapi.json.".into())
            }
            ApiError::Internal(context) => p(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                format!("{context}: an internal error occurred; it has been logged."),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, problem) = self.problem();
        let mut response = (status, axum::Json(&problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = problem.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A JSON body whose rejections (not JSON, wrong shape, wrong content type)
/// are answered as problems instead of axum's plain text.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::Malformed(describe(&rejection))),
        }
    }
}

fn describe(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "Send the body as JSON with `Content-Type: application/json`.".into()
        }
        other => format!("The body is not the JSON this endpoint expects: {}", other.body_text()),
    }
}
