//! `/`: every connected X account's auth health at a glance, people's
//! problems first. Filters and search live in the URL, so a view can be shared.
//!
//! Rendered by the server alone. The page asks to be kept live
//! (`data-live-poll`; its "Updated" line says how), and its filters, pages
//! and search are marked `data-live-nav`: the
//! [`Live`](crate::app::components::live::Live) island refetches it and
//! follows them in place; without it they navigate.

use crate::api::dto::{AccountRow, Dashboard as DashboardDto, DashboardQuery, DemoAction, PromptView};
use crate::api::{load_dashboard, take_flash, RunDemoAction};
use crate::app::components::badge::HealthBadge;
use crate::app::components::flash::FlashView;
use crate::app::components::live::LiveMode;
use crate::app::components::time::{Age, Ago, Countdown, LifeBar};
use crate::app::components::warnings::Warnings;
use crate::domain::flow::Flow;
use crate::domain::health::{Action, Health};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

#[component]
pub fn Dashboard() -> impl IntoView {
    let query = use_query_map();
    let params = query.with_untracked(|q| query_from(|key| q.get(key)));
    let request = params.clone();
    let data = Resource::new(|| (), move |_| load_dashboard(request.clone()));
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
            <Suspense fallback=|| view! { <p class="loading">"Loading accounts…"</p> }>
                {move || data.get().map(|result| match result {
                    Ok(d) => view! { <DashboardBody data=d query=params.clone()/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// The dashboard's query from the address's parameters (`get` one by name).
fn query_from(get: impl Fn(&str) -> Option<String>) -> DashboardQuery {
    DashboardQuery {
        health: get("health").filter(|h| !h.is_empty()),
        search: get("search").unwrap_or_default(),
        page: get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        flow: get("flow").filter(|f| Flow::parse(f).is_some()),
    }
}

#[component]
fn DashboardBody(data: DashboardDto, query: DashboardQuery) -> impl IntoView {
    let now = data.now;
    let current = query.health.clone().unwrap_or_default();
    let needs_person: u32 = data.counts.iter().filter(|c| c.health.needs_person()).map(|c| c.count).sum();

    let current_flow = query.flow.clone().unwrap_or_default();
    let chip = |slug: &'static str, label: String| {
        let href = query_href(&DashboardQuery {
            health: Some(slug.to_owned()),
            page: 1,
            search: String::new(),
            ..query.clone()
        });
        view! { <a href=href class="chip" aria-current=(current == slug).then_some("page")>{label}</a> }
    };
    // The flow filter, once any account uses OAuth 1.0a.
    let flow_chips = data.flow_counts.iter().any(|c| c.flow == Flow::OAuth1 && c.count > 0).then(|| {
        let flow_chip = |slug: &'static str, label: String| {
            let href = query_href(&DashboardQuery {
                flow: Some(slug.to_owned()).filter(|f| !f.is_empty()),
                page: 1,
                ..query.clone()
            });
            view! { <a href=href class="chip" aria-current=(current_flow == slug).then_some("page")>{label}</a> }
        };
        view! {
            <div class="summary flows" role="group" aria-label="Filter by OAuth flow" data-live-nav>
                {flow_chip("", "Every flow".to_owned())}
                {data.flow_counts.iter().map(|c| flow_chip(c.flow.as_str(), format!("{} {}", c.count, c.flow.label()))).collect_view()}
            </div>
        }
    });
    let chips = data
        .counts
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| chip(c.health.slug(), format!("{} {}", c.count, c.health.label())))
        .collect_view();

    let (page, pages) = (data.page, data.pages);
    let page_link = |page: u32| query_href(&DashboardQuery { page, ..query.clone() });
    let demo_accounts: Vec<(String, String)> = data.rows.iter().map(|r| (r.id.clone(), r.handle.clone())).collect();

    view! {
        <div data-live-poll data-now=now>
            <NeedsYou prompts=data.needs_you.clone() total=data.needs_you_total now=now/>
            <Warnings warnings=data.warnings.clone()/>
            <div class="summary" role="group" aria-label="Filter by health" data-live-nav>
                {chip("", format!("All {}", data.total))}
                {chip("needs-person", format!("{needs_person} Needs a person"))}
                {chips}
            </div>
            {flow_chips}
            <div class="toolbar">
                <form method="get" action="/" data-live-nav>
                    <input type="hidden" name="health" value=current.clone()/>
                    {(!current_flow.is_empty()).then(|| view! { <input type="hidden" name="flow" value=current_flow.clone()/> })}
                    <input type="search" name="search" placeholder="Search by handle or name" aria-label="Search by handle or name" value=query.search.clone() maxlength="200"/>
                    <button type="submit">"Search"</button>
                </form>
                <p class="updated">"Updated " <Ago now=now at=now/> " · " <LiveMode/> " · " {data.matching} " shown of " {data.total}</p>
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
                                <th scope="col">"Auth"</th>
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
                <nav class="pager" aria-label="Pages" data-live-nav>
                    {(page > 1).then(|| view! { <a href=page_link(page - 1)>"← Previous"</a> })}
                    <span>"Page " {page} " of " {pages}</span>
                    {(page < pages).then(|| view! { <a href=page_link(page + 1)>"Next →"</a> })}
                </nav>
            })}
            {data.demo_panel.then(|| view! { <DemoPanel accounts=demo_accounts/> })}
        </div>
    }
    // Erased: the page's view type stays under the compiler's depth limit.
    .into_any()
}

/// The signed-in user's open prompts: what only they (or, escalated, the
/// admins) can fix.
#[component]
fn NeedsYou(prompts: Vec<PromptView>, total: u32, now: i64) -> impl IntoView {
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
    .map(IntoAny::into_any)
}

#[component]
fn Row(row: AccountRow, now: i64) -> impl IntoView {
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
        flow,
        advice,
        ..
    } = row;
    let reconnect =
        (can_act && health == Health::ActionNeeded(Action::Reconnect)).then(|| format!("/accounts/{id}/reconnect"));
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
            <td class="auth" data-label="Auth">
                <span class=format!("flow {}", flow.as_str())>{flow.label()}</span>
                {advice.filter(|_| can_act).map(|advice| view! {
                    <a class="advice-link" href=format!("/accounts/{id}/reconnect") title=advice>"Move to OAuth 2.0"</a>
                })}
            </td>
            <td class="age" data-label="Token age"><Age now=now issued_at=issued_at/></td>
            <td class="expiry" data-label="Expires in">
                {if flow.expires() {
                    view! {
                        <Countdown now=now expires_at=expires_at/>
                        <LifeBar now=now issued_at=issued_at expires_at=expires_at/>
                    }.into_any()
                } else {
                    view! { <span class="never-expires">"does not expire"</span> }.into_any()
                }}
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
    .into_any()
}

/// Demo mode (admins): make things go wrong at the emulator and watch
/// authwatch notice. `accounts` are the (id, handle) pairs on the current
/// page. One form: the button pressed names the action.
#[component]
fn DemoPanel(accounts: Vec<(String, String)>) -> impl IntoView {
    let button = |action: DemoAction, label: &'static str| {
        view! { <button type="submit" name="action" value=format!("{action:?}")>{label}</button> }
    };
    view! {
        <section class="demo-panel" aria-label="Demo panel">
            <h2>"Demo panel"</h2>
            <p>"Make something go wrong at the built-in X emulator, then refresh or check the account."</p>
            <form method="post" action=RunDemoAction::url() data-live-post>
                <label>
                    "Account "
                    <select name="account_id">
                        <option value="">"— pick one —"</option>
                        {accounts.into_iter().map(|(id, handle)| view! {
                            <option value=id>"@" {handle}</option>
                        }).collect_view()}
                    </select>
                </label>
                {button(DemoAction::RevokeGrant, "Revoke its grant at X")}
                {button(DemoAction::ExpireToken, "Expire its access token at X")}
                {button(DemoAction::RotateAppSecret, "Rotate the app's client secret at X")}
                {button(DemoAction::SkewClock, "Skew X's clock")}
            </form>
        </section>
    }
    .into_any()
}

/// The dashboard's address for a query: the page, the filter and the search.
/// Both come from the address bar, so they are encoded: a search for
/// "R&D #2" must not become a second parameter or a fragment.
fn query_href(q: &DashboardQuery) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("page", &q.page.to_string());
    if let Some(health) = q.health.as_deref().filter(|h| !h.is_empty()) {
        query.append_pair("health", health);
    }
    if !q.search.is_empty() {
        query.append_pair("search", &q.search);
    }
    if let Some(flow) = q.flow.as_deref().filter(|f| !f.is_empty()) {
        query.append_pair("flow", flow);
    }
    format!("/?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::{query_href, DashboardQuery};

    fn page_href(page: u32, health: &str, search: &str) -> String {
        let health = Some(health.to_owned()).filter(|h| !h.is_empty());
        query_href(&DashboardQuery { page, health, search: search.to_owned(), flow: None })
    }

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
