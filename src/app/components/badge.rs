//! The health badge: health in words, coloured by how urgent it is.

use crate::domain::health::Health;
use leptos::prelude::*;

#[component]
pub fn HealthBadge(health: Health) -> impl IntoView {
    view! { <span class=format!("badge {}", health.slug())>{health.label()}</span> }
}
