//! Finishing a connect or reconnect: exchange the code, ask X whose token it
//! is, and only then save — or refuse.

use super::observe_clock;
use crate::server::db::accounts::{self, Connected, NewAccount, TokenGrant, TokenStoreError};
use crate::server::db::apps;
use crate::server::secret::Secret;
use crate::server::x::{XError, XUser};
use crate::server::AppState;
use std::time::Duration;

/// What the person set out to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Connect an account authwatch does not watch yet (or, if it does, reconnect it).
    NewAccount,
    /// Reconnect this account: X must answer with this same user.
    Reconnect { account_id: String, x_user_id: String, handle: String },
}

/// How a connect ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Saved { connected: Connected, handle: String, missing_scopes: Vec<String> },
    /// Signed in to X as someone else: nothing was saved and the new token was revoked.
    WrongAccount { signed_in_as: String, expected: String },
}

/// Why a connect failed. No stored token changed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("X refused the authorization code: {0}")]
    Exchange(XError),
    #[error("X did not say whose account this is: {0}")]
    Identify(XError),
    #[error(transparent)]
    Store(#[from] TokenStoreError),
}

/// Exchanges `code`, identifies the X user with the new token, and saves the
/// grant as `intent` allows. `actor` is who started it, for the timeline;
/// `owner`, the dashboard user who did, owns a newly connected account.
pub async fn complete(
    state: &AppState,
    code: &str,
    verifier: &Secret,
    intent: &Intent,
    actor: &str,
    owner: Option<&str>,
) -> Result<Outcome, ConnectError> {
    let granted = state.x.exchange_code(code, verifier).await.map_err(ConnectError::Exchange)?;
    observe_clock(state, granted.clock_offset_ms, granted.received_at).await;
    let client_id = &state.x.app().client_id;
    // A token came back, so the app's credentials work.
    if let Err(e) = apps::credentials_accepted(&state.pool, client_id).await {
        tracing::warn!(error = %e, "could not clear the app credentials incident");
    }
    let me = state.x.users_me(&granted.access).await.map_err(ConnectError::Identify)?;
    let user: XUser = me.user;

    if let Intent::Reconnect { x_user_id, handle, account_id } = intent {
        if &user.id != x_user_id {
            tracing::warn!(account_id, expected = %handle, signed_in_as = %user.username, "reconnect refused: another X account");
            // Leave no grant behind for the wrong account.
            if let Err(e) = state.x.revoke(&granted.access).await {
                tracing::warn!(error = %e, "could not revoke the wrong account's token");
            }
            return Ok(Outcome::WrongAccount { signed_in_as: user.username, expected: handle.clone() });
        }
    }

    let issued_at = granted.received_at;
    let expires_at = issued_at + i64::try_from(granted.expires_in.min(Duration::from_secs(86_400 * 365)).as_millis()).unwrap_or(0);
    let missing = granted.scopes.missing_from(&state.x.app().required_scopes);
    let grant = TokenGrant::new(granted.access, granted.refresh, granted.scopes, issued_at, expires_at)?;
    let account = NewAccount {
        x_user_id: user.id,
        handle: user.username.clone(),
        display_name: user.name,
        client_id: client_id.clone(),
    };
    let connected = accounts::connect(&state.pool, &state.keyring, &account, &grant, actor, owner, issued_at).await?;
    tracing::info!(account_id = %connected.account_id, generation = connected.generation, reconnected = connected.reconnected, "account connected");
    // The reconnect that healed the account closes its prompt in the same
    // request: the next page shows no "needs you" for a healthy account.
    if let Err(e) = crate::server::notify::settle_account(state, &connected.account_id, issued_at).await {
        tracing::warn!(account_id = %connected.account_id, error = %e, "could not close the reconnected account's prompt");
    }
    // Posts held while the account needed a person can go out now.
    crate::server::pipeline::after_reconnect(state, &connected.account_id);
    Ok(Outcome::Saved { connected, handle: user.username, missing_scopes: missing })
}
