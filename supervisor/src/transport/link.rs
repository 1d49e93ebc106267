//! AmqpLink: the replica's one RabbitMQ connection, reopened on demand. Consumers ask it for
//! the connection when they start; after a broker outage the first consumer to restart opens
//! a new one and the others share it. Whether the link is up tells a queue supervisor that a
//! consumer's failure was the broker's outage, not the consumer's fault, and when the link
//! next tries ([`AmqpLink::retry_in`]) tells it when to restart the consumer.
//!
//! While RabbitMQ refuses or does not answer, the link tries again only after a pause that
//! doubles from [`RETRY_FIRST`] up to [`RETRY_MAX`]; every caller in between gets the last
//! failure at once. However many callers want the connection (consumers restarting, the
//! control listener, a sweeper with 200 decisions whose effects wait for the broker), a
//! replica makes at most one connection attempt per pause, not one per caller.

use crate::config::AmqpConfig;
use crate::connect::{self, Unreachable};
use lapin::Connection;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The pause after the first failed attempt.
pub const RETRY_FIRST: Duration = Duration::from_millis(500);
/// The longest pause between attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(5);

pub struct AmqpLink {
    config: AmqpConfig,
    name: String,
    current: Mutex<State>,
}

#[derive(Default)]
struct State {
    connection: Option<Arc<Connection>>,
    /// The last failed attempt: what it said, when the next may run, and the pause after it.
    failed: Option<(Unreachable, Instant, Duration)>,
}

impl State {
    /// The connection, while it is open.
    fn open(&self) -> Option<&Arc<Connection>> {
        self.connection.as_ref().filter(|c| c.status().connected())
    }
}

impl AmqpLink {
    pub fn new(config: AmqpConfig, name: &str) -> Self {
        Self { config, name: name.to_string(), current: Mutex::new(State::default()) }
    }

    /// The open connection, or a new one when it is closed (one caller connects at a time; after
    /// a failure, not before the pause is over).
    pub async fn connection(&self) -> Result<Arc<Connection>, Unreachable> {
        let mut state = self.current.lock().await;
        if let Some(conn) = state.open() {
            return Ok(conn.clone());
        }
        let pause = match &state.failed {
            Some((last, next, _)) if Instant::now() < *next => return Err(last.clone()),
            Some((_, _, pause)) => (*pause * 2).min(RETRY_MAX),
            None => RETRY_FIRST,
        };
        match connect::amqp(&self.config, &self.name).await {
            Ok(conn) => {
                tracing::info!("connected to RabbitMQ");
                let conn = Arc::new(conn);
                *state = State { connection: Some(conn.clone()), failed: None };
                Ok(conn)
            }
            Err(e) => {
                state.failed = Some((e.clone(), Instant::now() + pause, pause));
                Err(e)
            }
        }
    }

    /// True while the connection is open.
    pub async fn is_up(&self) -> bool {
        self.current.lock().await.open().is_some()
    }

    /// While the connection is not open: how long until the link will try again (zero when it
    /// has not failed yet). None while it is open. A caller that waits this long before asking
    /// for the connection gets a fresh attempt, not the last failure.
    pub async fn retry_in(&self) -> Option<Duration> {
        let state = self.current.lock().await;
        if state.open().is_some() {
            return None;
        }
        Some(
            state
                .failed
                .as_ref()
                .map_or(Duration::ZERO, |(_, next, _)| next.saturating_duration_since(Instant::now())),
        )
    }

    pub async fn close(&self) {
        if let Some(conn) = self.current.lock().await.connection.take() {
            let _ = conn.close(200, "shutdown".into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A port that takes TCP connections and closes them at once (a broker that refuses),
    /// counting them.
    async fn refusing_broker() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        (format!("amqp://guest:guest@127.0.0.1:{port}/%2f"), accepted)
    }

    #[tokio::test]
    async fn many_callers_while_the_broker_refuses_make_one_attempt_per_pause() {
        let (url, accepted) = refusing_broker().await;
        let config = AmqpConfig {
            url,
            management_url: None,
            heartbeat: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
        };
        let link = Arc::new(AmqpLink::new(config, "test"));
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let link = link.clone();
                tokio::spawn(async move { link.connection().await.is_err() })
            })
            .collect();
        for caller in callers {
            assert!(caller.await.expect("joined"), "a refusing broker gave a connection");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "50 callers within the pause: one attempt");
        let failure = link.connection().await.expect_err("still failing");
        assert!(failure.to_string().contains("RabbitMQ"), "{failure}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        let wait = link.retry_in().await.expect("not connected");
        assert!(wait > Duration::ZERO && wait <= RETRY_FIRST, "{wait:?}");

        // After the pause the link tries again (and the pause doubles).
        tokio::time::sleep(RETRY_FIRST + Duration::from_millis(100)).await;
        assert!(link.connection().await.is_err());
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        tokio::time::sleep(RETRY_FIRST + Duration::from_millis(100)).await;
        assert!(link.connection().await.is_err());
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "the second pause is twice the first");
        tokio::time::sleep(link.retry_in().await.expect("not connected")).await;
        assert!(link.connection().await.is_err());
        assert_eq!(accepted.load(Ordering::SeqCst), 3, "retry_in says when the next attempt is due");
    }
}
