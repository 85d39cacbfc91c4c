//! The posts the pipeline API holds for an account, oldest first, with a
//! button to publish them now and one per post to discard it — for those
//! who may act on the account.

use crate::api::held::{load_held_posts, DiscardHeldPost, ReleaseHeldPosts};
use crate::app::format::utc;
use leptos::prelude::*;

#[component]
pub fn HeldPosts(account_id: String, can_act: bool) -> impl IntoView {
    let release = ServerAction::<ReleaseHeldPosts>::new();
    let discard = ServerAction::<DiscardHeldPost>::new();
    let id = account_id.clone();
    let posts = Resource::new(
        move || (id.clone(), release.version().get(), discard.version().get()),
        |(id, _, _)| load_held_posts(id),
    );
    let message = move || {
        let latest = if release.version().get() >= discard.version().get() {
            release.value().get()
        } else {
            discard.value().get()
        };
        latest.map(|r| r.unwrap_or_else(|e| e.to_string()))
    };
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading held posts…"</p> }>
            {move || posts.get().map(|result| match result {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(held) if held.is_empty() => view! { <p class="muted">"None: nothing is waiting to be published."</p> }.into_any(),
                Ok(held) => {
                    let id = account_id.clone();
                    let account = account_id.clone();
                    view! {
                        <ol class="held-posts">
                            {held.into_iter().map(|p| {
                                let (account_id, post_id) = (account.clone(), p.id);
                                view! {
                                    <li data-held-post=p.id>
                                        <q>{p.text}</q>
                                        <span class="muted">" held since " {utc(p.held_since)} ". " {p.reason}</span>
                                        {can_act.then(|| view! {
                                            " "
                                            <button type="button" class="small discard" data-discard=post_id disabled=move || discard.pending().get()
                                                on:click=move |_| { discard.dispatch(DiscardHeldPost { account_id: account_id.clone(), post_id }); }>
                                                "Discard"
                                            </button>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                        {if can_act {
                            view! {
                                <div class="actions">
                                    <button type="button" disabled=move || release.pending().get()
                                        on:click=move |_| { release.dispatch(ReleaseHeldPosts { account_id: id.clone() }); }>
                                        "Publish held posts now"
                                    </button>
                                    <span class="action-result" role="status">{message}</span>
                                </div>
                            }.into_any()
                        } else {
                            view! {
                                <p class="muted">"Only this account's owner, its backup owner or an admin can publish or discard held posts."</p>
                            }.into_any()
                        }}
                    }.into_any()
                }
            })}
        </Transition>
    }
    // Erased: the pages that include this stay under the browser build's type-depth limit.
    .into_any()
}
