//! A button that copies text to the clipboard and says so.

use leptos::prelude::*;

/// The copy button on a page of the server's, with nothing else live around it.
#[island]
pub fn CopyIsland(text: String) -> impl IntoView {
    view! { <CopyButton text=text/> }
}

/// The copy button inside an island.
#[component]
pub fn CopyButton(text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <button type="button" class="copy" on:click=move |_| {
            copy_to_clipboard(&text);
            copied.set(true);
        }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
    }
}

/// Copies text to the clipboard (browser only; nothing on the server).
#[cfg(feature = "hydrate")]
fn copy_to_clipboard(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}

/// Copies text to the clipboard (browser only; nothing on the server).
#[cfg(not(feature = "hydrate"))]
fn copy_to_clipboard(_text: &str) {}
