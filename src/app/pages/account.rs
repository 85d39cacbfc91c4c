//! `/accounts/:id`: DOMAIN.md's questions answered in sentences, the current
//! token (by fingerprint), the exact last X error, and the timeline.

use crate::api::dto::AccountDetail;
use crate::api::{load_account, CheckNow, RefreshNow};
use crate::app::components::badge::HealthBadge;
use crate::app::components::held_posts::HeldPosts;
use crate::app::components::live::{poll, Ticker};
use crate::app::components::time::Ago;
use crate::app::format::{duration, utc};
use crate::app::pages::dashboard::Warnings;
use crate::app::pages::not_found::NotFound;
use crate::domain::health::{Action, Health};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::time::Duration;

#[component]
pub fn AccountPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let refresh = ServerAction::<RefreshNow>::new();
    let check = ServerAction::<CheckNow>::new();
    let polls = poll(Duration::from_secs(10));
    let data = Resource::new(
        move || (id(), polls.get(), refresh.version().get(), check.version().get()),
        |(id, _, _, _)| load_account(id),
    );
    let ticker = Ticker::new();
    Effect::new(move |_| {
        if data.get().is_some() {
            ticker.reset();
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the account…"</p> }>
            {move || data.get().map(|result| match result {
                Ok(Some(detail)) => view! { <Detail detail=detail ticker=ticker refresh=refresh check=check/> }.into_any(),
                Ok(None) => view! { <NotFound/> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Detail(
    detail: AccountDetail,
    ticker: Ticker,
    refresh: ServerAction<RefreshNow>,
    check: ServerAction<CheckNow>,
) -> impl IntoView {
    let fetched = detail.now;
    let now = Signal::derive(move || fetched + ticker.elapsed());
    let row = detail.row;
    let id = row.id.clone();
    let id2 = row.id.clone();
    let expires_at = row.expires_at;
    let busy = move || refresh.pending().get() || check.pending().get();
    let message = move || {
        let latest = if refresh.version().get() >= check.version().get() { refresh.value().get() } else { check.value().get() };
        latest.map(|r| r.unwrap_or_else(|e| e.to_string()))
    };
    view! {
        <section class="account">
            <p class="crumbs"><a href="/">"← All accounts"</a></p>
            <h1>"@" {row.handle.clone()} " " <span class="name">{row.name.clone()}</span></h1>
            <Warnings warnings=detail.warnings.clone()/>
            <div class="status">
                <HealthBadge health=row.health/>
                <span class="cause">{row.summary.clone()}</span>
            </div>
            <p class="next-step"><strong>"Next step: "</strong>{row.next_step.clone()}</p>
            <div class="actions">
                {(row.health == Health::ActionNeeded(Action::Reconnect)).then(|| view! {
                    <a class="button" href=format!("/accounts/{}/reconnect", row.id)>"Reconnect"</a>
                })}
                <button type="button" disabled=busy on:click=move |_| { refresh.dispatch(RefreshNow { id: id.clone() }); }>"Refresh now"</button>
                <button type="button" disabled=busy on:click=move |_| { check.dispatch(CheckNow { id: id2.clone() }); }>"Check now"</button>
                <span class="action-result" role="status">{message}</span>
            </div>

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
                <dd>
                    <span title=utc(expires_at)>{move || {
                        let n = now.get();
                        if n >= expires_at { format!("expired {} ago", duration(n - expires_at)) } else { format!("in {}", duration(expires_at - n)) }
                    }}</span>
                </dd>
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
            <HeldPosts account_id=row.id.clone()/>

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
                            <tr class=format!("event {}", e.outcome)>
                                <td><Ago now=now at=e.at/></td>
                                <td>{e.kind}</td>
                                <td>{e.outcome.clone()} {e.http_status.map(|s| format!(" (HTTP {s})"))}</td>
                                <td>{generation}</td>
                                <td>{e.actor}</td>
                                <td>
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
}
