//! `/settings`: the X app configuration as authwatch runs with it. Read-only:
//! it is set by environment variables (see the README).

use crate::api::load_settings;
use crate::app::components::api_keys::ApiKeys;
use crate::app::components::copy::CopyIsland;
use leptos::prelude::*;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_settings());
    view! {
        <section class="settings">
            <h1>"X app settings"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || data.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(s) => {
                        let callback = s.callback_url.clone();
                        view! {
                            {s.problems.into_iter().map(|p| view! { <p class="warning" role="alert">{p}</p> }).collect_view()}
                            {s.demo.then(|| view! {
                                <p class="banner demo">"Demo mode: these are the built-in emulator's settings. Set AUTHWATCH_X_CLIENT_ID (and the variables in the README) to use a real X app."</p>
                            })}
                            <dl class="config">
                                <dt>"Environment"</dt><dd>{s.environment}</dd>
                                <dt>"Client id"</dt><dd><code>{s.client_id}</code></dd>
                                <dt>"Client type"</dt><dd>{s.client_type}</dd>
                                <dt>"Client secret"</dt>
                                <dd>{match s.secret_fingerprint {
                                    Some(fp) => view! { "fingerprint " <code>{fp}</code> " (the secret itself is never shown)" }.into_any(),
                                    None => view! { "none (public client)" }.into_any(),
                                }}</dd>
                                <dt>"Callback URL to register with X"</dt>
                                <dd>
                                    <code id="callback-url">{callback.clone()}</code>
                                    " "
                                    <CopyIsland text=callback.clone()/>
                                </dd>
                                <dt>"Required scopes"</dt>
                                <dd>{s.required_scopes.into_iter().map(|sc| view! { <span class="scope">{sc}</span> }).collect_view()}</dd>
                                <dt>"Authorize URL"</dt><dd><code>{s.authorize_url}</code></dd>
                                <dt>"Token URL"</dt><dd><code>{s.token_url}</code></dd>
                                <dt>"Revoke URL"</dt><dd><code>{s.revoke_url}</code></dd>
                                <dt>"API base"</dt><dd><code>{s.api_base}</code></dd>
                                <dt>"OAuth 1.0a"</dt>
                                <dd>{match s.oauth1 {
                                    Some(o) => view! {
                                        "offered: consumer key " <code>{o.consumer_key}</code>
                                        ", secret fingerprint " <code>{o.secret_fingerprint}</code>
                                        "; callback to register with X " <code class="oauth1-callback">{o.callback_url}</code>
                                        "; request tokens at " <code>{o.request_token_url}</code>
                                    }.into_any(),
                                    None => view! { "not offered (set AUTHWATCH_X_CONSUMER_KEY and AUTHWATCH_X_CONSUMER_SECRET to offer it)" }.into_any(),
                                }}</dd>
                                <dt>"Refresh lead time"</dt><dd>{s.refresh_lead_minutes} " min before expiry"</dd>
                                <dt>"Clock drift threshold"</dt><dd>{s.clock_drift_threshold_seconds} " s"</dd>
                                <dt>"Database"</dt><dd><code>{s.database}</code></dd>
                            </dl>
                            <h2>"What checks cost at X"</h2>
                            <dl class="config check-spend">
                                <dt>"Estimated daily X spend of checks"</dt>
                                <dd><strong class="spend">{s.check_spend.estimate}</strong> " — " {s.check_spend.basis} ", at $0.010 per account asked per UTC day"</dd>
                                <dt>"Accounts asked today (UTC)"</dt><dd class="asked-today">{s.check_spend.today}</dd>
                                <dt>"Accounts asked yesterday (UTC)"</dt><dd class="asked-yesterday">{s.check_spend.yesterday}</dd>
                            </dl>
                            <p class="muted">
                                "A check asks X GET /2/users/me, a billed user read that X counts once per account and UTC day. The daily check skips every account a connect, refresh, publish or earlier check proved alive that day, so accounts in use cost nothing; Check now on an account page always asks."
                            </p>
                            <ApiKeys/>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}
