//! Pure domain decisions over plain data: no database, no network, no clock
//! of their own (the time is an argument). Compiled for the server and the
//! browser, so the pages and the engine share one meaning of every state.

pub mod classify;
pub mod health;
pub mod pipeline;
pub mod scopes;
pub mod access;
pub mod prompts;
pub mod redirect;
pub mod verdict;
pub mod checks;
pub mod incidents;
pub mod spelling;
pub mod timeline;
pub mod format;
