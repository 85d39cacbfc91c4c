//! `GET /live`: the change feed ([`super::changes`]) as server-sent events,
//! for the pages the `Live` island keeps up to date. Signed-in users only
//! (the gate answers 401 to anyone else, and so does this handler).
//!
//! Events: `hello` once the stream is up, then `changed` at each
//! announcement. The data of both is when the last announcement was made
//! (ms since the epoch, the server's clock; 0 for none): a page rendered
//! before it fetches itself again, so a change made while a stream was
//! down is not missed.
//!
//! Each stream is a task's worth of memory for as long as it is open, so
//! their number is capped (`AUTHWATCH_LIVE_STREAMS_MAX`): beyond it the
//! answer is 503 and the page polls instead. A stream ends after
//! [`LIFETIME`] (the browser opens the next one at once, through the gate
//! again: a stream never outlives its session by long) and when the server
//! shuts down.

use super::auth::CurrentUser;
use super::changes::Changes;
use super::AppState;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures::{Stream, StreamExt};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The stream's path.
pub const PATH: &str = "/live";
/// A comment this often keeps proxies from closing a quiet stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long one stream lasts before the browser is made to open another.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// How long the browser waits before opening the next stream when one ends.
const RECONNECT: Duration = Duration::from_secs(1);
/// What a refused stream's `Retry-After` says.
const RETRY_AFTER_SECS: &str = "30";

/// The streams this process may still open.
#[derive(Clone)]
struct Slots(Arc<Semaphore>);

/// The `/live` route, with at most `max_streams` streams open at once.
pub fn router(max_streams: usize) -> Router<AppState> {
    Router::new().route(PATH, get(live)).layer(Extension(Slots(Arc::new(Semaphore::new(max_streams)))))
}

async fn live(
    State(state): State<AppState>,
    Extension(slots): Extension<Slots>,
    user: Option<Extension<CurrentUser>>,
) -> Response {
    if user.is_none_or(|Extension(user)| user.0.is_none()) {
        return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
    }
    let Ok(slot) = slots.0.try_acquire_owned() else {
        // At 0 live updates are off by choice: nothing to tell the operator.
        if state.config.live_streams_max > 0 {
            tracing::warn!(
                max = state.config.live_streams_max,
                "a live stream was refused: every slot is taken (AUTHWATCH_LIVE_STREAMS_MAX)"
            );
        }
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
            "Too many pages are following live updates on this server right now; this page refreshes itself every few seconds instead.",
        )
            .into_response();
    };
    let mut answer =
        Sse::new(events(state.changes.clone(), slot)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    // Proxies such as nginx would hold the events back otherwise.
    answer.headers_mut().insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
    answer
}

/// `hello`, then `changed` at each announcement, until [`LIFETIME`] is
/// over or the feed closes. `slot` is given back when the stream ends.
fn events(changes: Arc<Changes>, slot: OwnedSemaphorePermit) -> impl Stream<Item = Result<Event, Infallible>> {
    // Subscribed before the last announcement is read: none falls in between.
    let rx = changes.subscribe();
    let hello = Event::default().event("hello").retry(RECONNECT).data(last_at(&changes).to_string());
    let closed = changes.closed();
    let changed = futures::stream::unfold((rx, changes, slot), |(mut rx, changes, slot)| async move {
        let at = match rx.recv().await {
            Ok(change) => change.at,
            // Behind: the skipped announcements are one change to this page.
            Err(RecvError::Lagged(_)) => {
                rx = rx.resubscribe();
                last_at(&changes)
            }
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(Event::default().event("changed").data(at.to_string())), (rx, changes, slot)))
    });
    futures::stream::once(async move { Ok(hello) }).chain(changed).take_until(async move {
        tokio::select! {
            () = tokio::time::sleep(LIFETIME) => {}
            () = closed => {}
        }
    })
}

fn last_at(changes: &Changes) -> i64 {
    changes.last().map_or(0, |c| c.at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_and_data(event: &Event) -> String {
        // What goes on the wire, less the retry field and the line ends.
        event_text(event).lines().filter(|l| !l.is_empty() && !l.starts_with("retry:")).collect::<Vec<_>>().join(" ")
    }

    fn event_text(event: &Event) -> String {
        let response = Sse::new(futures::stream::iter([Ok::<_, Infallible>(event.clone())])).into_response();
        let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), usize::MAX)).unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_stream_far_behind_hears_one_change_not_an_error() {
        let changes = Arc::new(Changes::new());
        let slot = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let mut events = std::pin::pin!(events(changes.clone(), slot));
        let hello = events.next().await.unwrap().unwrap();
        assert_eq!(name_and_data(&hello), "event: hello data: 0");

        // Far more announcements than the stream may be behind, unread.
        let mut last = changes.send();
        for _ in 0..100 {
            last = changes.send();
        }
        let changed = events.next().await.expect("the stream goes on").unwrap();
        assert_eq!(name_and_data(&changed), format!("event: changed data: {}", last.at));
        let more = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
        assert!(more.is_err(), "one event for the lot, then nothing until the next change");

        changes.send();
        let next = tokio::time::timeout(Duration::from_secs(1), events.next()).await.unwrap().unwrap().unwrap();
        assert!(name_and_data(&next).starts_with("event: changed"));
    }
}
