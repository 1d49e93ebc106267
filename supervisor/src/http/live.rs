//! `GET /api/hitl/stream`: the dashboard's live feed, as Server-Sent Events. The first event,
//! `hello`, tells the page to load the pending list (so every reconnect catches up on what it
//! missed); then `change` events name the decisions that came and went ([`PendingChange`]).
//! A subscriber that falls behind gets `hello` again. The stream ends when the replica stops or
//! the caller's token expires, and browsers reconnect by themselves (`retry` 2 s).

use super::caller::Caller;
use super::AppState;
use crate::hitl::watch::PendingChange;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// One event of the feed.
enum Next {
    Hello,
    Change(PendingChange),
}

fn event(next: Next) -> Event {
    match next {
        Next::Hello => Event::default().event("hello").data("{}").retry(Duration::from_secs(2)),
        Next::Change(change) => match serde_json::to_string(&change) {
            Ok(data) => Event::default().event("change").data(data),
            // Not reachable for ids and counts; the page reloads on hello either way.
            Err(_) => Event::default().event("hello").data("{}"),
        },
    }
}

#[utoipa::path(get, path = "/api/hitl/stream", tag = "decisions", operation_id = "live_feed",
    responses((status = 200, description = "Server-Sent Events: hello (load the pending list), then change {added, removed, pending} as decisions come and go", content_type = "text/event-stream")))]
pub(super) async fn stream(State(state): State<AppState>, caller: Caller) -> impl IntoResponse {
    let feed = state.live.subscribe().await;
    let stop = state.live.stopping();
    // The stream also ends when the caller's token expires: the page then finds its session
    // gone when it reconnects.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let expires =
        tokio::time::Instant::now() + Duration::from_secs(caller.principal.expires_at.saturating_sub(now));
    let events = stream::unfold((feed, stop, true), move |(mut feed, stop, first)| async move {
        if first {
            return Some((Next::Hello, (feed, stop, false)));
        }
        let next = tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep_until(expires) => return None,
            got = feed.recv() => match got {
                Ok(change) => Next::Change(change),
                Err(RecvError::Lagged(_)) => Next::Hello,
                Err(RecvError::Closed) => return None,
            },
        };
        Some((next, (feed, stop, false)))
    });
    sse(events)
}

fn sse(events: impl Stream<Item = Next> + Send + 'static) -> impl IntoResponse {
    use futures_util::StreamExt;
    let body = events.map(|next| Ok::<Event, Infallible>(event(next)));
    // Proxies must not buffer the feed.
    (
        [("x-accel-buffering", "no")],
        Sse::new(body).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
}
