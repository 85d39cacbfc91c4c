//! authwatch keeps social accounts' X (Twitter) OAuth connections alive.
//!
//! The tree shows the layers:
//! - [`app`]: the pages and components (compiled for the server and the browser);
//! - [`api`]: server functions and the DTOs they exchange with the pages;
//! - [`domain`]: pure decisions over plain data (health, scopes), no I/O
//!   (the `authwatch-domain` crate, `crates/domain`);
//! - `server`: server-only code — configuration, database, X client, token lifecycle;
//! - `emulator`: an emulator of X's OAuth 2.0 and v2 API, for tests and demo mode
//!   (the `authwatch-emulator` crate, `crates/emulator`).

pub mod api;
pub mod app;
pub use authwatch_domain as domain;

#[cfg(feature = "ssr")]
pub use authwatch_emulator as emulator;
#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the browser bundle: the page is the server's; this makes
/// its islands (the `#[island]` components) live, each where it stands.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
