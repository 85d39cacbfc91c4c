//! The pages and components. Pages are rendered on the server only; the
//! parts a person interacts with are islands (`#[island]`), the only code
//! the browser downloads and runs. Every button is also a form that posts,
//! so a page works before, and without, its wasm.

mod components;
pub mod format;
mod pages;
pub mod status;

use components::header::Header;
use components::live::Live;
use components::not_found::NotFound;
use components::notice::NoticeView;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};
use pages::account::AccountPage;
use pages::connect::{ConnectPage, ConnectResultPage, ReconnectLinkPage, ReconnectPage};
use pages::people::{SetupPage, SignInPage, UsersPage};
use pages::{dashboard::Dashboard, settings::SettingsPage};

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                // `/pkg/<output-name>.css`, or with hashed file names the one
                // the hash file names (served for a year: the name changes
                // with the content).
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: header and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Title text="authwatch"/>
        <Router>
            <div class="app">
                <Header/>
                <main>
                    <NoticeView/>
                    <Routes fallback=NotFound>
                        // Async: these pages consume a one-time result message from the
                        // session, and the session is saved when the response is
                        // complete, so the page must not stream past it.
                        <Route path=StaticSegment("") view=Dashboard ssr=SsrMode::Async/>
                        // Async: the status (404 for an unknown account) is only known once
                        // the account has loaded, so headers wait for it.
                        <Route path=(StaticSegment("accounts"), ParamSegment("id")) view=AccountPage ssr=SsrMode::Async/>
                        // Async: someone who may not reconnect this account gets a 403.
                        <Route path=(StaticSegment("accounts"), ParamSegment("id"), StaticSegment("reconnect")) view=ReconnectPage ssr=SsrMode::Async/>
                        // Async: a manager gets a 403 status, known once the data has loaded.
                        <Route path=StaticSegment("settings") view=SettingsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("users") view=UsersPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("sign-in") view=SignInPage/>
                        <Route path=StaticSegment("setup") view=SetupPage/>
                        // Async: used, expired and unknown links answer 410 and 404.
                        <Route path=(StaticSegment("r"), ParamSegment("secret")) view=ReconnectLinkPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("connect") view=ConnectPage/>
                        <Route path=(StaticSegment("connect"), StaticSegment("result")) view=ConnectResultPage ssr=SsrMode::Async/>
                    </Routes>
                </main>
                <Live/>
            </div>
        </Router>
    }
}
