//! Times on the page: relative for reading, exact UTC on hover.

use crate::app::format::{relative, utc};
use leptos::prelude::*;

/// `12 min ago`, with the exact UTC time as its title.
#[component]
pub fn Ago(#[prop(into)] now: Signal<i64>, at: i64) -> impl IntoView {
    view! { <time title=utc(at)>{move || relative(now.get(), at)}</time> }
}
