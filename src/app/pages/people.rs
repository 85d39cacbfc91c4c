//! `/sign-in`, `/setup` (only while nobody can sign in) and `/users` (admins).
//! Signing in and setting up are plain form posts, so they work before the
//! page's wasm has loaded.

use crate::api::dto::UserView;
use crate::api::{load_sign_in_info, load_users, load_viewer, AddUser, RemoveUser};
use crate::app::format::utc;
use crate::domain::redirect::local_path;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

/// A sentence for the error code the sign-in form comes back with.
fn sign_in_error(code: &str) -> Option<String> {
    Some(match code {
        "" => return None,
        "invalid" => "That email and password do not match a user. Check both and try again.".into(),
        "missing" => "Enter your email and your password.".into(),
        "unavailable" => "Signing in is not possible right now (the database did not answer). Try again in a minute.".into(),
        "set-up" => "authwatch is already set up: sign in.".into(),
        "busy" => "authwatch is busy checking other sign-ins at this moment, so your password was not checked (this does not count as a failed attempt). Try again in a moment.".into(),
        throttled if throttled.starts_with("throttled-") => {
            let minutes = throttled.trim_start_matches("throttled-");
            format!("Too many failed sign-ins from here or for this email. For your safety, wait {minutes} min, then try again. Forgot the password? An admin can add you again.")
        }
        _ => "Signing in failed. Try again.".into(),
    })
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || sign_in_error(&query.read().get("error").unwrap_or_default());
    // Only a path on this site goes into the form: a link can carry anything.
    let next = move || query.read().get("next").filter(|n| local_path(n).is_some()).unwrap_or_else(|| "/".into());
    let signed_out = move || query.read().get("signed_out").is_some();
    let info = Resource::new(|| (), |_| load_sign_in_info());
    view! {
        <section class="sign-in">
            <h1>"Sign in"</h1>
            {move || signed_out().then(|| view! { <p class="flash success" role="status">"You are signed out."</p> })}
            {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <form method="post" action="/auth/sign-in" class="stacked">
                <input type="hidden" name="next" value=next/>
                <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                <button type="submit">"Sign in"</button>
            </form>
            <Suspense fallback=|| ()>
                {move || info.get().and_then(Result::ok).map(|i| view! {
                    {i.setup_needed.then(|| view! {
                        <p class="warning">"Nobody can sign in yet. " <a href="/setup">"Create the first admin"</a> "."</p>
                    })}
                    {(!i.demo_users.is_empty()).then(|| view! {
                        <div class="banner demo demo-users" role="note">
                            <p>"Demo mode: sign in as one of these (they exist only in demo mode)."</p>
                            <table>
                                <thead><tr><th>"Who"</th><th>"Email"</th><th>"Password"</th></tr></thead>
                                <tbody>
                                    {i.demo_users.into_iter().map(|u| view! {
                                        <tr data-role=u.role.as_str()>
                                            <td>{u.name} " (" {u.role.as_str()} ")"</td>
                                            <td><code>{u.email}</code></td>
                                            <td><code>{u.password}</code></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    })}
                })}
            </Suspense>
        </section>
    }
}

fn setup_error(code: &str) -> Option<&'static str> {
    Some(match code {
        "" => return None,
        "email" => "That is not an email address.",
        "name" => "Give your name.",
        "mismatch" => "The two passwords differ.",
        "short" => "The password must be at least 12 characters.",
        "busy" => {
            "authwatch is busy checking other passwords at this moment; nothing was created. Try again in a moment."
        }
        _ => "Setting up failed. Try again.",
    })
}

/// The one-time setup: creates the first admin while no user exists.
#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || setup_error(&query.read().get("error").unwrap_or_default());
    let info = Resource::new(|| (), |_| load_sign_in_info());
    view! {
        <section class="setup">
            <h1>"Set up authwatch"</h1>
            <Suspense fallback=|| ()>
                {move || info.get().and_then(Result::ok).map(|i| if i.setup_needed {
                    view! {
                        <p>"Create the first admin. This page works only until someone can sign in; later users are added by an admin."</p>
                        {error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                        <form method="post" action="/auth/setup" class="stacked">
                            <label>"Your name" <input type="text" name="name" autocomplete="name" required maxlength="200"/></label>
                            <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                            <label>"Password (12 characters or more)" <input type="password" name="password" autocomplete="new-password" required minlength="12"/></label>
                            <label>"Password again" <input type="password" name="confirm" autocomplete="new-password" required minlength="12"/></label>
                            <button type="submit">"Create the admin"</button>
                        </form>
                    }.into_any()
                } else {
                    view! { <p>"authwatch is set up. " <a href="/sign-in">"Sign in"</a> "."</p> }.into_any()
                })}
            </Suspense>
        </section>
    }
}

/// `/users`: who can sign in, adding and removing someone (admins). Each
/// button is a form that posts.
#[component]
pub fn UsersPage() -> impl IntoView {
    let users = Resource::new(|| (), |_| load_users());
    let me = Resource::new(|| (), |_| load_viewer());
    let my_email = move || me.get().and_then(Result::ok).flatten().map(|v| v.email).unwrap_or_default();
    view! {
        <section class="users">
            <h1>"Users"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || users.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) => view! {
                        <UserTable users=list me=my_email()/>
                        <AddUserForm/>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn UserTable(users: Vec<UserView>, me: String) -> impl IntoView {
    view! {
        <table class="user-list">
            <thead><tr><th>"Name"</th><th>"Email"</th><th>"Role"</th><th>"Owns"</th><th>"Added"</th><th></th></tr></thead>
            <tbody>
                {users.into_iter().map(|u| { let key = u.email.clone(); let is_me = u.email == me; view! {
                    <tr data-email=key>
                        <td data-label="Name">{u.name}</td>
                        <td data-label="Email">{u.email}</td>
                        <td data-label="Role">{u.role.as_str()}</td>
                        <td data-label="Owns">{u.owns} " accounts"</td>
                        <td data-label="Added">{utc(u.created_at)}</td>
                        <td>{(!is_me).then(|| view! {
                            <form method="post" action=RemoveUser::url() class="inline" data-live-post>
                                <input type="hidden" name="id" value=u.id.clone()/>
                                <button type="submit" class="small">"Remove"</button>
                            </form>
                        })}</td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn AddUserForm() -> impl IntoView {
    view! {
        <h2>"Add a user"</h2>
        <form method="post" action=AddUser::url() class="stacked" data-live-post>
            <label>"Name" <input type="text" name="name" required maxlength="200"/></label>
            <label>"Email" <input type="email" name="email" required/></label>
            <label>"Role "
                <select name="role">
                    <option value="Manager" selected>"manager: sees every account, acts on the ones they own"</option>
                    <option value="Admin">"admin: also settings, users and owners"</option>
                </select>
            </label>
            <label>"First password (12 characters or more)" <input type="password" name="password" required minlength="12" autocomplete="new-password"/></label>
            <button type="submit">"Add"</button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_reads_as_a_sentence() {
        assert_eq!(sign_in_error(""), None);
        assert!(sign_in_error("throttled-7").unwrap().contains("wait 7 min"));
        assert!(sign_in_error("invalid").unwrap().contains("do not match"));
        assert!(sign_in_error("busy").unwrap().contains("Try again in a moment"));
        assert_eq!(setup_error("short"), Some("The password must be at least 12 characters."));
    }
}
