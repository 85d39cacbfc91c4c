//! `/`: every connected X account's auth health at a glance, people's
//! problems first. Filters and search live in the URL, so a view can be shared.

use crate::api::dto::{AccountRow, Dashboard as DashboardDto, DashboardQuery, DemoAction, PromptView};
use crate::api::{load_dashboard, take_flash, RunDemoAction};
use crate::app::components::badge::HealthBadge;
use crate::app::components::flash::FlashView;
use crate::app::components::live::{poll, Ticker};
use crate::app::components::time::Ago;
use crate::app::components::warnings::Warnings;
use crate::app::format::{countdown, duration, life_used, utc};
use crate::domain::access::Role;
use crate::domain::health::{Action, Health};
use leptos::prelude::*;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use std::time::Duration;

/// How often the dashboard refetches.
const POLL: Duration = Duration::from_secs(10);

#[component]
pub fn Dashboard() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        let q = query.read();
        DashboardQuery {
            health: q.get("health").filter(|h| !h.is_empty()),
            search: q.get("search").unwrap_or_default(),
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        }
    };
    let polls = poll(POLL);
    let data = Resource::new(move || (params(), polls.get()), |(q, _)| load_dashboard(q));
    let ticker = Ticker::new();
    Effect::new(move |_| {
        if data.get().is_some() {
            ticker.reset();
        }
    });

    let flash = Resource::new(|| (), |_| take_flash());

    view! {
        <section class="dashboard">
            <div class="title-row">
                <h1>"Accounts"</h1>
                <a class="button" href="/connect">"Connect account"</a>
            </div>
            <Suspense fallback=|| ()>
                {move || flash.get().and_then(Result::ok).flatten().map(|f| view! { <FlashView flash=f/> })}
            </Suspense>
            <Transition fallback=|| view! { <p class="loading">"Loading accounts…"</p> }>
                {move || data.get().map(|result| match result {
                    Ok(d) => view! { <DashboardBody data=d ticker=ticker/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn DashboardBody(data: DashboardDto, ticker: Ticker) -> impl IntoView {
    let fetched = data.now;
    let now = Signal::derive(move || fetched + ticker.elapsed());
    let query = use_query_map();
    let current = move || query.read().get("health").unwrap_or_default();
    let search = move || query.read().get("search").unwrap_or_default();
    let needs_person: u32 = data.counts.iter().filter(|c| c.health.needs_person()).map(|c| c.count).sum();

    let chip = move |slug: &'static str, label: String| {
        let href = if slug.is_empty() { "/".to_owned() } else { format!("/?health={slug}") };
        view! {
            <a href=href class="chip" aria-current=move || (current() == slug).then_some("page")>
                {label}
            </a>
        }
    };
    let chips = data
        .counts
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| chip(c.health.slug(), format!("{} {}", c.count, c.health.label())))
        .collect_view();

    let page_link = move |page: u32| page_href(page, &current(), &search());
    let (page, pages) = (data.page, data.pages);
    let demo_accounts: Vec<(String, String)> = data.rows.iter().map(|r| (r.id.clone(), r.handle.clone())).collect();

    view! {
        <NeedsYou prompts=data.needs_you.clone() total=data.needs_you_total now=now/>
        <Warnings warnings=data.warnings.clone()/>
        <div class="summary" role="group" aria-label="Filter by health">
            {chip("", format!("All {}", data.total))}
            {chip("needs-person", format!("{needs_person} Needs a person"))}
            {chips}
        </div>
        <div class="toolbar">
            <Form method="GET" action="/">
                <input type="hidden" name="health" value=current/>
                <input type="search" name="search" placeholder="Search by handle or name" aria-label="Search by handle or name" value=search maxlength="200"/>
                <button type="submit">"Search"</button>
            </Form>
            <p class="updated">"Updated " <Ago now=now at=fetched/> " · " {data.matching} " shown of " {data.total}</p>
        </div>
        {if data.rows.is_empty() {
            let message = if data.total == 0 { "No X accounts are connected yet." } else { "No account matches this filter." };
            view! { <p class="empty">{message}</p> }.into_any()
        } else {
            view! {
                <table class="accounts">
                    <thead>
                        <tr>
                            <th scope="col">"Account"</th>
                            <th scope="col">"Health"</th>
                            <th scope="col">"Token age"</th>
                            <th scope="col">"Expires in"</th>
                            <th scope="col">"Scopes"</th>
                            <th scope="col">"Last refresh"</th>
                            <th scope="col">"Last check"</th>
                            <th scope="col">"Owner"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {data.rows.into_iter().map(|row| view! { <Row row=row now=now/> }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        {(pages > 1).then(|| view! {
            <nav class="pager" aria-label="Pages">
                {(page > 1).then(|| view! { <A href=page_link(page - 1)>"← Previous"</A> })}
                <span>"Page " {page} " of " {pages}</span>
                {(page < pages).then(|| view! { <A href=page_link(page + 1)>"Next →"</A> })}
            </nav>
        })}
        <DemoPanel accounts=demo_accounts/>
    }
}

/// The signed-in user's open prompts: what only they (or, escalated, the
/// admins) can fix.
#[component]
fn NeedsYou(prompts: Vec<PromptView>, total: u32, now: Signal<i64>) -> impl IntoView {
    (!prompts.is_empty()).then(|| {
        let more = (total as usize).saturating_sub(prompts.len());
        view! {
            <section class="needs-you" aria-labelledby="needs-you-title">
                <h2 id="needs-you-title">"Needs you " <span class="count">{total}</span></h2>
                <ul>
                    {prompts.into_iter().map(|p| { let key = p.what.clone(); view! {
                        <li data-prompt=key>
                            <strong>{p.what}</strong>
                            {p.escalated.then(|| view! { <span class="escalated" title="Nobody acted in time; the admins were told">"escalated"</span> })}
                            " — " {p.cause} " "
                            <span class="muted">"raised " <Ago now=now at=p.opened_at/></span>
                            " "
                            <a class="button small" href=p.href>{p.action}</a>
                        </li>
                    }}).collect_view()}
                </ul>
                {(more > 0).then(|| view! {
                    <p class="more"><a href="/?health=needs-person">{format!("{more} more: every account that needs a person")}</a></p>
                })}
            </section>
        }
    })
}

#[component]
fn Row(row: AccountRow, now: Signal<i64>) -> impl IntoView {
    let AccountRow {
        id,
        handle,
        name,
        health,
        summary,
        issued_at,
        expires_at,
        scopes,
        last_refresh,
        last_check,
        owner,
        can_act,
        ..
    } = row;
    let reconnect =
        (can_act && health == Health::ActionNeeded(Action::Reconnect)).then(|| format!("/accounts/{id}/reconnect"));
    let expires = move || {
        let n = now.get();
        if n >= expires_at {
            format!("expired {} ago", duration(n - expires_at))
        } else {
            countdown(expires_at - n)
        }
    };
    let used = move || format!("width: {:.1}%", life_used(now.get(), issued_at, expires_at) * 100.0);
    let attempt = move |a: Option<crate::api::dto::LastTry>| match a {
        None => view! { <span class="muted">"never"</span> }.into_any(),
        Some(a) => view! {
            <span class=if a.ok { "outcome ok" } else { "outcome failed" }>{if a.ok { "ok" } else { "failed" }}</span>
            " "
            <Ago now=now at=a.at/>
        }
        .into_any(),
    };
    let key = handle.clone();
    view! {
        <tr data-account=key data-health=health.slug()>
            <td class="who">
                <a href=format!("/accounts/{id}")>"@" {handle}</a>
                <span class="name">{name}</span>
            </td>
            <td class="health">
                <HealthBadge health=health/>
                <span class="cause">{summary}</span>
                {reconnect.map(|href| view! { <a class="button small" href=href>"Reconnect"</a> })}
            </td>
            <td class="age" data-label="Token age"><span title=format!("issued {}", utc(issued_at))>{move || duration(now.get() - issued_at)}</span></td>
            <td class="expiry" data-label="Expires in">
                <span class="countdown" title=format!("expires {}", utc(expires_at))>{expires}</span>
                <span class="life" aria-hidden="true"><span class="used" style=used></span></span>
            </td>
            <td class="scopes" data-label="Scopes">
                {scopes.into_iter().map(|s| {
                    let title = if s.missing { "required, but not granted" } else { "granted" };
                    view! { <span class=if s.missing { "scope missing" } else { "scope" } title=title>{s.name}</span> }
                }).collect_view()}
            </td>
            <td class="refresh" data-label="Last refresh">{attempt(last_refresh)}</td>
            <td class="check" data-label="Last check">{attempt(last_check)}</td>
            <td class="owner" data-label="Owner">{owner.unwrap_or_else(|| "— (admins)".into())}</td>
        </tr>
    }
}

/// Demo mode: make things go wrong at the emulator and watch authwatch notice.
/// `accounts` are the (id, handle) pairs on the current page.
#[component]
fn DemoPanel(accounts: Vec<(String, String)>) -> impl IntoView {
    let info = Resource::new(|| (), |_| crate::api::instance_info());
    let viewer = Resource::new(|| (), |_| crate::api::load_viewer());
    let is_admin = move || viewer.get().and_then(Result::ok).flatten().is_some_and(|v| v.role == Role::Admin);
    let act = ServerAction::<RunDemoAction>::new();
    let account = RwSignal::new(String::new());
    let button = move |action: DemoAction, label: &'static str, needs_account: bool| {
        view! {
            <button
                type="button"
                disabled=move || act.pending().get() || (needs_account && account.get().is_empty())
                on:click=move |_| {
                    let account_id = Some(account.get()).filter(|a| !a.is_empty());
                    act.dispatch(RunDemoAction { action, account_id });
                }
            >
                {label}
            </button>
        }
    };
    view! {
        <Suspense fallback=|| ()>
            {move || info.get().and_then(Result::ok).filter(|i| i.demo && is_admin()).map(|_| view! {
                <section class="demo-panel" aria-label="Demo panel">
                    <h2>"Demo panel"</h2>
                    <p>"Make something go wrong at the built-in X emulator, then refresh or check the account."</p>
                    <label>
                        "Account "
                        <select on:change=move |ev| account.set(event_target_value(&ev)) prop:value=move || account.get()>
                            <option value="">"— pick one —"</option>
                            {accounts.clone().into_iter().map(|(id, handle)| view! {
                                <option value=id>"@" {handle}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    {button(DemoAction::RevokeGrant, "Revoke its grant at X", true)}
                    {button(DemoAction::ExpireToken, "Expire its access token at X", true)}
                    {button(DemoAction::RotateAppSecret, "Rotate the app's client secret at X", false)}
                    {button(DemoAction::SkewClock, "Skew X's clock", false)}
                    <p class="demo-result" role="status">
                        {move || act.value().get().map(|r| r.unwrap_or_else(|e| e.to_string()))}
                    </p>
                </section>
            })}
        </Suspense>
    }
}

/// The dashboard's address for `page`, keeping the filter and the search.
/// Both come from the address bar, so they are encoded: a search for
/// "R&D #2" must not become a second parameter or a fragment.
fn page_href(page: u32, health: &str, search: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("page", &page.to_string());
    if !health.is_empty() {
        query.append_pair("health", health);
    }
    if !search.is_empty() {
        query.append_pair("search", search);
    }
    format!("/?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::page_href;

    #[test]
    fn the_pager_keeps_a_search_with_reserved_characters_whole() {
        for search in ["R&D #2", "100%", "a=b+c", "caf\u{e9} /?x"] {
            let href = page_href(3, "reconnect", search);
            let query = href.strip_prefix("/?").expect("a query");
            assert!(!query.contains('#'), "{href}");
            let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            assert_eq!(
                pairs,
                [
                    ("page".into(), "3".into()),
                    ("health".into(), "reconnect".into()),
                    ("search".into(), search.to_owned())
                ],
                "{href}"
            );
        }
    }

    #[test]
    fn the_pager_leaves_out_what_is_not_set() {
        assert_eq!(page_href(2, "", ""), "/?page=2");
    }
}
