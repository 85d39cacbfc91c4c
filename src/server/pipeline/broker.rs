//! The token broker: a valid access token for an account, refreshed first
//! when it expires within the minimum lifetime — through the engine's
//! single flight, the one refresh path — or a refusal that says who must act.
//! Never a dead token.

use super::problem::ApiError;
use crate::domain::flow::Flow;
use crate::domain::health::{diagnose, Action, Cause, Diagnosis, Health};
use crate::domain::pipeline::{fate, needs_refresh, Fate};
use crate::domain::scopes::Scopes;
use crate::server::db::{accounts, apps};
use crate::server::lifecycle::refresh::Refreshed;
use crate::server::lifecycle::AccountError;
use crate::server::secret::Secret;
use crate::server::x::now_ms;
use crate::server::AppState;
use std::sync::Arc;

/// An account's current token and verdict, as read from the database.
#[derive(Debug)]
pub struct Current {
    pub account_id: String,
    pub diagnosis: Diagnosis,
    /// Shared, so handing it out on the hot path copies no token.
    pub token: Arc<Token>,
}

/// An opened access token.
#[derive(Debug, Clone)]
pub struct Token {
    /// An OAuth 1.0a token is used to sign, here, and never handed out.
    pub flow: Flow,
    pub access: Secret,
    /// The OAuth 1.0a token secret; `None` for OAuth 2.0.
    pub token_secret: Option<Secret>,
    pub generation: i64,
    pub expires_at: i64,
    pub scopes: Scopes,
}

/// The broker refuses with the API's own error, so that what the handlers
/// answer is what the broker decided, with nothing mapped in between: an
/// unknown account names itself, and any other failure to read or refresh
/// it is logged here and answered as internal.
impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::UnknownAccount(id) => ApiError::UnknownAccount(id),
            other => ApiError::internal("token broker: reading or refreshing the account failed", other),
        }
    }
}

/// The error of a refresh flight this call shared.
fn shared(e: Arc<AccountError>) -> ApiError {
    AccountError::shared(e).into()
}

/// X's passing trouble and the token is already dead: wait.
fn unavailable(cause: Cause, retry_at: Option<i64>) -> ApiError {
    ApiError::Unavailable { cause, retry_after: retry_after(retry_at) }
}

/// Seconds from now until `retry_at` (ms), at least one; 30 s when X said nothing.
pub fn retry_after(retry_at: Option<i64>) -> Option<u64> {
    Some(retry_at.map_or(30, |at| ((at - now_ms()).max(1000) / 1000) as u64))
}

fn needs_person(d: &Diagnosis) -> Option<ApiError> {
    match d.health {
        Health::ActionNeeded(action) => Some(ApiError::NeedsPerson {
            cause: d.cause.unwrap_or(Cause::RefreshTokenRejected),
            who: d.who,
            action: Some(action),
            detail: format!("{} {}", d.summary, d.next_step),
        }),
        _ => None,
    }
}

/// Reads the account's token and health from the database.
pub async fn load(state: &AppState, account_id: &str) -> Result<Current, ApiError> {
    let summary = accounts::summary(&state.pool, account_id)
        .await
        .map_err(AccountError::from)?
        .ok_or_else(|| ApiError::UnknownAccount(account_id.to_owned()))?;
    let app = apps::facts(&state.pool, &summary.client_id).await.map_err(AccountError::from)?;
    let tokens = accounts::tokens(&state.pool, &state.keyring, account_id)
        .await
        .map_err(AccountError::from)?
        .ok_or_else(|| ApiError::UnknownAccount(account_id.to_owned()))?;
    let diagnosis = diagnose(&summary.facts(), &app, &state.x.app().required_scopes, now_ms(), &state.policy);
    Ok(Current {
        account_id: account_id.to_owned(),
        diagnosis,
        token: Arc::new(Token {
            flow: tokens.flow,
            access: tokens.access,
            token_secret: tokens.token_secret,
            generation: tokens.generation,
            expires_at: tokens.expires_at,
            scopes: tokens.scopes,
        }),
    })
}

/// A valid token for `account_id`: from memory while fresh, else from the
/// database; refreshed first when it expires within the minimum lifetime.
pub async fn token(state: &AppState, account_id: &str, actor: &str) -> Result<Arc<Token>, ApiError> {
    let min_lifetime = state.pipeline.min_token_lifetime_ms();
    let current = state.pipeline.current(state, account_id).await?;
    if let Some(refusal) = needs_person(&current.diagnosis) {
        return Err(refusal);
    }
    if !needs_refresh(current.token.expires_at, now_ms(), min_lifetime) {
        return Ok(current.token.clone());
    }
    // Due: the engine's single flight makes concurrent callers share one
    // refresh at X; a caller arriving after it finds the token not due.
    let result = state.engine.refresh(state, account_id, actor, Some(now_ms() + min_lifetime)).await;
    state.pipeline.forget(account_id);
    match result {
        Ok(Refreshed::Saved { .. } | Refreshed::NotDue { .. } | Refreshed::LostRace { .. }) => {
            usable(state, account_id, None).await
        }
        Ok(Refreshed::Failed { cause, retry_at }) => usable(state, account_id, Some((cause, retry_at))).await,
        Err(e) => Err(shared(e)),
    }
}

/// After a refresh: the stored token if a person need not act and it is
/// still alive (a failed refresh of a token with seconds left still leaves
/// those seconds), else why not.
async fn usable(
    state: &AppState,
    account_id: &str,
    failed: Option<(Cause, Option<i64>)>,
) -> Result<Arc<Token>, ApiError> {
    let current = state.pipeline.current(state, account_id).await?;
    if let Some(refusal) = needs_person(&current.diagnosis) {
        return Err(refusal);
    }
    if current.token.expires_at > now_ms() {
        return Ok(current.token.clone());
    }
    let (cause, retry_at) = failed.unwrap_or((Cause::XUnavailable, None));
    Err(unavailable(cause, retry_at))
}

/// A token to retry with after X refused the one of `used_generation`: the
/// stored one if someone already replaced it, else a refresh now (through
/// the engine, so a refresh already in flight is joined, not repeated).
pub async fn fresh_after_refusal(
    state: &AppState,
    account_id: &str,
    used_generation: i64,
    actor: &str,
) -> Result<Arc<Token>, ApiError> {
    state.pipeline.forget(account_id);
    let current = load(state, account_id).await?;
    if current.token.generation != used_generation {
        if let Some(refusal) = needs_person(&current.diagnosis) {
            return Err(refusal);
        }
        return Ok(current.token);
    }
    let result = state.engine.refresh(state, account_id, actor, None).await;
    state.pipeline.forget(account_id);
    match result {
        Ok(Refreshed::Saved { .. } | Refreshed::LostRace { .. } | Refreshed::NotDue { .. }) => {
            let current = load(state, account_id).await?;
            if let Some(refusal) = needs_person(&current.diagnosis) {
                return Err(refusal);
            }
            if current.token.generation == used_generation {
                // The other writer failed too: nothing fresh to retry with.
                return Err(unavailable(Cause::XUnavailable, None));
            }
            Ok(current.token)
        }
        Ok(Refreshed::Failed { cause, retry_at }) => {
            let current = load(state, account_id).await?;
            match (needs_person(&current.diagnosis), fate(cause)) {
                (Some(refusal), _) => Err(refusal),
                (None, Fate::Hold) => Err(ApiError::NeedsPerson {
                    cause,
                    who: cause.who(),
                    action: Some(Action::Reconnect),
                    detail: cause.describe().to_owned(),
                }),
                (None, Fate::Retryable) => Err(unavailable(cause, retry_at)),
            }
        }
        Err(e) => Err(shared(e)),
    }
}
