//! The one-time result of a connect, reconnect or action, with the way forward.

use crate::api::dto::{Flash, FlashKind};
use leptos::prelude::*;

/// A result message, with the way forward.
#[component]
pub fn FlashView(flash: Flash) -> impl IntoView {
    let class = match flash.kind {
        FlashKind::Success => "flash success",
        FlashKind::Warning => "flash warning",
        FlashKind::Problem => "flash problem",
    };
    view! {
        <div data-live-once class=class role=if flash.kind == FlashKind::Success { "status" } else { "alert" }>
            <h2>{flash.title}</h2>
            <p>{flash.message}</p>
            <p class="links">
                {flash.retry_account.map(|id| view! { <a class="button" href=format!("/accounts/{id}/reconnect")>"Try again"</a> " " })}
                {flash.account_id.map(|id| view! { <a href=format!("/accounts/{id}")>"Open the account"</a> " · " })}
                <a href="/">"All accounts"</a>
            </p>
        </div>
    }
}
