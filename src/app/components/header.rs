//! The header on every page: product name, navigation, environment, demo banner.
//!
//! On a narrow screen everything but the product name and "Needs you" folds
//! into a `<details>` menu, which opens without the page's wasm (on a slow
//! line it may not have loaded yet); on a wide one the stylesheet shows the
//! menu's contents in the header and hides its toggle. Rendered by the
//! server alone: a page the `Live` island shows in place brings its own header,
//! with the menu closed.

use crate::api::{instance_info, load_viewer};
use crate::domain::access::Role;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Header() -> impl IntoView {
    let info = Resource::new(|| (), |_| instance_info());
    let viewer = Resource::new(|| (), |_| load_viewer());
    let env = move || {
        info.get().and_then(Result::ok).map(|info| {
            view! { <span class="env" title="The environment this authwatch runs in">{info.environment}</span> }
        })
    };
    view! {
        <header class="top">
            <a class="brand" href="/">"authwatch"</a>
            <Suspense fallback=|| ()>
                {move || match viewer.get().and_then(Result::ok).flatten() {
                    None => env().into_any(),
                    Some(v) => {
                        let admin = v.role == Role::Admin;
                        view! {
                            {(v.needs_you > 0).then(|| view! {
                                <a class="needs-you-badge" href="/" title="Open prompts addressed to you">
                                    "Needs you " <span class="count">{v.needs_you}</span>
                                </a>
                            })}
                            <details class="menu">
                                <summary>"Menu"</summary>
                                <div class="menu-body">
                                    <nav>
                                        <A href="/">"Accounts"</A>
                                        {admin.then(|| view! { <A href="/users">"Users"</A> })}
                                        {admin.then(|| view! { <A href="/settings">"Settings"</A> })}
                                    </nav>
                                    <span class="viewer" title=v.email.clone()>{v.name} " · " {v.role.as_str()}</span>
                                    <form method="post" action="/auth/sign-out" class="sign-out">
                                        <button type="submit" class="link">"Sign out"</button>
                                    </form>
                                    {env}
                                </div>
                            </details>
                        }
                        .into_any()
                    }
                }}
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
