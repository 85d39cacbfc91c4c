//! Server functions: the API between the pages and the server. They check
//! who is asking, validate, call server-only code, and return DTOs made for
//! the page — never database rows, never a token.

pub mod dto;
pub mod held;
#[cfg(feature = "ssr")]
mod ssr;

use dto::*;
use leptos::prelude::*;

/// What every page's header shows: the environment, and whether this is demo mode.
#[server]
pub async fn instance_info() -> Result<AppInfo, ServerFnError> {
    let state = ssr::state()?;
    Ok(AppInfo {
        environment: state.config.environment.clone(),
        demo: state.config.is_demo(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// The dashboard: every account's health, filtered, searched and paged.
#[server]
pub async fn load_dashboard(query: DashboardQuery) -> Result<Dashboard, ServerFnError> {
    if query.search.len() > 200 {
        return Err(ServerFnError::new("The search is too long: 200 characters at most."));
    }
    let state = ssr::state()?;
    ssr::views::dashboard(&state, &query).await.map_err(|e| ssr::internal("Loading the accounts failed", e))
}

/// One account's page. `Ok(None)` for an unknown id: the page shows a 404.
#[server]
pub async fn load_account(id: String) -> Result<Option<AccountDetail>, ServerFnError> {
    if id.len() > 64 {
        return Ok(None);
    }
    let state = ssr::state()?;
    ssr::views::account(&state, &id).await.map_err(|e| ssr::internal("Loading the account failed", e))
}

/// The X app configuration as authwatch runs with it.
#[server]
pub async fn load_settings() -> Result<SettingsView, ServerFnError> {
    let state = ssr::state()?;
    Ok(ssr::views::settings(&state))
}

/// Refreshes an account's tokens now. Answers what happened, in words.
#[server]
pub async fn refresh_now(id: String) -> Result<String, ServerFnError> {
    use crate::server::lifecycle::refresh::Refreshed;
    use crate::server::lifecycle::AccountError;
    let state = ssr::state()?;
    match state.engine.refresh(&state, &id, "dashboard", None).await {
        Ok(Refreshed::Saved { generation }) => Ok(format!("Refreshed: generation {generation} saved.")),
        Ok(Refreshed::LostRace { generation }) => {
            Ok(format!("Another refresh saved generation {generation} first; its tokens stand."))
        }
        Ok(Refreshed::NotDue { generation }) => Ok(format!("Generation {generation} is not due yet.")),
        Ok(Refreshed::Failed { cause, .. }) => Ok(format!("Refresh failed. {}", cause.describe())),
        Err(e) if matches!(*e, AccountError::UnknownAccount(_)) => Err(ServerFnError::new("No such account.")),
        Err(e) => Err(ssr::internal("The refresh could not be recorded", e)),
    }
}

/// Checks an account against X now (`GET /2/users/me`).
#[server]
pub async fn check_now(id: String) -> Result<String, ServerFnError> {
    use crate::server::lifecycle::check::{check, Checked, Proof};
    use crate::server::lifecycle::AccountError;
    let state = ssr::state()?;
    match check(&state, &id, "dashboard", Proof::AskX).await {
        Ok(Checked::Alive) => Ok("X confirmed the token works.".to_owned()),
        Ok(Checked::Failed { cause }) => Ok(format!("Check failed. {}", cause.describe())),
        Err(AccountError::UnknownAccount(_)) => Err(ServerFnError::new("No such account.")),
        Err(e) => Err(ssr::internal("The check could not be recorded", e)),
    }
}

/// Demo mode only: makes something go wrong at the emulator, as it would at X.
#[server]
pub async fn run_demo_action(action: DemoAction, account_id: Option<String>) -> Result<String, ServerFnError> {
    use crate::server::db::accounts;
    use crate::server::demo::{CLIENT_ID, CLOCK_SKEW_SECS};
    let state = ssr::state()?;
    let Some(emulator) = &state.emulator else {
        return Err(ServerFnError::new("The demo panel only works in demo mode."));
    };
    let x_user = match &account_id {
        Some(id) => Some(
            accounts::summary(&state.pool, id)
                .await
                .map_err(|e| ssr::internal("Loading the account failed", e))?
                .ok_or_else(|| ServerFnError::new("No such account."))?,
        ),
        None => None,
    };
    let need_account = || x_user.as_ref().ok_or_else(|| ServerFnError::new("Pick an account first."));
    Ok(match action {
        DemoAction::RevokeGrant => {
            let a = need_account()?;
            emulator.revoke_grant(CLIENT_ID, &a.x_user_id);
            format!("@{} disconnected authwatch in X's settings. Check or refresh it to see authwatch notice.", a.handle)
        }
        DemoAction::ExpireToken => {
            let a = need_account()?;
            emulator.expire_access_tokens(CLIENT_ID, Some(&a.x_user_id));
            format!("X expired @{}'s access token. Its refresh token still works.", a.handle)
        }
        DemoAction::RotateAppSecret => {
            emulator.set_client_secret(CLIENT_ID, "rotated-at-x-by-the-demo");
            "X now expects a new client secret; authwatch still has the old one. The next refresh shows one app-level incident.".to_owned()
        }
        DemoAction::SkewClock => {
            emulator.set_clock_offset(CLOCK_SKEW_SECS);
            format!("X's clock now runs {CLOCK_SKEW_SECS} s ahead of this server's. The next answer from X measures it.")
        }
    })
}

/// The result of the last connect or reconnect, once: reading it removes it.
#[server]
pub async fn take_flash() -> Result<Option<Flash>, ServerFnError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    let flash: Option<Flash> = session
        .remove(crate::server::auth_x::FLASH)
        .await
        .map_err(|e| ssr::internal("Reading the session failed", e))?;
    Ok(flash)
}

/// What to tell the person before sending them to X to reconnect `id`.
#[server]
pub async fn load_reconnect_brief(id: String) -> Result<Option<ReconnectBrief>, ServerFnError> {
    let state = ssr::state()?;
    let Some(a) = crate::server::db::accounts::summary(&state.pool, &id)
        .await
        .map_err(|e| ssr::internal("Loading the account failed", e))?
    else {
        return Ok(None);
    };
    Ok(Some(ReconnectBrief {
        account_id: a.id,
        handle: a.handle,
        name: a.display_name,
        required_scopes: state.x.app().required_scopes.iter().map(str::to_owned).collect(),
    }))
}
