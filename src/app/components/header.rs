//! The header on every page: product name, navigation, environment, demo banner.

use crate::api::instance_info;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Header() -> impl IntoView {
    let info = Resource::new(|| (), |_| instance_info());
    view! {
        <header class="top">
            <a class="brand" href="/">"authwatch"</a>
            <nav>
                <A href="/">"Accounts"</A>
                <A href="/settings">"Settings"</A>
            </nav>
            <Suspense fallback=|| ()>
                {move || info.get().and_then(Result::ok).map(|info| view! {
                    <span class="env" title="The environment this authwatch runs in">{info.environment}</span>
                })}
            </Suspense>
        </header>
        <Suspense fallback=|| ()>
            {move || info.get().and_then(Result::ok).filter(|i| i.demo).map(|_| view! {
                <p class="banner demo" role="note">
                    "Demo mode: authwatch is talking to its built-in X emulator, not to X. "
                    "Set AUTHWATCH_X_CLIENT_ID and AUTHWATCH_X_CLIENT_SECRET to watch real accounts (see the README)."
                </p>
            })}
        </Suspense>
    }
}
