//! The posts the pipeline API holds for an account, oldest first, with a
//! button to publish them now and one per post to discard it — for those
//! who may act on the account. Each button is a form that posts.

use crate::api::held::{load_held_posts, DiscardHeldPost, ReleaseHeldPosts};
use crate::app::format::utc;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[component]
pub fn HeldPosts(account_id: String, can_act: bool) -> impl IntoView {
    let id = account_id.clone();
    let posts = Resource::new(|| (), move |_| load_held_posts(id.clone()));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading held posts…"</p> }>
            {move || posts.get().map(|result| match result {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(held) if held.is_empty() => view! { <p class="muted">"None: nothing is waiting to be published."</p> }.into_any(),
                Ok(held) => {
                    let account = account_id.clone();
                    view! {
                        <ol class="held-posts">
                            {held.into_iter().map(|p| {
                                let (account_id, post_id) = (account.clone(), p.id.to_string());
                                view! {
                                    <li data-held-post=p.id>
                                        <q>{p.text}</q>
                                        <span class="muted">" held since " {utc(p.held_since)} ". " {p.reason}</span>
                                        {can_act.then(|| view! {
                                            " "
                                            <form method="post" action=DiscardHeldPost::url() class="inline" data-live-post>
                                                <input type="hidden" name="account_id" value=account_id/>
                                                <input type="hidden" name="post_id" value=post_id.clone()/>
                                                <button type="submit" class="small discard" data-discard=post_id>"Discard"</button>
                                            </form>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                        {if can_act {
                            view! {
                                <div class="actions">
                                    <form method="post" action=ReleaseHeldPosts::url() class="inline" data-live-post>
                                        <input type="hidden" name="account_id" value=account.clone()/>
                                        <button type="submit">"Publish held posts now"</button>
                                    </form>
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
        </Suspense>
    }
    .into_any()
}
