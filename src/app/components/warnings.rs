//! App-level problems, shown once above the accounts they affect.

use crate::domain::health::AppWarning;
use leptos::prelude::*;

/// App-level problems, once above every account.
#[component]
pub fn Warnings(warnings: Vec<AppWarning>) -> impl IntoView {
    warnings
        .into_iter()
        .map(|w| view! { <p class="warning app-warning" role="alert" data-cause=w.cause.as_str()>{w.message}</p> })
        .collect_view()
}
