//! The emulator's integration tests, one binary: each module drives a real
//! emulator on a random port over real HTTP, through the shared harness.

mod harness;

mod api;
mod control;
mod oauth;
mod oauth1;
mod refusals;
