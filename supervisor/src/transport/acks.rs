//! The acks of one RabbitMQ channel, folded into as few `basic.ack` frames as the order of
//! settlement allows. A task asks for its delivery's ack ([`Acks::ack`]) and waits until the
//! frame carrying it is written. The channel's one flusher task sends one frame with
//! `multiple` set for the asked tags at or under the settled prefix (every delivery up to it
//! settled). An ack above the prefix (a delivery before it still processing) is held until
//! the prefix passes it, for at most [`HOLD`]; then it goes in a frame of its own. A held ack
//! keeps its delivery's prefetch slot, so when the consumer waits for a delivery the broker
//! holds back because the prefetch is full, the held acks all go at once after at most
//! [`RELEASE_AFTER`] ([`Acks::next_from`]). RabbitMQ handles one frame instead of several,
//! and the client wakes its I/O thread once for them (docs/benchmarks.md, tenth and twelfth
//! rounds).
//!
//! A `multiple` ack covers only tags this channel's session settled ([`Window`]): acked here,
//! or requeued and reported with [`Acks::settled_elsewhere`]. A delivery handed over but not
//! settled (still processing, or dropped on the way) holds the prefix back. So no ack ever
//! covers a delivery nobody settled, and the tag a `multiple` frame names is always one still
//! unacked (RabbitMQ refuses an unknown tag).

use super::TransportError;
use futures_util::{FutureExt, Stream, StreamExt};
use lapin::options::BasicAckOptions;
use lapin::Channel;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// The longest an ack waits for the deliveries before it to settle; the outcome is durable
/// already, but the delivery keeps its prefetch slot until a consumer waiting for a delivery
/// releases it. Measured (docs/benchmarks.md, twelfth round): with that release, 0.57-0.71
/// ack frames per task at zero model latency and 0.29-0.31 at L = 200 ms instead of about 0.9,
/// RabbitMQ's CPU per task lower at L = 200 ms, the throughput unchanged. (The tenth round's
/// 50 ms hold without the release cost 4-5 points of C/L at L = 200 ms, C = 512: the held acks
/// used up the prefetch margin.)
pub const HOLD: Duration = Duration::from_millis(50);

/// How long a consumer waiting for a delivery, with the prefetch full and acks held, gives the
/// deliveries before them to settle (then one frame acks them all and frees the slots) before
/// the held acks go on their own.
pub const RELEASE_AFTER: Duration = Duration::from_millis(2);

/// Tags settled above an unsettled one that the window keeps before it stops folding (for the
/// rest of the channel's life: every ack then goes alone). At 2,000 tasks/s that is a delivery
/// unsettled for over two minutes; one byte per tag.
const WINDOW_LIMIT: usize = 1 << 18;

/// What was settled, by delivery tag (RabbitMQ numbers a channel's deliveries 1, 2, 3...).
#[derive(Debug, Default)]
pub struct Window {
    /// Every tag up to this one is settled.
    floor: u64,
    /// For the tags after `floor`, in order: settled or not.
    above: VecDeque<bool>,
    /// Folding stopped: a delivery stayed unsettled too long, or a tag came twice.
    off: bool,
}

impl Window {
    /// Marks `tag` settled.
    pub fn settle(&mut self, tag: u64) {
        if self.off {
            return;
        }
        let Some(at) = tag.checked_sub(self.floor + 1).and_then(|i| usize::try_from(i).ok()) else {
            return self.stop("a delivery tag came twice");
        };
        if at >= WINDOW_LIMIT {
            return self.stop("a delivery stayed unsettled too long");
        }
        if self.above.len() <= at {
            self.above.resize(at + 1, false);
        }
        if std::mem::replace(&mut self.above[at], true) {
            self.stop("a delivery tag came twice");
        }
    }

    fn stop(&mut self, why: &str) {
        tracing::debug!(why, "acks on this channel go one frame each from now on");
        self.off = true;
        self.above = VecDeque::new();
    }

    /// Whether a `multiple` ack up to `tag` covers only settled deliveries.
    fn folds(&mut self, tag: u64) -> bool {
        while self.above.front() == Some(&true) {
            self.above.pop_front();
            self.floor += 1;
        }
        !self.off && tag <= self.floor
    }
}

/// The frames that send what is due.
#[derive(Debug, PartialEq, Eq)]
pub struct Frames {
    /// One `multiple` ack up to this tag.
    pub up_to: Option<u64>,
    /// One ack each.
    pub single: Vec<u64>,
}

impl Frames {
    fn count(&self) -> usize {
        usize::from(self.up_to.is_some()) + self.single.len()
    }
}

/// Acks asked and not sent yet, each with what waits for it (`W`).
#[derive(Debug)]
pub struct Folder<W> {
    window: Window,
    held: Vec<(u64, Instant, W)>,
    /// Deliveries settled so far (acks asked, sent or held, and settled elsewhere).
    settled: u64,
    /// How long an ack above the settled prefix waits for it.
    hold: Duration,
}

impl<W> Folder<W> {
    pub fn new(hold: Duration) -> Self {
        Self { window: Window::default(), held: Vec::new(), settled: 0, hold }
    }

    /// The ack of `tag`, asked at `now`.
    pub fn ask(&mut self, tag: u64, now: Instant, waiter: W) {
        self.window.settle(tag);
        self.settled += 1;
        self.held.push((tag, now, waiter));
    }

    /// `tag` was settled by other means.
    pub fn settled_elsewhere(&mut self, tag: u64) {
        self.window.settle(tag);
        self.settled += 1;
    }

    /// What to send at `now` (all of it when `all`), and who waits for it.
    pub fn due(&mut self, now: Instant, all: bool) -> (Frames, Vec<W>) {
        let mut frames = Frames { up_to: None, single: Vec::new() };
        let mut waiters = Vec::new();
        let mut kept = Vec::with_capacity(self.held.len());
        for (tag, asked, waiter) in std::mem::take(&mut self.held) {
            if self.window.folds(tag) {
                frames.up_to = frames.up_to.max(Some(tag));
            } else if all || self.window.off || now >= asked + self.hold {
                frames.single.push(tag);
            } else {
                kept.push((tag, asked, waiter));
                continue;
            }
            waiters.push(waiter);
        }
        self.held = kept;
        (frames, waiters)
    }

    /// Whether the held acks keep the broker from delivering: of the `received` deliveries,
    /// those it counts unacked (processing, or acked here but held) fill the `prefetch`.
    pub fn blocks(&self, received: u64, prefetch: u16) -> bool {
        let unacked = received.saturating_sub(self.settled) + self.held.len() as u64;
        !self.held.is_empty() && prefetch > 0 && unacked >= u64::from(prefetch)
    }

    /// When the oldest held ack is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.iter().map(|(_, asked, _)| *asked + self.hold).min()
    }
}

type Waiter = oneshot::Sender<Result<(), TransportError>>;

struct Pending {
    folder: Folder<Waiter>,
    /// Send every held ack now (the consumer waits for a delivery, or the channel closes).
    release: bool,
    /// Told once the acks held when they asked are written.
    flushed: Vec<oneshot::Sender<()>>,
    closed: bool,
}

struct Shared {
    channel: Channel,
    pending: Mutex<Pending>,
    wake: Notify,
    /// Raised when an ack is asked (a consumer waiting for a delivery looks again whether
    /// held acks now fill the prefetch).
    asked: Notify,
    /// `overseer_amqp_ack_frames_total`, looked up once (sessions start after the recorder).
    frames_sent: metrics::Counter,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A channel's acks; its flusher ends when the last handle is dropped.
pub struct Acks {
    shared: Arc<Shared>,
}

impl Acks {
    /// Starts the flusher of `channel`'s acks (on the current tokio runtime).
    pub fn start(channel: Channel) -> Self {
        Self::with_hold(channel, HOLD)
    }

    /// The same with another longest hold than [`HOLD`].
    pub fn with_hold(channel: Channel, hold: Duration) -> Self {
        let pending =
            Pending { folder: Folder::new(hold), release: false, flushed: Vec::new(), closed: false };
        let frames_sent = metrics::counter!(crate::metrics::AMQP_ACK_FRAMES);
        let shared = Arc::new(Shared {
            channel,
            pending: Mutex::new(pending),
            wake: Notify::new(),
            asked: Notify::new(),
            frames_sent,
        });
        tokio::spawn(flush(shared.clone()));
        Self { shared }
    }

    /// Acks the delivery `tag`; returns once the frame carrying it is written.
    pub async fn ack(&self, tag: u64) -> Result<(), TransportError> {
        let (tx, rx) = oneshot::channel();
        self.shared.pending().folder.ask(tag, Instant::now(), tx);
        self.shared.wake.notify_one();
        self.shared.asked.notify_waiters();
        rx.await.unwrap_or_else(|_| {
            Err(TransportError("the channel closed before the delivery was acked".into()))
        })
    }

    /// The next item of `stream` (the channel's deliveries). When none is ready and held acks
    /// keep the broker from delivering (the prefetch is full: `received` deliveries came, the
    /// channel's prefetch is `prefetch`), the deliveries before them get [`RELEASE_AFTER`] to
    /// settle, then the held acks go.
    pub async fn next_from<S: Stream + Unpin>(
        &self,
        stream: &mut S,
        received: u64,
        prefetch: u16,
    ) -> Option<S::Item> {
        loop {
            if let Some(ready) = stream.next().now_or_never() {
                return ready;
            }
            // Created before the look, so an ack asked right after it is not missed.
            let asked = self.shared.asked.notified();
            if self.shared.pending().folder.blocks(received, prefetch) {
                if let Ok(ready) = tokio::time::timeout(RELEASE_AFTER, stream.next()).await {
                    return ready;
                }
                self.release();
                return stream.next().await;
            }
            tokio::select! {
                ready = stream.next() => return ready,
                () = asked => {}
            }
        }
    }

    fn release(&self) {
        self.shared.pending().release = true;
        self.shared.wake.notify_one();
    }

    /// Sends every held ack and returns once they are written (before the channel closes:
    /// a held ack lost there would have its task delivered again).
    pub async fn send_held(&self) {
        let (tx, rx) = oneshot::channel();
        self.shared.pending().flushed.push(tx);
        self.release();
        let _ = rx.await;
    }

    /// `tag` was settled by other means (a nack that was sent).
    pub fn settled_elsewhere(&self, tag: u64) {
        self.shared.pending().folder.settled_elsewhere(tag);
        self.shared.wake.notify_one();
    }
}

impl Drop for Acks {
    fn drop(&mut self) {
        self.shared.pending().closed = true;
        self.shared.wake.notify_one();
    }
}

/// Sends the acks as they come due, until the handle is dropped.
async fn flush(shared: Arc<Shared>) {
    loop {
        let next_due = shared.pending().folder.next_due();
        tokio::select! {
            () = shared.wake.notified() => {
                // The tasks woken together (by one Kafka delivery report, say) ask in this turn.
                tokio::task::yield_now().await;
            }
            () = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {}
        }
        let (frames, waiters, flushed, closed) = {
            let mut pending = shared.pending();
            let closed = pending.closed;
            let all = closed || std::mem::take(&mut pending.release);
            let (frames, waiters) = pending.folder.due(Instant::now(), all);
            (frames, waiters, std::mem::take(&mut pending.flushed), closed)
        };
        let count = frames.count();
        if count > 0 {
            let sent = send(&shared.channel, &frames).await;
            shared.frames_sent.increment(count as u64);
            for waiter in waiters {
                let _ = waiter.send(sent.clone());
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}

/// Writes `frames` (queued in one go: the I/O loop writes them together).
async fn send(channel: &Channel, frames: &Frames) -> Result<(), TransportError> {
    let folded = frames.up_to.map(|tag| channel.basic_ack(tag, BasicAckOptions { multiple: true }));
    let single = frames.single.iter().map(|tag| channel.basic_ack(*tag, BasicAckOptions { multiple: false }));
    futures_util::future::try_join_all(folded.into_iter().chain(single)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asks for these acks at `now`, then says what is due then.
    fn ask(folder: &mut Folder<u64>, tags: &[u64], now: Instant) -> Frames {
        for &tag in tags {
            folder.ask(tag, now, tag);
        }
        folder.due(now, false).0
    }

    fn frames(up_to: Option<u64>, single: &[u64]) -> Frames {
        Frames { up_to, single: single.to_vec() }
    }

    #[tokio::test]
    async fn acks_in_order_fold_into_one_frame() {
        let (mut folder, now) = (Folder::new(HOLD), Instant::now());
        assert_eq!(ask(&mut folder, &[1, 2, 3], now), frames(Some(3), &[]));
        assert_eq!(ask(&mut folder, &[5, 4], now), frames(Some(5), &[]));
    }

    #[tokio::test]
    async fn an_ack_above_an_unsettled_delivery_waits_for_it_then_folds() {
        let (mut folder, now) = (Folder::new(HOLD), Instant::now());
        // 2 is still processing: 1 goes, 3 and 4 wait.
        assert_eq!(ask(&mut folder, &[3, 1, 4], now), frames(Some(1), &[]));
        assert_eq!(folder.next_due(), Some(now + HOLD));
        // 2 settles within the hold: one frame for 2, 3 and 4.
        assert_eq!(ask(&mut folder, &[2], now + HOLD / 2), frames(Some(4), &[]));
        assert_eq!(folder.next_due(), None);
        // 5 is requeued (settled elsewhere); 6 then folds everything up to it.
        folder.settled_elsewhere(5);
        assert_eq!(ask(&mut folder, &[6], now), frames(Some(6), &[]));
    }

    #[tokio::test]
    async fn a_delivery_never_settled_is_never_covered_and_the_acks_after_it_go_alone_in_time() {
        let (mut folder, now) = (Folder::new(HOLD), Instant::now());
        assert_eq!(ask(&mut folder, &[2, 3], now), frames(None, &[]));
        assert_eq!(folder.due(now + HOLD, false).0, frames(None, &[2, 3]));
        // 1 settles late: the fold names 1, the one still unacked (2 and 3 were acked).
        assert_eq!(ask(&mut folder, &[1], now + HOLD), frames(Some(1), &[]));
    }

    #[tokio::test]
    async fn without_a_hold_an_ack_above_an_unsettled_delivery_goes_at_once() {
        let (mut folder, now) = (Folder::new(Duration::ZERO), Instant::now());
        assert_eq!(ask(&mut folder, &[3, 1, 4], now), frames(Some(1), &[3, 4]));
        assert_eq!(ask(&mut folder, &[2], now), frames(Some(2), &[]));
    }

    #[tokio::test]
    async fn held_acks_block_the_broker_only_when_the_unacked_fill_the_prefetch() {
        let (mut folder, now) = (Folder::new(HOLD), Instant::now());
        // 6 delivered, 1 still processing: 2 and 3 are held above it, 4 and 5 too.
        assert_eq!(ask(&mut folder, &[2, 3, 4, 5], now), frames(None, &[]));
        // Unacked at the broker: 1 (processing), 6 (delivered, not settled), 2-5 (held) = 6.
        assert!(folder.blocks(6, 6));
        assert!(!folder.blocks(6, 7), "room left in the prefetch: the broker still delivers");
        assert!(!folder.blocks(6, 0), "no prefetch limit");
        folder.settled_elsewhere(6);
        assert!(!folder.blocks(6, 6), "a requeued delivery frees its slot");
        // Once sent, nothing is held and nothing blocks.
        assert_eq!(folder.due(now, true).0, frames(None, &[2, 3, 4, 5]));
        assert!(!folder.blocks(6, 1));
    }

    #[tokio::test]
    async fn a_closing_channel_sends_everything_held() {
        let (mut folder, now) = (Folder::new(HOLD), Instant::now());
        assert_eq!(ask(&mut folder, &[2, 3], now), frames(None, &[]));
        let (sent, waiters) = folder.due(now, true);
        assert_eq!((sent, waiters), (frames(None, &[2, 3]), vec![2, 3]));
    }

    #[tokio::test]
    async fn a_tag_seen_twice_or_a_long_stall_stops_folding() {
        let (mut folder, now) = (Folder::new(HOLD), Instant::now());
        assert_eq!(ask(&mut folder, &[1], now), frames(Some(1), &[]));
        // Folding is off: nothing can fold any more, so nothing is held.
        assert_eq!(ask(&mut folder, &[1], now), frames(None, &[1]));
        assert_eq!(ask(&mut folder, &[2, 3], now), frames(None, &[2, 3]));

        let (mut folder, now) = (Folder::new(HOLD), Instant::now());
        let far = WINDOW_LIMIT as u64 + 2;
        assert_eq!(ask(&mut folder, &[far, 1], now), frames(None, &[far, 1]));
    }
}
