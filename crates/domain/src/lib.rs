//! Pure domain decisions over plain data: no database, no network, no clock
//! of their own (the time is an argument). Compiled for the server and the
//! browser, so the pages and the engine share one meaning of every state.

pub mod access;
pub mod checks;
pub mod classify;
pub mod flow;
pub mod format;
pub mod health;
pub mod incidents;
pub mod pipeline;
pub mod prompts;
pub mod redirect;
pub mod scopes;
pub mod spelling;
pub mod timeline;
pub mod verdict;
