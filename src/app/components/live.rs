//! Keeping a server-rendered page live. The pages are the server's; one
//! island, [`Live`], at the end of every page, makes them live in the browser:
//! - every time on the page (`<time data-ago>`, countdowns, token ages, life
//!   bars) ticks each second, by the same functions that rendered it;
//! - a page that asks for it (`data-live-poll` on its section) is fetched
//!   again when the server says something changed (`/live`, server-sent
//!   events), or every few seconds while that stream is down, and its
//!   `<main>` replaced, so what the server knows shows without a reload;
//!   [`LiveMode`] on the page says which;
//! - links and forms marked `data-live-nav` (filters, pages, search) and
//!   forms marked `data-live-post` (every button) are fetched in place.
//!
//! Everything it does is an ordinary link or form underneath: without the
//! wasm, or before it loads, the same clicks navigate and post, and the
//! server answers the same pages (see `server::forms`).

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The island that makes the page live; also marks it hydrated
/// (`data-hydrated`), for tests and for people debugging. It is the last
/// island of every page: islands hydrate in document order.
#[island]
pub fn Live() -> impl IntoView {
    let (hydrated, set_hydrated) = signal(false);
    let problem = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        browser::start(problem);
        set_hydrated.set(true);
    });
    view! {
        <p class="live-problem" role="alert" hidden=move || problem.get().is_none()>
            {move || problem.get().unwrap_or_default()}
        </p>
        <span class="hydration-mark" hidden data-hydrated=move || hydrated.get().to_string()></span>
    }
}

/// How the page is kept up to date, for its "Updated … ago" line. The
/// server's words hold without the wasm; the [`Live`] island replaces them
/// with "live" or the polling it falls back to.
#[component]
pub fn LiveMode() -> impl IntoView {
    view! { <span class="live-mode" data-live-mode>"reload the page to update"</span> }
}

/// What the browser does for [`Live`]: plain DOM work over the server's HTML.
#[cfg(feature = "hydrate")]
mod browser {
    use crate::app::format::{duration, expiry_countdown, expiry_in, life_style, relative};
    use leptos::prelude::*;
    use std::cell::{Cell, RefCell};
    use std::time::Duration;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{Element, HtmlFormElement, MouseEvent, SubmitEvent};

    /// Seconds between refetches of a page that asks for them, while the
    /// live stream is down.
    const POLL_SECS: u64 = 10;
    /// The least time between two refetches (ms): a burst of changes is one
    /// page load a second at most.
    const REFETCH_GAP_MS: f64 = 1_000.0;
    /// How long a stream may take to say hello, or to come back after it
    /// ended, before the page polls again (ms).
    const GRACE_MS: f64 = 5_000.0;
    /// The first and the longest wait before opening a stream again after
    /// the server refused one (ms): a refusal is not retried by the browser.
    const REOPEN_FIRST_MS: f64 = 5_000.0;
    const REOPEN_MAX_MS: f64 = 60_000.0;

    thread_local! {
        /// The server's clock minus the browser's, from the last page seen.
        static OFFSET: Cell<i64> = const { Cell::new(0) };
        /// Counts navigations and posts: only the newest one's page is shown.
        static GENERATION: Cell<u64> = const { Cell::new(0) };
        /// Navigations and posts under way: no poll replaces their page.
        static BUSY: Cell<u32> = const { Cell::new(0) };
        /// The server said something changed that the page may not show yet.
        static STALE: Cell<bool> = const { Cell::new(false) };
        /// A refetch is under way, or one waits for [`REFETCH_GAP_MS`].
        static REFETCHING: Cell<bool> = const { Cell::new(false) };
        static WAITING: Cell<bool> = const { Cell::new(false) };
        /// When the last refetch started (ms, the browser's clock).
        static REFETCHED_AT: Cell<f64> = const { Cell::new(f64::NEG_INFINITY) };
        /// The live stream, while the page wants one.
        static STREAM: RefCell<Option<Stream>> = const { RefCell::new(None) };
        /// When a refused stream may be opened again, and the wait after that (ms).
        static REOPEN_AT: Cell<f64> = const { Cell::new(0.0) };
        static REOPEN_WAIT: Cell<f64> = const { Cell::new(REOPEN_FIRST_MS) };
    }

    /// An open `EventSource` on `/live`, with the listeners it calls.
    struct Stream {
        source: web_sys::EventSource,
        /// Said hello and has not failed since.
        up: bool,
        /// Said hello at least once: a failure now is the browser reconnecting.
        was_up: bool,
        /// When it was opened, or stopped being up (ms, the browser's clock).
        since: f64,
        _listeners: [Closure<dyn FnMut(web_sys::Event)>; 3],
    }

    impl Drop for Stream {
        fn drop(&mut self) {
            self.source.close();
        }
    }

    /// How the page is kept up to date now.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mode {
        /// The stream is up (or briefly reconnecting, as it does each minute).
        Live,
        /// The stream is being opened and has not said hello yet.
        Connecting,
        /// No stream: the page is fetched again every [`POLL_SECS`].
        Polling,
    }

    fn mode() -> Mode {
        STREAM.with_borrow(|stream| match stream {
            Some(s) if s.up => Mode::Live,
            Some(s) if js_sys::Date::now() - s.since < GRACE_MS => {
                if s.was_up {
                    Mode::Live
                } else {
                    Mode::Connecting
                }
            }
            _ => Mode::Polling,
        })
    }

    /// The event an island sends when it changed what the page shows.
    pub const CHANGED: &str = "authwatch:changed";

    /// Listens on the window, for the whole life of the page: clicks and
    /// submits bubble up to it, so pages swapped in later are served too.
    pub fn start(problem: RwSignal<Option<String>>) {
        read_clock();
        follow_changes(problem);
        let _ = set_interval_with_handle(
            move || {
                tick();
                follow_changes(problem);
                refetch_if_stale(problem);
            },
            Duration::from_secs(1),
        );
        let _ = set_interval_with_handle(move || poll(problem), Duration::from_secs(POLL_SECS));
        window_event_listener(leptos::ev::click, move |ev| on_click(ev, problem));
        window_event_listener(leptos::ev::submit, move |ev| on_submit(ev, problem));
        window_event_listener(leptos::ev::popstate, move |_| show_again(problem));
        window_event_listener_untyped(CHANGED, move |_| show_again(problem));
        window_event_listener_untyped("visibilitychange", move |_| {
            follow_changes(problem);
            refetch_if_stale(problem);
        });
    }

    /// Whether the page shown asks to be kept up to date.
    fn wants_updates() -> bool {
        document().query_selector("main [data-live-poll]").ok().flatten().is_some()
    }

    /// Opens the live stream when the page wants one and is in view, closes
    /// it when not (a hidden tab holds no connection; coming back, its
    /// `hello` says whether it missed something).
    fn follow_changes(problem: RwSignal<Option<String>>) {
        let wanted = wants_updates() && !document().hidden();
        let open = STREAM.with_borrow(Option::is_some);
        if wanted && !open && js_sys::Date::now() >= REOPEN_AT.get() {
            open_stream(problem);
        } else if !wanted && open {
            STREAM.take();
        }
        show_mode();
    }

    fn open_stream(problem: RwSignal<Option<String>>) {
        let Ok(source) = web_sys::EventSource::new("/live") else {
            REOPEN_AT.set(js_sys::Date::now() + REOPEN_MAX_MS);
            return;
        };
        let listener = |f: fn(web_sys::Event, RwSignal<Option<String>>)| {
            Closure::<dyn FnMut(web_sys::Event)>::new(move |ev| f(ev, problem))
        };
        let listeners = [listener(on_hello), listener(on_changed), listener(on_stream_error)];
        let _ = source.add_event_listener_with_callback("hello", listeners[0].as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("changed", listeners[1].as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("error", listeners[2].as_ref().unchecked_ref());
        let stream = Stream { source, up: false, was_up: false, since: js_sys::Date::now(), _listeners: listeners };
        STREAM.set(Some(stream));
    }

    /// The stream is up: polling stops. A change announced after the page
    /// was made (while no stream was open) is fetched now.
    fn on_hello(ev: web_sys::Event, problem: RwSignal<Option<String>>) {
        STREAM.with_borrow_mut(|stream| {
            if let Some(s) = stream {
                s.up = true;
                s.was_up = true;
            }
        });
        REOPEN_WAIT.set(REOPEN_FIRST_MS);
        let page_made = document()
            .query_selector("main [data-now]")
            .ok()
            .flatten()
            .and_then(|e| e.get_attribute("data-now"))
            .and_then(|n| n.parse::<i64>().ok());
        if let (Some(changed), Some(page_made)) = (announced_at(&ev), page_made) {
            if changed > page_made {
                refetch_soon(problem);
            }
        }
        show_mode();
    }

    fn on_changed(_: web_sys::Event, problem: RwSignal<Option<String>>) {
        refetch_soon(problem);
    }

    /// A stream that failed is opened again by the browser; one the server
    /// refused (503 when full, 401 signed out) is not, so it is opened again
    /// here, later and later. Either way the page polls meanwhile.
    fn on_stream_error(_: web_sys::Event, _: RwSignal<Option<String>>) {
        let closed = STREAM.with_borrow_mut(|stream| match stream {
            Some(s) => {
                // The grace counts from when it stopped being up, not from
                // each failed attempt to come back.
                if s.up {
                    s.up = false;
                    s.since = js_sys::Date::now();
                }
                s.source.ready_state() == web_sys::EventSource::CLOSED
            }
            None => false,
        });
        if closed {
            let wait = REOPEN_WAIT.get();
            REOPEN_AT.set(js_sys::Date::now() + wait);
            REOPEN_WAIT.set((wait * 2.0).min(REOPEN_MAX_MS));
            // Not dropped here: this very listener belongs to it.
            let stream = STREAM.take();
            leptos::task::spawn_local(async move { drop(stream) });
        }
        show_mode();
    }

    /// When the server made its last announcement (the data of `hello` and `changed`).
    fn announced_at(ev: &web_sys::Event) -> Option<i64> {
        ev.dyn_ref::<web_sys::MessageEvent>()?.data().as_string()?.parse().ok()
    }

    /// Says on the page how it is kept up to date.
    fn show_mode() {
        let text = match mode() {
            Mode::Live => "live".to_owned(),
            Mode::Connecting => "connecting to live updates…".to_owned(),
            Mode::Polling => format!("refreshing every {POLL_SECS} s (live updates unavailable)"),
        };
        each("[data-live-mode]", |e| {
            if e.text_content().as_deref() != Some(text.as_str()) {
                e.set_text_content(Some(&text));
            }
        });
    }

    /// Fetches the current address again and shows it, now.
    fn show_again(problem: RwSignal<Option<String>>) {
        let href = window().location().href().unwrap_or_default();
        leptos::task::spawn_local(show(Request::Get(href), None, problem));
    }

    fn now() -> i64 {
        js_sys::Date::now() as i64 + OFFSET.get()
    }

    /// The page's section carries the server's clock (`data-now`) when it was made.
    fn read_clock() {
        let server_now = document()
            .query_selector("main [data-now]")
            .ok()
            .flatten()
            .and_then(|e| e.get_attribute("data-now"))
            .and_then(|n| n.parse::<i64>().ok());
        if let Some(server_now) = server_now {
            OFFSET.set(server_now - js_sys::Date::now() as i64);
        }
    }

    fn each(selector: &str, mut f: impl FnMut(&Element)) {
        if let Ok(nodes) = document().query_selector_all(selector) {
            for i in 0..nodes.length() {
                if let Some(e) = nodes.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    f(&e);
                }
            }
        }
    }

    fn ms(e: &Element, name: &str) -> Option<i64> {
        e.get_attribute(name)?.parse().ok()
    }

    /// Brings every time on the page up to now.
    fn tick() {
        let now = now();
        each("[data-ago]", |e| {
            if let Some(at) = ms(e, "data-ago") {
                e.set_text_content(Some(&relative(now, at)));
            }
        });
        each("[data-age]", |e| {
            if let Some(at) = ms(e, "data-age") {
                e.set_text_content(Some(&duration(now - at)));
            }
        });
        each("[data-countdown]", |e| {
            if let Some(at) = ms(e, "data-countdown") {
                e.set_text_content(Some(&expiry_countdown(now, at)));
            }
        });
        each("[data-expires]", |e| {
            if let Some(at) = ms(e, "data-expires") {
                e.set_text_content(Some(&expiry_in(now, at)));
            }
        });
        each("[data-life-from]", |e| {
            if let (Some(from), Some(to)) = (ms(e, "data-life-from"), ms(e, "data-life-to")) {
                let _ = e.set_attribute("style", &life_style(now, from, to));
            }
        });
    }

    /// While the stream is down: fetches the page again.
    fn poll(problem: RwSignal<Option<String>>) {
        if mode() == Mode::Polling {
            refetch_soon(problem);
        }
    }

    /// The page may be out of date: fetches it again as soon as it may.
    fn refetch_soon(problem: RwSignal<Option<String>>) {
        STALE.set(true);
        refetch_if_stale(problem);
    }

    /// Fetches the page again if it may be out of date, unless the person
    /// is typing on it or waits for a navigation or post of their own (the
    /// next tick tries again), or a refetch is under way (one more follows
    /// it), at most once per [`REFETCH_GAP_MS`].
    fn refetch_if_stale(problem: RwSignal<Option<String>>) {
        let document = document();
        let typing = document.active_element().is_some_and(|e| {
            matches!(e.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
                && e.closest("main").ok().flatten().is_some()
        });
        if !STALE.get() || REFETCHING.get() || !wants_updates() || typing || document.hidden() || BUSY.get() > 0 {
            return;
        }
        let wait = REFETCHED_AT.get() + REFETCH_GAP_MS - js_sys::Date::now();
        if wait > 0.0 {
            if !WAITING.replace(true) {
                set_timeout(
                    move || {
                        WAITING.set(false);
                        refetch_if_stale(problem);
                    },
                    Duration::from_millis(wait as u64 + 1),
                );
            }
            return;
        }
        STALE.set(false);
        REFETCHING.set(true);
        REFETCHED_AT.set(js_sys::Date::now());
        let href = window().location().href().unwrap_or_default();
        let generation = GENERATION.get();
        leptos::task::spawn_local(async move {
            match fetch(&Request::Get(href)).await {
                Ok(page) if GENERATION.get() == generation && BUSY.get() == 0 => {
                    problem.set(None);
                    swap(&page.html, Keep::Messages);
                }
                Ok(_) => {}
                Err(e) => {
                    problem.set(Some(format!("Could not update this page: {e}. It shows what it showed before.")))
                }
            }
            REFETCHING.set(false);
            refetch_if_stale(problem);
        });
    }

    fn on_click(ev: MouseEvent, problem: RwSignal<Option<String>>) {
        if ev.default_prevented()
            || ev.button() != 0
            || ev.ctrl_key()
            || ev.meta_key()
            || ev.shift_key()
            || ev.alt_key()
        {
            return;
        }
        let Some(link) = ev
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|e| e.closest("[data-live-nav] a[href], a[data-live-nav][href]").ok().flatten())
        else {
            return;
        };
        let Some(href) = link.dyn_ref::<web_sys::HtmlAnchorElement>().map(|a| a.href()) else { return };
        ev.prevent_default();
        leptos::task::spawn_local(show(Request::Get(href.clone()), Some(href), problem));
    }

    fn on_submit(ev: SubmitEvent, problem: RwSignal<Option<String>>) {
        if ev.default_prevented() {
            return;
        }
        let Some(form) = ev.target().and_then(|t| t.dyn_into::<HtmlFormElement>().ok()) else { return };
        let navigates = form.has_attribute("data-live-nav");
        if !navigates && !form.has_attribute("data-live-post") {
            return;
        }
        let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
        // The button pressed is part of what the form says (the demo panel's actions).
        if let Some(button) = ev.submitter().and_then(|s| s.dyn_into::<Element>().ok()) {
            if let (Some(name), Some(value)) = (button.get_attribute("name"), button.get_attribute("value")) {
                let _ = data.append_with_str(&name, &value);
            }
        }
        let Ok(params) = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data) else { return };
        let query: String = params.to_string().into();
        ev.prevent_default();
        if navigates {
            let href = format!("{}?{query}", form.action());
            leptos::task::spawn_local(show(Request::Get(href.clone()), Some(href), problem));
        } else {
            set_busy(&form, true);
            leptos::task::spawn_local(async move {
                show(Request::Post { url: form.action(), body: query }, None, problem).await;
                set_busy(&form, false);
            });
        }
    }

    fn set_busy(form: &HtmlFormElement, busy: bool) {
        let _ = form.set_attribute("aria-busy", if busy { "true" } else { "false" });
        if let Ok(buttons) = form.query_selector_all("button") {
            for i in 0..buttons.length() {
                if let Some(b) = buttons.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlButtonElement>().ok()) {
                    b.set_disabled(busy);
                }
            }
        }
    }

    pub enum Request {
        Get(String),
        Post { url: String, body: String },
    }

    struct Page {
        html: String,
        /// Where the answer came from, after redirects.
        url: String,
    }

    /// Fetches `request` and shows the page it answers; `push` puts the
    /// address in the history, as following a link would. A page on another
    /// path than the one asked for (signed out: the sign-in page) is
    /// opened for real.
    async fn show(request: Request, push: Option<String>, problem: RwSignal<Option<String>>) {
        let generation = GENERATION.get() + 1;
        GENERATION.set(generation);
        BUSY.set(BUSY.get() + 1);
        // The page this fetches is made after every change announced so far.
        STALE.set(false);
        let asked = match &request {
            Request::Get(url) => url.clone(),
            Request::Post { .. } => window().location().href().unwrap_or_default(),
        };
        let result = fetch(&request).await;
        BUSY.set(BUSY.get() - 1);
        if GENERATION.get() != generation {
            return;
        }
        match result {
            Ok(page) if path_of(&page.url) != path_of(&asked) => {
                let _ = window().location().assign(&page.url);
            }
            Ok(page) => {
                problem.set(None);
                if let Some(href) = push {
                    if let Ok(history) = window().history() {
                        let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&href));
                    }
                }
                swap(&page.html, Keep::Marked);
            }
            Err(e) => problem.set(Some(format!("That did not reach authwatch: {e}. Try again."))),
        }
    }

    fn path_of(url: &str) -> String {
        web_sys::Url::new(url).map(|u| u.pathname()).unwrap_or_default()
    }

    async fn fetch(request: &Request) -> Result<Page, String> {
        use wasm_bindgen_futures::JsFuture;
        let init = web_sys::RequestInit::new();
        let headers = web_sys::Headers::new().map_err(describe)?;
        headers.set("Accept", "text/html").map_err(describe)?;
        let url = match request {
            Request::Get(url) => url,
            Request::Post { url, body } => {
                init.set_method("POST");
                headers.set("Content-Type", "application/x-www-form-urlencoded").map_err(describe)?;
                init.set_body(&JsValue::from_str(body));
                url
            }
        };
        init.set_headers(&headers);
        let answer = JsFuture::from(window().fetch_with_str_and_init(url, &init)).await.map_err(describe)?;
        let answer: web_sys::Response = answer.dyn_into().map_err(describe)?;
        let html = JsFuture::from(answer.text().map_err(describe)?).await.map_err(describe)?;
        // A 404 or 410 is still a page to show (it says what happened); only
        // authwatch's own failure is not.
        if answer.status() >= 500 {
            return Err(format!("HTTP {}", answer.status()));
        }
        Ok(Page { html: html.as_string().unwrap_or_default(), url: answer.url() })
    }

    fn describe(e: JsValue) -> String {
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "the network failed".to_owned())
    }

    /// What of the page shown survives a [`swap`].
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Keep {
        /// What is marked `data-live-keep` (a secret shown once).
        Marked,
        /// That, and the messages shown once (`data-live-once`: an action's
        /// result): the same page fetched again no longer has them, and the
        /// person has not left it.
        Messages,
    }

    /// Replaces the page's `<main>` and header with the new page's, keeping
    /// what `keep` says, and makes the new islands live.
    fn swap(html: &str, keep: Keep) {
        let Ok(parser) = web_sys::DomParser::new() else { return };
        let Ok(new) = parser.parse_from_string(html, web_sys::SupportedType::TextHtml) else { return };
        let document = document();
        for selector in ["main", "header.top"] {
            let (Some(old), Some(fresh)) =
                (document.query_selector(selector).ok().flatten(), new.query_selector(selector).ok().flatten())
            else {
                continue;
            };
            keep_marked(&old, &fresh);
            let fresh = document.adopt_node(&fresh).ok().and_then(|n| n.dyn_into::<Element>().ok());
            if let (Some(fresh), Keep::Messages) = (&fresh, keep) {
                keep_messages(&old, fresh);
            }
            if let Some(fresh) = fresh {
                let _ = old.replace_with_with_node_1(&fresh);
                hydrate_islands(&fresh);
            }
        }
        if let Some(title) = new.query_selector("title").ok().flatten().and_then(|t| t.text_content()) {
            document.set_title(&title);
        }
        read_clock();
        tick();
        show_mode();
    }

    /// Moves each message shown once (`data-live-once`) of the old page
    /// into the new one where it was: the same child of the same place,
    /// found by its position from the root, which a page fetched again keeps.
    fn keep_messages(old: &Element, fresh: &Element) {
        if fresh.query_selector("[data-live-once]").ok().flatten().is_some() {
            return; // a newer message
        }
        let Ok(messages) = old.query_selector_all("[data-live-once]") else { return };
        let placed: Vec<(Element, Vec<u32>)> = (0..messages.length())
            .filter_map(|i| messages.item(i).and_then(|n| n.dyn_into::<Element>().ok()))
            .map(|message| {
                let path = path_from(old, &message);
                (message, path)
            })
            .collect();
        for (message, path) in placed {
            let Some((&index, above)) = path.split_first() else { continue };
            let place = above.iter().rev().try_fold(fresh.clone(), |p, &i| p.children().item(i));
            let place = place.unwrap_or_else(|| fresh.clone());
            let before = place.children().item(index);
            let _ = place.insert_before(&message, before.as_ref().map(|b| b.as_ref()));
        }
    }

    /// The position of `e` under `root`: its index among its parent's
    /// elements, then its parent's, up to `root`'s child.
    fn path_from(root: &Element, e: &Element) -> Vec<u32> {
        let mut path = Vec::new();
        let mut at = e.clone();
        while !at.is_same_node(Some(root.as_ref())) {
            let Some(parent) = at.parent_element() else { break };
            let children = parent.children();
            let index = (0..children.length()).find(|&i| children.item(i).is_some_and(|c| c == at));
            path.push(index.unwrap_or(0));
            at = parent;
        }
        path
    }

    /// Moves each `data-live-keep` element (with an id) of the old page into
    /// the new one in place of its namesake: its state, a secret the person
    /// has not copied yet, survives.
    fn keep_marked(old: &Element, fresh: &Element) {
        if let Ok(kept) = old.query_selector_all("[data-live-keep][id]") {
            for i in 0..kept.length() {
                let Some(kept) = kept.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else { continue };
                let selector = format!("[id=\"{}\"]", kept.id());
                if let Some(namesake) = fresh.query_selector(&selector).ok().flatten() {
                    let _ = namesake.replace_with_with_node_1(&kept);
                }
            }
        }
    }

    /// Hydrates the islands of a new part of the page, through the function
    /// leptos's island script gives the page; kept ones are live already.
    fn hydrate_islands(root: &Element) {
        let Ok(hydrate) = js_sys::Reflect::get(&window(), &JsValue::from_str("__hydrateIsland")) else { return };
        let Ok(hydrate) = hydrate.dyn_into::<js_sys::Function>() else { return };
        if let Ok(islands) = root.query_selector_all("leptos-island") {
            for i in 0..islands.length() {
                let Some(island) = islands.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else { continue };
                if island.closest("[data-live-keep]").ok().flatten().is_some() {
                    continue;
                }
                let id = island.get_attribute("data-component").unwrap_or_default();
                let _ = hydrate.call2(&JsValue::NULL, &island, &JsValue::from_str(&id));
            }
        }
    }
}

/// After each success of `action`, tells [`Live`] that the server's page
/// changed (a list that now holds what the action made).
pub fn page_changes_after<S>(action: ServerAction<S>)
where
    S: ServerFn + Send + Sync + Clone + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    Effect::new(move |_| {
        if action.value().with(|result| matches!(result, Some(Ok(_)))) {
            page_changed();
        }
    });
}

/// Tells [`Live`] that an island changed what the server would show: it
/// fetches the page again now instead of at the next poll.
fn page_changed() {
    #[cfg(feature = "hydrate")]
    {
        if let Ok(event) = web_sys::Event::new(browser::CHANGED) {
            let _ = leptos::prelude::window().dispatch_event(&event);
        }
    }
}
