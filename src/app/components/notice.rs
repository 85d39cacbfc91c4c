//! The result of the last action a form posted (Refresh now, Revoke, ...),
//! once, at the top of the page it was posted from.

use crate::api::take_notice;
use leptos::prelude::*;

#[component]
pub fn NoticeView() -> impl IntoView {
    let notice = Resource::new(|| (), |_| take_notice());
    view! {
        <Suspense fallback=|| ()>
            {move || notice.get().and_then(Result::ok).flatten().map(|n| {
                let (class, role) = if n.ok { ("notice ok action-result", "status") } else { ("notice problem action-result", "alert") };
                // Shown once: a page the Live island fetches again keeps it.
                view! { <p data-live-once class=class role=role>{n.message}</p> }
            })}
        </Suspense>
    }
}
