//! Server functions: the API between the pages and the server. They check
//! who is asking, validate, call server-only code, and return DTOs made for
//! the page — never database rows, never a token.

pub mod dto;
#[cfg(feature = "ssr")]
mod ssr;

use dto::AppInfo;
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
