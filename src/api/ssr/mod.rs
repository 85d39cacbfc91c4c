//! Server-side helpers of the server functions: the state, and the views
//! they build from repository rows.

pub mod views;

use crate::server::AppState;
use leptos::prelude::*;

/// The application state, provided to every server function by the router.
pub fn state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("application state missing"))
}

/// Logs a server-side failure in full and gives the page a sentence that
/// leaks nothing internal.
pub fn internal(context: &str, error: impl std::fmt::Display) -> ServerFnError {
    tracing::error!(error = %error, "{context}");
    ServerFnError::new(format!("{context}: an internal error occurred; it has been logged"))
}
