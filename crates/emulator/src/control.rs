//! The control API under `/_control`: JSON over HTTP for the same operations
//! as [`Emulator`]'s methods, so scripts and out-of-process tests can set up
//! users, apps, faults and time. Documented in the module doc of
//! [`crate`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::faults::Fault;
use super::model::{EmulatorError, NewApp, NewUser};
use super::settings::EmulatorSettings;
use super::Emulator;

/// The control routes, to be nested under `/_control`.
pub(crate) fn router() -> Router<Emulator> {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/apps", get(list_apps).post(create_app))
        .route("/apps/{client_id}/secret", post(set_secret))
        .route("/apps/{client_id}/consumer-key", post(set_consumer_key))
        .route("/apps/{client_id}/withhold-scopes", post(withhold_scopes))
        .route("/grants/revoke", post(revoke_grant))
        .route("/tokens/expire", post(expire_tokens))
        .route("/tokens/invalidate", post(invalidate_tokens))
        .route("/clock", post(set_clock))
        .route("/time/advance", post(advance_time))
        .route("/faults", get(list_faults).post(inject_fault).delete(clear_faults))
        .route("/counts", get(counts))
        .route("/counts/reset", post(reset_counts))
        .route("/settings", get(settings).patch(patch_settings))
        .route("/tweets", get(tweets))
}

/// A refused control call: `{"error": "…"}` with a 4xx status.
struct ControlError(StatusCode, String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<EmulatorError> for ControlError {
    fn from(error: EmulatorError) -> Self {
        let status = match error {
            EmulatorError::UnknownApp(_) | EmulatorError::UnknownUser(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        Self(status, error.to_string())
    }
}

/// JSON bodies, with a JSON error for a bad one.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|e| ControlError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

fn require_app(emulator: &Emulator, client_id: &str) -> Result<(), ControlError> {
    if emulator.lock().has_app(client_id) {
        Ok(())
    } else {
        Err(EmulatorError::UnknownApp(client_id.to_owned()).into())
    }
}

async fn list_users(State(emulator): State<Emulator>) -> Response {
    Json(emulator.users()).into_response()
}

async fn create_user(State(emulator): State<Emulator>, body: axum::body::Bytes) -> Result<Response, ControlError> {
    let new: NewUser = parse(&body)?;
    if let Some(id) = &new.id {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EmulatorError::InvalidUserId(id.clone()).into());
        }
    }
    Ok((StatusCode::CREATED, Json(emulator.create_user(new))).into_response())
}

async fn list_apps(State(emulator): State<Emulator>) -> Response {
    Json(emulator.apps()).into_response()
}

async fn create_app(State(emulator): State<Emulator>, body: axum::body::Bytes) -> Result<Response, ControlError> {
    let new: NewApp = parse(&body)?;
    Ok((StatusCode::CREATED, Json(emulator.create_app(new)?)).into_response())
}

#[derive(Deserialize)]
struct SecretBody {
    client_secret: String,
}

async fn set_secret(
    State(emulator): State<Emulator>,
    Path(client_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ControlError> {
    let SecretBody { client_secret } = parse(&body)?;
    require_app(&emulator, &client_id)?;
    emulator.set_client_secret(&client_id, &client_secret);
    Ok(StatusCode::NO_CONTENT)
}

/// New OAuth 1.0a consumer credentials; missing ones are generated.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConsumerKeyBody {
    consumer_key: Option<String>,
    consumer_secret: Option<String>,
}

/// Regenerates (empty body) or sets the app's consumer key and secret;
/// answers the new ones.
async fn set_consumer_key(
    State(emulator): State<Emulator>,
    Path(client_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ControlError> {
    let ConsumerKeyBody { consumer_key, consumer_secret } =
        if body.iter().all(u8::is_ascii_whitespace) { ConsumerKeyBody::default() } else { parse(&body)? };
    let (consumer_key, consumer_secret) = emulator.set_consumer_key(&client_id, consumer_key, consumer_secret)?;
    Ok(Json(json!({ "consumer_key": consumer_key, "consumer_secret": consumer_secret })).into_response())
}

#[derive(Deserialize)]
struct ScopesBody {
    scopes: Vec<String>,
}

async fn withhold_scopes(
    State(emulator): State<Emulator>,
    Path(client_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ControlError> {
    let ScopesBody { scopes } = parse(&body)?;
    emulator.lock().withhold_scopes(&client_id, scopes)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct GrantBody {
    client_id: String,
    user_id: String,
}

async fn revoke_grant(State(emulator): State<Emulator>, body: axum::body::Bytes) -> Result<StatusCode, ControlError> {
    let GrantBody { client_id, user_id } = parse(&body)?;
    require_app(&emulator, &client_id)?;
    emulator.revoke_grant(&client_id, &user_id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ExpireBody {
    client_id: String,
    #[serde(default)]
    user_id: Option<String>,
}

async fn expire_tokens(State(emulator): State<Emulator>, body: axum::body::Bytes) -> Result<StatusCode, ControlError> {
    let ExpireBody { client_id, user_id } = parse(&body)?;
    require_app(&emulator, &client_id)?;
    emulator.expire_access_tokens(&client_id, user_id.as_deref());
    Ok(StatusCode::NO_CONTENT)
}

/// Which access tokens X refuses early: one token, or the app's (one user's).
#[derive(Deserialize)]
#[serde(untagged)]
enum InvalidateBody {
    Token {
        access_token: String,
    },
    App {
        client_id: String,
        #[serde(default)]
        user_id: Option<String>,
    },
}

async fn invalidate_tokens(
    State(emulator): State<Emulator>,
    body: axum::body::Bytes,
) -> Result<Response, ControlError> {
    let invalidated = match parse(&body)? {
        InvalidateBody::Token { access_token } => emulator.invalidate_access_token(&access_token),
        InvalidateBody::App { client_id, user_id } => {
            require_app(&emulator, &client_id)?;
            emulator.invalidate_access_tokens(&client_id, user_id.as_deref())
        }
    };
    Ok(Json(json!({ "invalidated": invalidated })).into_response())
}

#[derive(Deserialize)]
struct ClockBody {
    offset_seconds: i64,
}

async fn set_clock(State(emulator): State<Emulator>, body: axum::body::Bytes) -> Result<StatusCode, ControlError> {
    let ClockBody { offset_seconds } = parse(&body)?;
    emulator.set_clock_offset(offset_seconds);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: u64,
}

async fn advance_time(State(emulator): State<Emulator>, body: axum::body::Bytes) -> Result<StatusCode, ControlError> {
    let AdvanceBody { seconds } = parse(&body)?;
    emulator.advance_time(seconds);
    Ok(StatusCode::NO_CONTENT)
}

async fn list_faults(State(emulator): State<Emulator>) -> Response {
    Json(emulator.faults()).into_response()
}

async fn inject_fault(State(emulator): State<Emulator>, body: axum::body::Bytes) -> Result<StatusCode, ControlError> {
    let fault: Fault = parse(&body)?;
    emulator.inject_fault(fault);
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_faults(State(emulator): State<Emulator>) -> StatusCode {
    emulator.clear_faults();
    StatusCode::NO_CONTENT
}

async fn counts(State(emulator): State<Emulator>) -> Response {
    Json(emulator.counts()).into_response()
}

async fn reset_counts(State(emulator): State<Emulator>) -> StatusCode {
    emulator.reset_counts();
    StatusCode::NO_CONTENT
}

async fn settings(State(emulator): State<Emulator>) -> Response {
    Json(emulator.settings()).into_response()
}

/// Merges the given fields into the current settings; unknown fields or
/// wrong types are refused and nothing changes.
async fn patch_settings(State(emulator): State<Emulator>, body: axum::body::Bytes) -> Result<Response, ControlError> {
    let patch: Value = parse(&body)?;
    let Value::Object(patch) = patch else {
        return Err(ControlError(StatusCode::BAD_REQUEST, "settings patch must be a JSON object".into()));
    };
    let mut merged = serde_json::to_value(emulator.settings())
        .map_err(|e| ControlError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Value::Object(current) = &mut merged {
        current.extend(patch);
    }
    let settings: EmulatorSettings = serde_json::from_value(merged)
        .map_err(|e| ControlError(StatusCode::BAD_REQUEST, format!("invalid settings: {e}")))?;
    emulator.update_settings(|s| *s = settings.clone());
    Ok(Json(settings).into_response())
}

async fn tweets(State(emulator): State<Emulator>) -> Response {
    Json(emulator.tweets()).into_response()
}
