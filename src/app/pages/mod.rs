//! One module per page.

pub mod account;
pub mod connect;
pub mod dashboard;
pub mod people;
pub mod settings;
