//! The posts the pipeline API holds for an account, oldest first, with a
//! button to publish them now.

use crate::api::held::{load_held_posts, ReleaseHeldPosts};
use crate::app::format::utc;
use leptos::prelude::*;

#[component]
pub fn HeldPosts(account_id: String) -> impl IntoView {
    let release = ServerAction::<ReleaseHeldPosts>::new();
    let id = account_id.clone();
    let posts = Resource::new(move || (id.clone(), release.version().get()), |(id, _)| load_held_posts(id));
    let message = move || release.value().get().map(|r| r.unwrap_or_else(|e| e.to_string()));
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading held posts…"</p> }>
            {move || posts.get().map(|result| match result {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(held) if held.is_empty() => view! { <p class="muted">"None: nothing is waiting to be published."</p> }.into_any(),
                Ok(held) => {
                    let id = account_id.clone();
                    view! {
                        <ol class="held-posts">
                            {held.into_iter().map(|p| view! {
                                <li data-held-post=p.id>
                                    <q>{p.text}</q>
                                    <span class="muted">" held since " {utc(p.held_since)} ". " {p.reason}</span>
                                </li>
                            }).collect_view()}
                        </ol>
                        <div class="actions">
                            <button type="button" disabled=move || release.pending().get()
                                on:click=move |_| { release.dispatch(ReleaseHeldPosts { account_id: id.clone() }); }>
                                "Publish held posts now"
                            </button>
                            <span class="action-result" role="status">{message}</span>
                        </div>
                    }.into_any()
                }
            })}
        </Transition>
    }
    // Erased: the pages that include this stay under the browser build's type-depth limit.
    .into_any()
}
