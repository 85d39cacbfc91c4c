//! Server-side helpers shared by the server functions.

use crate::server::AppState;
use leptos::prelude::*;

/// The application state, provided to every server function by the router.
pub fn state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("application state missing"))
}
