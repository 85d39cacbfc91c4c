//! Pieces shared by several pages.

pub mod badge;
pub mod header;
pub mod live;
pub mod time;
