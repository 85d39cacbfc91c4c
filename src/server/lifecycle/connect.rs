//! Finishing a connect or reconnect: exchange the code, ask X whose token it
//! is, and only then save — or refuse.

use super::observe_clock;
use crate::domain::access::{decide, AccountOwners, Decision, Permission, Principal};
use crate::server::db::accounts::{self, Connected, NewAccount, TokenGrant, TokenStoreError};
use crate::server::db::{apps, users};
use crate::server::secret::Secret;
use crate::server::x::{XError, XUser};
use crate::server::AppState;
use std::time::Duration;

/// What the person set out to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Connect an account authwatch does not watch yet — or, if it does,
    /// reconnect it, which the connecting user must be allowed to do.
    NewAccount,
    /// Reconnect this account: X must answer with this same user.
    Reconnect { account_id: String, x_user_id: String, handle: String },
}

/// How a connect ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    Saved {
        connected: Connected,
        handle: String,
        missing_scopes: Vec<String>,
    },
    /// Signed in to X as someone else: nothing was saved and the new token was revoked.
    WrongAccount {
        signed_in_as: String,
        expected: String,
    },
}

/// Why a connect failed. No stored token changed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("X refused the authorization code: {0}")]
    Exchange(XError),
    #[error("X did not say whose account this is: {0}")]
    Identify(XError),
    /// "Connect account" signed in to X as an account authwatch already
    /// watches, which the connecting user may not reconnect: nothing was
    /// saved and the new token was revoked.
    #[error("@{handle} is already connected, and only its owner, its backup owner or an admin can reconnect it")]
    NotAllowed { handle: String, owners: Vec<String> },
    #[error(transparent)]
    Store(#[from] TokenStoreError),
}

impl From<sqlx::Error> for ConnectError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(TokenStoreError::Database(e))
    }
}

/// Exchanges `code`, identifies the X user with the new token, and saves the
/// grant as `intent` allows. `actor` is who started it, for the timeline;
/// `owner`, the dashboard user who did, owns a newly connected account, and
/// must be allowed to reconnect the account when the X user turns out to be
/// connected already. `None` is authwatch itself (demo seeding, fixtures):
/// the browser flow always names the user for a new account.
///
/// The posts held for the account are the caller's to release
/// (`pipeline::after_reconnect`): the pipeline sits above the lifecycle.
pub async fn complete(
    state: &AppState,
    code: &str,
    verifier: &Secret,
    intent: &Intent,
    actor: &str,
    owner: Option<&str>,
) -> Result<Completed, ConnectError> {
    let granted = state.x.exchange_code(code, verifier).await.map_err(ConnectError::Exchange)?;
    observe_clock(state, granted.clock_offset_ms, granted.received_at).await;
    let client_id = &state.x.app().client_id;
    // A token came back, so the app's credentials work.
    if let Err(e) = apps::credentials_accepted(&state.pool, client_id).await {
        tracing::warn!(error = %e, "could not clear the app credentials incident");
    }
    let me = state.x.users_me(&granted.access).await.map_err(ConnectError::Identify)?;
    let user: XUser = me.user;

    match intent {
        Intent::Reconnect { x_user_id, handle, account_id } => {
            if &user.id != x_user_id {
                tracing::warn!(account_id, expected = %handle, signed_in_as = %user.username, "reconnect refused: another X account");
                // Leave no grant behind for the wrong account.
                revoke(state, &granted.access).await;
                return Ok(Completed::WrongAccount { signed_in_as: user.username, expected: handle.clone() });
            }
        }
        Intent::NewAccount => {
            // A known X user makes this a reconnect: the same rule as one
            // started from the account, or "Connect account" would let anyone
            // replace the tokens of an account they may not touch.
            if let Err(refused) = may_replace(state, &user.id, owner).await {
                if let ConnectError::NotAllowed { handle, .. } = &refused {
                    tracing::warn!(handle = %handle, user_id = owner.unwrap_or_default(), "connect refused: the account is connected and not theirs");
                }
                revoke(state, &granted.access).await;
                return Err(refused);
            }
        }
    }

    let issued_at = granted.received_at;
    let expires_at =
        issued_at + i64::try_from(granted.expires_in.min(Duration::from_secs(86_400 * 365)).as_millis()).unwrap_or(0);
    let missing = granted.scopes.missing_from(&state.x.app().required_scopes);
    let grant = TokenGrant::new(granted.access, granted.refresh, granted.scopes, issued_at, expires_at)?;
    let account = NewAccount {
        x_user_id: user.id,
        handle: user.username.clone(),
        display_name: user.name,
        client_id: client_id.clone(),
    };
    let connected =
        accounts::save_grant(&state.pool, &state.keyring, &account, &grant, actor, owner, issued_at).await?;
    tracing::info!(account_id = %connected.account_id, generation = connected.generation, reconnected = connected.reconnected, "account connected");
    // The reconnect that healed the account closes its prompt in the same
    // request: the next page shows no "needs you" for a healthy account.
    if let Err(e) = crate::server::notify::settle_account(state, &connected.account_id, issued_at).await {
        tracing::warn!(account_id = %connected.account_id, error = %e, "could not close the reconnected account's prompt");
    }
    Ok(Completed::Saved { connected, handle: user.username, missing_scopes: missing })
}

/// Whether `owner` may replace the tokens of X user `x_user_id` if authwatch
/// already watches it: allowed when it does not, or when they may reconnect it.
async fn may_replace(state: &AppState, x_user_id: &str, owner: Option<&str>) -> Result<(), ConnectError> {
    let Some(user_id) = owner else {
        return Ok(());
    };
    let Some(account_id) = accounts::id_by_x_user(&state.pool, x_user_id).await? else {
        return Ok(());
    };
    let Some(account) = accounts::summary(&state.pool, &account_id).await? else {
        return Ok(());
    };
    // The user as they are now: a role taken away while they were at X counts.
    let user = users::by_id(&state.pool, user_id).await?;
    let principal = match &user {
        Some(u) => Principal::User { id: &u.id, role: u.role },
        None => Principal::Anonymous,
    };
    let target = AccountOwners {
        id: &account.id,
        owner: account.owner_id.as_deref(),
        backup_owner: account.backup_owner_id.as_deref(),
    };
    match decide(principal, Permission::Reconnect(target)) {
        Decision::Allow => Ok(()),
        Decision::SignIn | Decision::Forbidden => Err(ConnectError::NotAllowed {
            handle: account.handle,
            owners: [account.owner_name, account.backup_owner_name].into_iter().flatten().collect(),
        }),
    }
}

/// Revokes a token we will not keep, so no grant is left behind at X.
async fn revoke(state: &AppState, token: &Secret) {
    if let Err(e) = state.x.revoke(token).await {
        tracing::warn!(error = %e, "could not revoke a token that was not kept");
    }
}
