//! The types server functions hand to the pages. Made for display: plain
//! values, no secrets (a type here must never hold a token or ciphertext).

use serde::{Deserialize, Serialize};

/// Facts about this authwatch instance for the page header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppInfo {
    /// e.g. production, staging, demo.
    pub environment: String,
    /// Running against the built-in X emulator.
    pub demo: bool,
    pub version: String,
}
