//! `/accounts/:id`: what failed and since when, whether the refresh token
//! survived, the scopes, the retry and who must act, answered in sentences;
//! the current token (by fingerprint), the exact last X error, the timeline.
//! Rendered by the server and kept live by the [`Live`](crate::app::components::live::Live)
//! island; every button is a form that posts, with or without the wasm.

use crate::api::dto::{AccountDetail, AccountPeople, UserRef};
use crate::api::{load_account, AssignOwners, CheckNow, CreateReconnectLink, RefreshNow, RevokeReconnectLink};
use crate::app::components::badge::HealthBadge;
use crate::app::components::copy::CopyButton;
use crate::app::components::held_posts::HeldPosts;
use crate::app::components::live::{page_changes_after, LiveMode};
use crate::app::components::not_found::NotFound;
use crate::app::components::time::{Ago, Expires};
use crate::app::components::warnings::Warnings;
use crate::app::format::utc;
use crate::domain::health::{Action, Health};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AccountPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(|| (), move |_| load_account(id.clone()));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the account…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(Some(detail)) => view! { <Detail detail=detail/> }.into_any(),
                Ok(None) => view! { <NotFound/> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Detail(detail: AccountDetail) -> impl IntoView {
    let now = detail.now;
    let row = detail.row;
    let id = row.id.clone();
    let expires_at = row.expires_at;
    let people = detail.people.clone();
    view! {
        <section class="account" data-live-poll data-now=now>
            <p class="crumbs"><a href="/">"← All accounts"</a></p>
            <h1>"@" {row.handle.clone()} " " <span class="name">{row.name.clone()}</span></h1>
            <Warnings warnings=detail.warnings.clone()/>
            <div class="status">
                <HealthBadge health=row.health/>
                <span class="cause">{row.summary.clone()}</span>
            </div>
            <p class="next-step"><strong>"Next step: "</strong>{row.next_step.clone()}</p>
            <p class="auth-flow"><strong>"Connected with: "</strong>{row.flow.label()}</p>
            {row.advice.clone().map(|advice| view! { <p class="advice">{advice}</p> })}
            <p class="updated">"Updated " <Ago now=now at=now/> " · " <LiveMode/></p>
            {if people.can_act {
                view! {
                    <div class="actions">
                        {(row.health == Health::ActionNeeded(Action::Reconnect)).then(|| view! {
                            <a class="button" href=format!("/accounts/{}/reconnect", row.id)>"Reconnect"</a>
                        })}
                        {row.flow.expires().then(|| view! {
                            <form method="post" action=RefreshNow::url() class="inline" data-live-post>
                                <input type="hidden" name="id" value=id.clone()/>
                                <button type="submit">"Refresh now"</button>
                            </form>
                        })}
                        <form method="post" action=CheckNow::url() class="inline" data-live-post>
                            <input type="hidden" name="id" value=id/>
                            <button type="submit">"Check now"</button>
                        </form>
                    </div>
                    <p class="muted check-cost">
                        "Check now always asks X (GET /2/users/me), even when a refresh or publish proved the account alive today. X bills $0.010 per account and UTC day however often it is asked, so a second check today costs nothing more. The daily check asks only accounts nothing proved alive that day."
                    </p>
                }.into_any()
            } else {
                view! {
                    <p class="muted not-yours">"Only this account's owner, its backup owner or an admin can refresh or reconnect it."</p>
                }.into_any()
            }}
            <People account_id=row.id.clone() people=people.clone() now=now/>

            <h2>"Answers"</h2>
            <dl class="answers">
                {detail.answers.into_iter().map(|a| view! {
                    <div class=if a.ok { "answer ok" } else { "answer bad" }>
                        <dt>{a.question}</dt>
                        <dd>{a.answer}</dd>
                    </div>
                }).collect_view()}
            </dl>

            <h2>"Current token"</h2>
            <dl class="token">
                <dt>"Generation"</dt><dd>{row.generation}</dd>
                <dt>"Access token"</dt><dd><code>{detail.access_fingerprint}</code></dd>
                <dt>"Refresh token"</dt><dd><code>{detail.refresh_fingerprint.unwrap_or_else(|| "none".into())}</code></dd>
                <dt>"Issued"</dt><dd><Ago now=now at=row.issued_at/></dd>
                <dt>"Expires"</dt>
                <dd>{if row.flow.expires() {
                    view! { <Expires now=now expires_at=expires_at/> }.into_any()
                } else {
                    view! { <span class="never-expires">"does not expire (OAuth 1.0a)"</span> }.into_any()
                }}</dd>
                <dt>"Scopes"</dt>
                <dd>{row.scopes.into_iter().map(|s| view! {
                    <span class=if s.missing { "scope missing" } else { "scope" }>{s.name}</span>
                }).collect_view()}</dd>
                <dt>"X user id"</dt><dd><code>{detail.x_user_id}</code></dd>
                <dt>"Connected"</dt><dd><Ago now=now at=detail.connected_at/></dd>
            </dl>

            <h2>"Last error from X"</h2>
            {match detail.last_error {
                None => view! { <p class="muted">"None: no open incident."</p> }.into_any(),
                Some(e) => view! {
                    <div class="x-error">
                        <p>{e.cause} " HTTP " {e.status.map(|s| s.to_string()).unwrap_or_else(|| "—".into())} ", " <Ago now=now at=e.at/> " (" {utc(e.at)} ")"</p>
                        <pre>{e.body}</pre>
                    </div>
                }.into_any(),
            }}

            <h2>"Held posts"</h2>
            <HeldPosts account_id=row.id.clone() can_act=people.can_act/>

            <h2>"Timeline"</h2>
            <table class="timeline">
                <thead><tr><th>"When"</th><th>"What"</th><th>"Outcome"</th><th>"Generation"</th><th>"By"</th><th>"Details"</th></tr></thead>
                <tbody>
                    {detail.events.into_iter().map(|e| {
                        let generation = match (e.generation_before, e.generation_after) {
                            (Some(b), Some(a)) if a != b => format!("{b} → {a}"),
                            (_, Some(a)) => a.to_string(),
                            (Some(b), None) => b.to_string(),
                            (None, None) => String::new(),
                        };
                        view! {
                            <tr class=format!("event {}", e.outcome.as_str())>
                                <td data-label="When"><Ago now=now at=e.at/></td>
                                <td data-label="What">{e.kind.as_str()}</td>
                                <td data-label="Outcome">{e.outcome.as_str()} {e.http_status.map(|s| format!(" (HTTP {s})"))}</td>
                                <td data-label="Generation">{generation}</td>
                                <td data-label="By">{e.actor}</td>
                                <td data-label="Details">
                                    {e.cause.map(|c| view! { <span class="cause">{c}</span> })}
                                    {e.detail.map(|d| view! { <span class="detail">{d}</span> })}
                                    {e.x_error.map(|x| view! { <pre class="x-body">{x}</pre> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    // Erased: the page's view type stays under the compiler's depth limit.
    .into_any()
}

/// Who owns the account, its open prompt, reconnect links, and (admins)
/// reassigning owners.
#[component]
fn People(account_id: String, people: AccountPeople, now: i64) -> impl IntoView {
    let name = |u: &Option<UserRef>| {
        u.as_ref().map(|u| u.name.clone()).unwrap_or_else(|| "nobody (the admins are asked)".into())
    };
    let owner_id = people.owner.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    let backup_id = people.backup_owner.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    let link_account = account_id.clone();
    view! {
        <h2>"People"</h2>
        <dl class="people">
            <dt>"Owner"</dt><dd class="owner">{name(&people.owner)}</dd>
            <dt>"Backup owner"</dt><dd class="backup-owner">{name(&people.backup_owner)}</dd>
            <dt>"Prompt"</dt>
            <dd class="prompt">{match people.prompt.clone() {
                None => view! { <span class="muted">"none open"</span> }.into_any(),
                Some(p) => view! {
                    <span>"Open since " <Ago now=now at=p.opened_at/>
                    {if p.escalated { ", escalated to the admins" } else { ", with the owners" }}</span>
                }.into_any(),
            }}</dd>
        </dl>
        {people.can_act.then(|| view! {
            <div class="links">
                <h3>"Reconnect link"</h3>
                <p class="muted">"For whoever holds the X login but has no dashboard user (a client, an agency). It works once and expires."</p>
                <div id="new-reconnect-link" data-live-keep>
                    <NewReconnectLink account_id=link_account/>
                </div>
                {(!people.links.is_empty()).then(|| view! {
                    <table class="link-list">
                        <thead><tr><th>"Link"</th><th>"Made by"</th><th>"Made"</th><th>"Status"</th><th></th></tr></thead>
                        <tbody>
                            {people.links.clone().into_iter().map(|l| {
                                let status = match l.used_at {
                                    Some(at) => format!("used {}", utc(at)),
                                    None => format!("until {}", utc(l.expires_at)),
                                };
                                let link_id = l.id.clone();
                                view! {
                                    <tr>
                                        <td data-label="Link"><code>{l.id}</code></td>
                                        <td data-label="Made by">{l.created_by.unwrap_or_default()}</td>
                                        <td data-label="Made"><Ago now=now at=l.created_at/></td>
                                        <td data-label="Status">{status}</td>
                                        <td>{l.open.then(|| view! {
                                            <form method="post" action=RevokeReconnectLink::url() class="inline" data-live-post>
                                                <input type="hidden" name="link_id" value=link_id/>
                                                <button type="submit" class="small">"Revoke"</button>
                                            </form>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
            </div>
        }.into_any())}
        {people.can_assign.then(|| {
            let options = move |selected: String| people.users.clone().into_iter().map(move |u| {
                let is = u.id == selected;
                view! { <option value=u.id selected=is>{u.name}</option> }
            }).collect_view();
            view! {
                <form method="post" action=AssignOwners::url() class="assign" data-live-post>
                    <input type="hidden" name="account_id" value=account_id.clone()/>
                    <label>"Owner "
                        <select name="owner"><option value="">"— nobody —"</option>{options(owner_id.clone())}</select>
                    </label>
                    <label>"Backup owner "
                        <select name="backup_owner"><option value="">"— nobody —"</option>{options(backup_id.clone())}</select>
                    </label>
                    <button type="submit">"Save owners"</button>
                </form>
            }.into_any()
        })}
    }
    .into_any()
}

/// Creating a reconnect link: the link is a secret shown once, so it lives
/// in the browser alone (an island), never in the page the server sends
/// again. Without the wasm the form still posts, and the link is shown on a
/// page of its own.
#[island]
fn NewReconnectLink(account_id: String) -> impl IntoView {
    let create = ServerAction::<CreateReconnectLink>::new();
    page_changes_after(create);
    view! {
        <ActionForm action=create attr:class="inline">
            <input type="hidden" name="account_id" value=account_id/>
            <button type="submit" disabled=move || create.pending().get()>"Create a reconnect link"</button>
        </ActionForm>
        {move || create.value().get().map(|r| match r {
            Ok(link) => view! {
                <div class="new-link" role="status">
                    <p>"Send this link now: it is shown only once. Valid until " {utc(link.expires_at)} "."</p>
                    <input type="text" readonly class="link-url" value=link.url.clone() aria-label="Reconnect link"/>
                    <CopyButton text=link.url/>
                </div>
            }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
    }
}
