//! `/`: every connected X account's auth health at a glance.

use leptos::prelude::*;

/// Which accounts the list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    All,
    NeedsPerson,
}

impl Filter {
    fn label(self) -> &'static str {
        match self {
            Self::All => "All accounts",
            Self::NeedsPerson => "Needs a person",
        }
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let (filter, set_filter) = signal(Filter::All);
    let chip = move |f: Filter| {
        view! {
            <button
                class="chip"
                aria-pressed=move || (filter.get() == f).to_string()
                on:click=move |_| set_filter.set(f)
            >
                {f.label()}
            </button>
        }
    };
    view! {
        <section class="dashboard">
            <h1>"Accounts"</h1>
            <div class="filters" role="group" aria-label="Filter by health">
                {chip(Filter::All)}
                {chip(Filter::NeedsPerson)}
            </div>
            <p class="showing">"Showing: " {move || filter.get().label()}</p>
            <p class="empty">"No X accounts are connected yet."</p>
        </section>
    }
}
