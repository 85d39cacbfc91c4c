//! The integration tests, in one binary: a real authwatch over a real port,
//! a real SQLite file, the built-in X emulator over real HTTP. One module
//! per area; `support` starts the apps (`TestApp::builder()`) and holds the
//! helpers the areas share (the benchmarks use it too).
//!
//! `cargo test --features ssr --test it`; one area: `... --test it pipeline_api::`.

mod support;

mod access;
mod app_demo;
mod app_incidents;
mod callback;
mod connect_flow;
mod crash_recovery;
mod db_copy;
mod files;
mod forms;
mod hardening;
mod health;
mod links;
mod live;
mod notifications;
mod oauth1;
mod pipeline_api;
mod pipeline_broker;
mod pipeline_posts;
mod pipeline_reports;
mod refresh_engine;
mod replicas;
mod reseal;
mod serving;
mod shared_database;
mod sign_in;
mod ssr_streaming;
mod startup;
mod token_answers;
mod verdicts;
