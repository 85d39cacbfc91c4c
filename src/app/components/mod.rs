//! Pieces shared by several pages.

pub mod api_keys;
pub mod badge;
pub mod copy;
pub mod flash;
pub mod header;
pub mod held_posts;
pub mod live;
pub mod not_found;
pub mod notice;
pub mod time;
pub mod warnings;
