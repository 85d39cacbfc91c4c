//! Times on the page: relative for reading, exact UTC on hover. Rendered by
//! the server; the [`Live`](super::live::Live) island keeps them current.

use crate::app::format::{duration, expiry_countdown, expiry_in, life_style, relative, utc};
use leptos::prelude::*;

/// `12 min ago` (relative to `now`, the server's clock when the page was
/// made), with the exact UTC time as its title.
#[component]
pub fn Ago(now: i64, at: i64) -> impl IntoView {
    view! { <time title=utc(at) data-ago=at>{relative(now, at)}</time> }
}

/// How long ago a token was issued: `1 h 05 min`.
#[component]
pub fn Age(now: i64, issued_at: i64) -> impl IntoView {
    view! { <span title=format!("issued {}", utc(issued_at)) data-age=issued_at>{duration(now - issued_at)}</span> }
}

/// The countdown to a token's expiry, to the second, or how long ago it expired.
#[component]
pub fn Countdown(now: i64, expires_at: i64) -> impl IntoView {
    view! {
        <span class="countdown" title=format!("expires {}", utc(expires_at)) data-countdown=expires_at>
            {expiry_countdown(now, expires_at)}
        </span>
    }
}

/// `in 1 h 05 min`, or `expired 3 min ago`.
#[component]
pub fn Expires(now: i64, expires_at: i64) -> impl IntoView {
    view! {
        <span title=utc(expires_at) data-expires=expires_at>
            {expiry_in(now, expires_at)}
        </span>
    }
}

/// A bar of how much of a token's life is used.
#[component]
pub fn LifeBar(now: i64, issued_at: i64, expires_at: i64) -> impl IntoView {
    view! {
        <span class="life" aria-hidden="true">
            <span class="used" style=life_style(now, issued_at, expires_at) data-life-from=issued_at data-life-to=expires_at></span>
        </span>
    }
}
