//! Delivery reports, served on the runtime instead of a thread of their own.
//!
//! rdkafka's `FutureProducer` keeps a thread that waits on librdkafka's queue of reports and
//! hands each batch to the tasks awaiting them: two wake-ups across threads per batch, and a
//! tenth of a replica's CPU at load (docs/benchmarks.md, eleventh round). Here a task on the
//! runtime polls that queue without waiting: every [`POLL_EVERY`] while a record awaits its
//! report, every [`IDLE_POLL`] otherwise (statistics, errors). A report completes its record's
//! [`Report`] on the runtime's own thread.

use super::kafka_stats;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

/// How often the reports are polled while records await them. A report waits at most this
/// much longer than it would for a thread blocked on the queue; the producer's `linger.ms`
/// (5 by default) is longer.
pub const POLL_EVERY: Duration = Duration::from_millis(1);

/// How often the queue is polled when no record awaits a report (statistics every 5 s).
pub const IDLE_POLL: Duration = Duration::from_millis(500);

/// The most events served in one turn before the runtime gets its thread back (a flood of
/// librdkafka log lines, say); the rest wait [`POLL_EVERY`].
const TURN: usize = 4096;

/// Where a record's delivery report goes.
pub type Report = oneshot::Sender<KafkaResult<()>>;

/// The producer's context: completes each record's [`Report`] and counts what is awaited.
#[derive(Default)]
pub struct Deliveries {
    /// Records handed to librdkafka.
    sent: AtomicU64,
    /// Reports served (delivered or failed).
    reported: AtomicU64,
    /// Events served of any kind (reports, statistics, log lines, errors): a poll that serves
    /// none found the queue empty.
    served: AtomicU64,
    /// Wakes the poller when a record is handed over while it idles.
    wake: Notify,
}

impl Deliveries {
    /// Counts a record about to be handed over (before, so its report cannot come first).
    pub fn sending(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// A record librdkafka refused: no report will come for it.
    pub fn refused(&self) {
        self.sent.fetch_sub(1, Ordering::Relaxed);
    }

    fn reported(&self) -> u64 {
        self.reported.load(Ordering::Relaxed)
    }

    /// Events served so far, of any kind.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn serving(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a record handed over still awaits its report.
    pub fn awaited_any(&self) -> bool {
        self.sent.load(Ordering::Relaxed) > self.reported()
    }
}

/// Statistics go to the produce request counters ([`kafka_stats::publish`]), log lines and
/// errors where rdkafka's default context sends them; each is counted as served.
impl ClientContext for Deliveries {
    fn stats_raw(&self, statistics: &[u8]) {
        self.serving();
        kafka_stats::publish(statistics);
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.serving();
        DefaultClientContext.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.serving();
        DefaultClientContext.error(error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Report>;

    fn delivery(&self, result: &DeliveryResult<'_>, report: Box<Report>) {
        self.serving();
        self.reported.fetch_add(1, Ordering::Relaxed);
        let _ = report.send(result.as_ref().map(|_| ()).map_err(|(e, _): &(KafkaError, _)| e.clone()));
    }
}

/// Serves the reports of `producer` until it is dropped.
pub async fn serve(producer: Weak<BaseProducer<Deliveries>>) {
    loop {
        let Some(strong) = producer.upgrade() else { return };
        let cut_short = !drain(&strong);
        let busy = cut_short || strong.context().awaited_any();
        let idle = Arc::clone(strong.context());
        drop(strong);
        if busy {
            tokio::time::sleep(POLL_EVERY).await;
        } else {
            tokio::select! {
                () = idle.wake.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}

/// Polls until a poll serves nothing (one event a poll; a report event carries a whole
/// batch's reports), at most [`TURN`] events; false when it stopped at that.
fn drain(producer: &BaseProducer<Deliveries>) -> bool {
    for _ in 0..TURN {
        let before = producer.context().served();
        producer.poll(Duration::ZERO);
        if producer.context().served() == before {
            return true;
        }
    }
    false
}
