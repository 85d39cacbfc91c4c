//! The pipeline API's keys on the settings page (admins): the list, a form
//! to create one — its key shown once — and revoking.

use crate::api::api_keys::{load_api_keys, CreateApiKey, RevokeApiKey};
use crate::app::components::copy::CopyButton;
use crate::app::components::live::page_changes_after;
use crate::app::format::utc;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[component]
pub fn ApiKeys() -> impl IntoView {
    let keys = Resource::new(|| (), |_| load_api_keys());
    view! {
        <section class="api-keys">
            <h2>"Pipeline API keys"</h2>
            <p class="muted">"Programs call " <code>"/api/v1"</code> " with " <code>"Authorization: Bearer <key>"</code> ". Only a hash of each key is kept; the key is shown once, when it is created."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading keys…"</p> }>
                {move || keys.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No keys yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="api-key-list">
                            <thead><tr><th>"Name"</th><th>"Key"</th><th>"Accounts"</th><th>"Created"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|k| {
                                    let row_id = k.id.clone();
                                    let key_id = k.id.clone();
                                    view! {
                                        <tr data-key-id=row_id class=if k.revoked { "revoked" } else { "" }>
                                            <td>{k.name}</td>
                                            <td><code>{k.prefix} "…"</code> " " <span class="muted">{k.id}</span></td>
                                            <td>{k.scope}</td>
                                            <td>{utc(k.created_at)} " by " {k.created_by}</td>
                                            <td>{if k.revoked {
                                                view! { "revoked" }.into_any()
                                            } else {
                                                view! {
                                                    <form method="post" action=RevokeApiKey::url() class="inline" data-live-post>
                                                        <input type="hidden" name="id" value=key_id/>
                                                        <button type="submit" class="small">"Revoke"</button>
                                                    </form>
                                                }.into_any()
                                            }}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
            <h3>"Create a key"</h3>
            <div id="new-api-key" data-live-keep>
                <NewApiKeyForm/>
            </div>
        </section>
    }
    // Erased: the pages that include this stay under the type-depth limit.
    .into_any()
}

/// Creating a key: the key is a secret shown once, so it lives in the
/// browser alone (an island), never in a page the server sends again.
/// Without the wasm the form still posts, and the key is shown on a page of
/// its own.
#[island]
fn NewApiKeyForm() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    page_changes_after(create);
    view! {
        <ActionForm action=create attr:class="stacked">
            <label>"Name (what will use it)" <input type="text" name="name" required maxlength="100"/></label>
            <label>"Account ids, separated by spaces (empty: every account)" <input type="text" name="accounts"/></label>
            <button type="submit">"Create"</button>
        </ActionForm>
        {move || create.value().get().map(|r| match r {
            Ok(created) => view! {
                <div class="new-key" role="status">
                    <p><strong>"Copy this key now: it will not be shown again."</strong></p>
                    <code class="secret">{created.key.clone()}</code> " " <CopyButton text=created.key/>
                    <p class="muted">"Key id " {created.id}</p>
                </div>
            }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
    }
}
