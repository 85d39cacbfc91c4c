//! Keeping a page live without a reload: a clock that ticks every second
//! (for countdowns) and a poll counter that bumps every few seconds (for
//! refetching). Both only run in the browser: effects never run on the server.

use leptos::prelude::*;
use std::time::Duration;

/// Milliseconds elapsed since `reset` was last called, ticking every second.
#[derive(Clone, Copy)]
pub struct Ticker {
    elapsed: RwSignal<i64>,
}

impl Ticker {
    pub fn new() -> Self {
        let elapsed = RwSignal::new(0i64);
        Effect::new(move |_| {
            let handle = set_interval_with_handle(move || elapsed.update(|e| *e += 1000), Duration::from_secs(1)).ok();
            on_cleanup(move || {
                if let Some(h) = handle {
                    h.clear();
                }
            });
        });
        Self { elapsed }
    }

    pub fn elapsed(&self) -> i64 {
        self.elapsed.get()
    }

    pub fn reset(&self) {
        self.elapsed.set(0);
    }
}

/// A counter that grows every `every`: use it as a resource source to refetch.
pub fn poll(every: Duration) -> RwSignal<u32> {
    let count = RwSignal::new(0u32);
    Effect::new(move |_| {
        let handle = set_interval_with_handle(move || count.update(|n| *n += 1), every).ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });
    count
}
