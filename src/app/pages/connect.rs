//! The pages around a connect or reconnect: the brief before X, and the result after.

use crate::api::dto::{ConnectProblem, LinkBrief};
use crate::api::{instance_info, load_link_brief, load_reconnect_brief, take_flash};
use crate::app::components::flash::FlashView;
use crate::app::components::not_found::NotFound;
use crate::domain::flow::{Flow, MOVE_TO_OAUTH2};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// `/accounts/:id/reconnect`: which X account to sign in as, and what happens next.
#[component]
pub fn ReconnectPage() -> impl IntoView {
    let params = use_params_map();
    let brief = Resource::new(move || params.read().get("id").unwrap_or_default(), load_reconnect_brief);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || brief.get().map(|r| match r {
                Ok(Some(b)) => view! {
                    <section class="connect">
                        <h1>"Reconnect @" {b.handle.clone()}</h1>
                        <ReconnectSteps handle=b.handle name=b.name scopes=b.required_scopes/>
                        {(b.flow == Flow::OAuth1).then(|| view! { <p class="advice">{MOVE_TO_OAUTH2}</p> })}
                        <form method="post" action="/auth/x/start">
                            <input type="hidden" name="account_id" value=b.account_id/>
                            <FlowChoice flows=b.flows/>
                            <button type="submit">"Continue to X"</button>
                        </form>
                    </section>
                }.into_any(),
                Ok(None) => view! { <NotFound/> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

/// What happens during a reconnect, and which X account to sign in as.
#[component]
fn ReconnectSteps(handle: String, name: String, scopes: Vec<String>) -> impl IntoView {
    view! {
        <ol class="steps">
            <li>"You will be sent to X. Sign in there as " <strong>"@" {handle.clone()}</strong> " (" {name} ") — not as another account. If X shows another account, sign out of X or switch account first."</li>
            <li>"X asks you to authorize authwatch for: " {scopes.into_iter().map(|s| view! { <span class="scope">{s}</span> }).collect_view()}</li>
            <li>"Click " <strong>"Authorize app"</strong> ". X sends you back here; authwatch checks that it was @" {handle} " before saving anything, and the account is healthy again."</li>
        </ol>
    }
}

/// `/r/:secret`: a reconnect link, for someone who holds the X login but
/// has no dashboard user.
#[component]
pub fn ReconnectLinkPage() -> impl IntoView {
    let params = use_params_map();
    let secret = move || params.read().get("secret").unwrap_or_default();
    let brief = Resource::new(secret, load_link_brief);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || brief.get().map(|r| match r {
                Ok(LinkBrief::Usable { handle, name, expires_at, required_scopes, flows }) => view! {
                    <section class="connect link">
                        <h1>"Reconnect @" {handle.clone()} " to authwatch"</h1>
                        <p>"Someone on the social team asked you to reconnect this X account, so their scheduled posts keep going out. It takes a minute."</p>
                        <ReconnectSteps handle=handle name=name scopes=required_scopes/>
                        <form method="post" action="/auth/x/start">
                            <input type="hidden" name="link" value=secret()/>
                            <FlowChoice flows=flows/>
                            <button type="submit">"Continue to X"</button>
                        </form>
                        <p class="muted">"This link works once, until " {crate::app::format::utc(expires_at)} "."</p>
                    </section>
                }.into_any(),
                Ok(LinkBrief::Unusable { title, message }) => view! {
                    <section class="connect link">
                        <h1>{title}</h1>
                        <p class="link-problem">{message}</p>
                    </section>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

/// `/connect`: add an X account.
#[component]
pub fn ConnectPage() -> impl IntoView {
    let info = Resource::new(|| (), |_| instance_info());
    view! {
        <section class="connect">
            <h1>"Connect an X account"</h1>
            <ol class="steps">
                <li>"You will be sent to X. Sign in as the account authwatch should watch."</li>
                <li>"Click " <strong>"Authorize app"</strong> ". X sends you back here and the account appears on the dashboard. If it is already connected, this reconnects it instead."</li>
            </ol>
            <form method="post" action="/auth/x/start">
                <Suspense fallback=|| ()>
                    {move || info.get().map(|i| view! { <FlowChoice flows=i.map(|i| i.flows).unwrap_or_default()/> })}
                </Suspense>
                <button type="submit">"Continue to X"</button>
            </form>
        </section>
    }
}

/// The choice of flow, when the X app offers more than OAuth 2.0. Without
/// a choice the form posts no `flow`, which is OAuth 2.0.
#[component]
fn FlowChoice(flows: Vec<Flow>) -> impl IntoView {
    (flows.len() > 1).then(|| {
        view! {
            <fieldset class="flow-choice">
                <legend>"How should authwatch connect to X?"</legend>
                {flows.into_iter().map(|flow| {
                    let id = format!("flow-{}", flow.as_str());
                    view! {
                        <div class="flow-option">
                            <input type="radio" name="flow" id=id.clone() value=flow.as_str() checked=flow == Flow::OAuth2/>
                            <label for=id>
                                <strong>{flow.label()}</strong>
                                {(flow == Flow::OAuth2).then_some(" (recommended)")}
                                <span class="flow-explain">{flow.explain()}</span>
                            </label>
                        </div>
                    }
                }).collect_view()}
            </fieldset>
        }
    })
}

/// `/connect/result`: what came of the last attempt — a fixed problem named
/// in the address (`?problem=<code>`, from the table in
/// [`ConnectProblem`]), or the result kept in the session.
#[component]
pub fn ConnectResultPage() -> impl IntoView {
    let query = use_query_map();
    if let Some(problem) = query.read_untracked().get("problem").as_deref().and_then(ConnectProblem::parse) {
        return view! { <section class="connect-result"><FlashView flash=problem.flash()/></section> }.into_any();
    }
    let flash = Resource::new(|| (), |_| take_flash());
    view! {
        <section class="connect-result">
            <Suspense fallback=|| ()>
                {move || flash.get().map(|r| match r {
                    Ok(Some(f)) => view! { <FlashView flash=f/> }.into_any(),
                    Ok(None) => view! {
                        <h1>"Nothing to show"</h1>
                        <p>"This page shows the result of a connect or reconnect once. " <a href="/">"Back to the accounts"</a></p>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
    .into_any()
}
