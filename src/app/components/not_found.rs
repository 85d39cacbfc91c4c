//! The page for a URL that names nothing.

use crate::app::status::set_status;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    set_status(404);
    view! {
        <section class="not-found">
            <h1>"Not found"</h1>
            <p>"There is no page at this address. " <a href="/">"Back to the accounts"</a></p>
        </section>
    }
}
