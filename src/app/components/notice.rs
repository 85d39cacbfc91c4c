//! The result of the last action a form posted (Refresh now, Revoke, ...),
//! once, at the top of the page it was posted from.

use crate::api::take_notice;
use leptos::prelude::*;

#[component]
pub fn NoticeView() -> impl IntoView {
    let notice = Resource::new(|| (), |_| take_notice());
    view! {
        <Suspense fallback=|| ()>
            {move || notice.get().and_then(Result::ok).flatten().map(|n| if n.ok {
                view! { <p class="notice ok action-result" role="status">{n.message}</p> }.into_any()
            } else {
                view! { <p class="notice problem action-result" role="alert">{n.message}</p> }.into_any()
            })}
        </Suspense>
    }
}
