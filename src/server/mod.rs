//! Server-only code: configuration, the database, the X client, the token
//! lifecycle, the prompts, the pipeline API, demo mode, and ([`web`]) the
//! start-up and the HTTP router that serve it all.

pub mod assets;
pub mod auth;
pub mod auth_x;
pub mod changes;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod forms;
pub mod health;
pub mod lifecycle;
pub mod links;
pub mod listen;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod probe;
pub mod secret;
pub mod snapshot;
pub mod state;
pub mod web;
pub mod x;

pub use state::AppState;
