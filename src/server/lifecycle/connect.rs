//! Finishing a connect or reconnect: exchange the code, ask X whose token it
//! is, and only then save — or refuse.

use super::observe_clock;
use crate::domain::access::{decide, AccountOwners, Decision, Permission, Principal};
use crate::server::db::accounts::{self, Connected, NewAccount, TokenGrant, TokenStoreError};
use crate::server::db::{apps, users};
use crate::server::secret::Secret;
use crate::server::x::oauth1::UserToken;
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
    /// Signed in to X as someone else: nothing was saved, and the new
    /// token was revoked (OAuth 2.0) or dropped (OAuth 1.0a, whose tokens X
    /// offers no revocation for in the API authwatch uses).
    WrongAccount {
        signed_in_as: String,
        expected: String,
        revoked: bool,
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
    let issued_at = granted.received_at;
    let expires_at =
        issued_at + i64::try_from(granted.expires_in.min(Duration::from_secs(86_400 * 365)).as_millis()).unwrap_or(0);
    let access = granted.access.clone();
    let grant = TokenGrant::new(granted.access, granted.refresh, granted.scopes, issued_at, expires_at)?;
    save_checked(state, me.user, grant, intent, actor, owner, Discard::Revoke(&access)).await
}

/// The OAuth 1.0a counterpart of [`complete`]: trades the approved request
/// token and the callback's verifier for the user's token and secret, asks
/// X whose token it is with a signed `users/me`, and only then saves — under
/// the same rules as OAuth 2.0.
pub async fn complete_oauth1(
    state: &AppState,
    request_token: &str,
    request_secret: &Secret,
    verifier: &str,
    intent: &Intent,
    actor: &str,
    owner: Option<&str>,
) -> Result<Completed, ConnectError> {
    let granted =
        state.x.access_token(request_token, request_secret, verifier).await.map_err(ConnectError::Exchange)?;
    observe_clock(state, granted.clock_offset_ms, granted.received_at).await;
    let client_id = &state.x.app().client_id;
    // X answered a call signed with the consumer key: the key works.
    if let Err(e) = apps::consumer_key_accepted(&state.pool, client_id).await {
        tracing::warn!(error = %e, "could not clear the consumer key incident");
    }
    let user_token = UserToken { token: &granted.token, secret: &granted.secret };
    let me = state.x.users_me_oauth1(user_token).await.map_err(ConnectError::Identify)?;
    // The exchange names the user too: an answer that disagrees with
    // users/me is not one to save a token on.
    if me.user.id != granted.user_id {
        return Err(ConnectError::Identify(XError::Malformed(format!(
            "X's access token answer named user {} but users/me answered @{}",
            granted.user_id, me.user.username
        ))));
    }
    let grant = TokenGrant::oauth1(granted.token, granted.secret, granted.scopes, granted.received_at)?;
    save_checked(state, me.user, grant, intent, actor, owner, Discard::Drop).await
}

/// What to do with a token that will not be kept.
enum Discard<'a> {
    /// Revoke it at X (OAuth 2.0).
    Revoke(&'a Secret),
    /// Drop it: nothing is saved, nothing at X changes.
    Drop,
}

impl Discard<'_> {
    async fn run(&self, state: &AppState) -> bool {
        match self {
            Discard::Revoke(token) => {
                revoke(state, token).await;
                true
            }
            Discard::Drop => false,
        }
    }
}

/// Saves `grant` for X user `user` if `intent` allows it: a reconnect must
/// come back as the same X user, and a connect of a watched account is a
/// reconnect the connecting user must be allowed to make.
async fn save_checked(
    state: &AppState,
    user: XUser,
    grant: TokenGrant,
    intent: &Intent,
    actor: &str,
    owner: Option<&str>,
    discard: Discard<'_>,
) -> Result<Completed, ConnectError> {
    let client_id = &state.x.app().client_id;
    match intent {
        Intent::Reconnect { x_user_id, handle, account_id } => {
            if &user.id != x_user_id {
                tracing::warn!(account_id, expected = %handle, signed_in_as = %user.username, "reconnect refused: another X account");
                // Leave no grant behind for the wrong account.
                let revoked = discard.run(state).await;
                return Ok(Completed::WrongAccount { signed_in_as: user.username, expected: handle.clone(), revoked });
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
                discard.run(state).await;
                return Err(refused);
            }
        }
    }

    let issued_at = grant.issued_at;
    let missing = grant.scopes.missing_from(&grant.required(&state.x.app().required_scopes));
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
