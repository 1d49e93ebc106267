//! Folded acks against the real RabbitMQ: acks asked together leave in one frame, and no
//! frame ever acks a delivery that nobody settled (it goes back to the queue when the channel
//! closes, as an unfolded ack would leave it).

mod common;

use common::Vhost;
use futures_util::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions,
    BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use overseer_supervisor::transport::acks::Acks;
use std::collections::BTreeSet;
use std::sync::Arc;

const QUEUE: &str = "acks";

async fn publish(conn: &Connection, n: usize) {
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    ch.queue_declare(QUEUE.into(), durable, FieldTable::default()).await.expect("declare");
    for i in 0..n {
        let props = BasicProperties::default().with_delivery_mode(2);
        let body = i.to_string();
        let confirm = ch
            .basic_publish("".into(), QUEUE.into(), BasicPublishOptions::default(), body.as_bytes(), props)
            .await
            .expect("publish");
        confirm.await.expect("confirmed");
    }
}

/// A channel with a prefetch of `n` consuming as `tag`, and the `n` deliveries it took.
async fn consuming(
    conn: &Connection,
    n: usize,
    tag: &str,
) -> (Channel, lapin::Consumer, Vec<lapin::message::Delivery>) {
    let ch = conn.create_channel().await.expect("channel");
    ch.basic_qos(n as u16, BasicQosOptions::default()).await.expect("qos");
    let mut consumer = ch
        .basic_consume(QUEUE.into(), tag.into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .expect("consume");
    let mut taken = Vec::new();
    while taken.len() < n {
        taken.push(consumer.next().await.expect("a delivery").expect("delivered"));
    }
    (ch, consumer, taken)
}

/// `n` deliveries taken on a channel of their own, the consumer then cancelled (so a requeued
/// one is not handed back).
async fn take(conn: &Connection, n: usize) -> (Channel, Vec<lapin::message::Delivery>) {
    let (ch, _consumer, taken) = consuming(conn, n, "acks").await;
    ch.basic_cancel("acks".into(), BasicCancelOptions::default()).await.expect("cancel");
    (ch, taken)
}

/// Acks these deliveries, all asked at once, in a scrambled order.
async fn ack_all(acks: &Arc<Acks>, deliveries: &[&lapin::message::Delivery]) {
    let mut tags: Vec<u64> = deliveries.iter().map(|d| d.delivery_tag).collect();
    tags.sort_by_key(|t| (t * 7919) % 1009);
    for asked in ask(acks, tags) {
        asked.await.expect("joined").expect("acked");
    }
}

/// Asks for the acks of these tags, each on a task of its own.
fn ask(
    acks: &Arc<Acks>,
    tags: impl IntoIterator<Item = u64>,
) -> Vec<tokio::task::JoinHandle<Result<(), overseer_supervisor::transport::TransportError>>> {
    tags.into_iter()
        .map(|tag| {
            let acks = acks.clone();
            tokio::spawn(async move { acks.ack(tag).await })
        })
        .collect()
}

/// A connection to a vhost of its own on the machine's RabbitMQ.
async fn connected() -> (Vhost, Connection) {
    let vhost = Vhost::new();
    let conn = Connection::connect(&vhost.amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("RabbitMQ (scripts/services.sh)");
    (vhost, conn)
}

fn frames_sent(page: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix("overseer_amqp_ack_frames_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn queued(conn: &Connection) -> u32 {
    let ch = conn.create_channel().await.expect("channel");
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    ch.queue_declare(QUEUE.into(), passive, FieldTable::default()).await.expect("declare").message_count()
}

#[tokio::test]
async fn acks_asked_together_share_a_frame_and_never_cover_an_unsettled_delivery() {
    let metrics = overseer_supervisor::metrics::install().expect("recorder");
    let (_vhost, conn) = connected().await;

    // 200 deliveries acked at once: a frame or a few, not 200; none left on the broker.
    publish(&conn, 200).await;
    let (ch, taken) = take(&conn, 200).await;
    let acks = Arc::new(Acks::start(ch.clone()));
    let before = frames_sent(&metrics.render());
    ack_all(&acks, &taken.iter().collect::<Vec<_>>()).await;
    let frames = frames_sent(&metrics.render()) - before;
    assert!((1..=5).contains(&frames), "200 acks took {frames} frames");
    ch.close(200, "done".into()).await.expect("closed cleanly: no ack named an unknown tag");
    assert_eq!(queued(&conn).await, 0, "every acked delivery left the queue");

    // 100 more: one still processing (#10) and one requeued (#50) while the rest are acked.
    publish(&conn, 100).await;
    let (ch, taken) = take(&conn, 100).await;
    let acks = Arc::new(Acks::start(ch.clone()));
    taken[50].nack(BasicNackOptions { requeue: true, multiple: false }).await.expect("requeued");
    acks.settled_elsewhere(taken[50].delivery_tag);
    let rest: Vec<_> =
        taken.iter().enumerate().filter(|(i, _)| ![10, 50].contains(i)).map(|(_, d)| d).collect();
    ack_all(&acks, &rest).await;
    assert!(ch.status().connected(), "the channel is open: every frame named a tag still unacked");
    // Closing the channel hands back what it did not settle: #10 only; #50 is queued already.
    ch.close(200, "done".into()).await.expect("closed");
    assert_eq!(queued(&conn).await, 2, "the unsettled and the requeued delivery are queued again");
    let get = conn.create_channel().await.expect("channel");
    let mut left = BTreeSet::new();
    while let Some(message) =
        get.basic_get(QUEUE.into(), BasicGetOptions { no_ack: true }).await.expect("get")
    {
        left.insert(String::from_utf8_lossy(&message.delivery.data).to_string());
    }
    assert_eq!(left, BTreeSet::from(["10".to_string(), "50".to_string()]));
}

/// A channel with a prefetch of 3, its consumer, the 3 deliveries it took, and acks held for
/// an hour (only a release sends them in a test's time).
async fn three_taken(
    conn: &Connection,
    tag: &str,
) -> (Channel, lapin::Consumer, Vec<lapin::message::Delivery>, Arc<Acks>) {
    let (ch, consumer, taken) = consuming(conn, 3, tag).await;
    let acks = Arc::new(Acks::with_hold(ch.clone(), std::time::Duration::from_secs(3600)));
    (ch, consumer, taken, acks)
}

/// The tags of these deliveries.
fn tags(deliveries: &[lapin::message::Delivery]) -> Vec<u64> {
    deliveries.iter().map(|d| d.delivery_tag).collect()
}

#[tokio::test]
async fn held_acks_that_fill_the_prefetch_go_when_the_consumer_waits_for_a_delivery() {
    let (_vhost, conn) = connected().await;
    publish(&conn, 4).await;
    let (ch, mut consumer, taken, acks) = three_taken(&conn, "held").await;
    let received = tags(&taken).into_iter().max().unwrap_or(0);

    // The consumer waits for a delivery first; then #2 and #3 are acked while #1 still
    // processes: held above it, they fill the prefetch of 3. They go, and the fourth comes.
    let waiting = acks.next_from(&mut consumer, received, 3);
    let asking = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        ask(&acks, tags(&taken[1..]))
    };
    let (fourth, held) =
        tokio::time::timeout(std::time::Duration::from_secs(10), async { tokio::join!(waiting, asking) })
            .await
            .expect("the fourth delivery came: the held acks were sent");
    let fourth = fourth.expect("a delivery").expect("delivered");
    for h in held {
        h.await.expect("joined").expect("acked");
    }
    assert_eq!(String::from_utf8_lossy(&fourth.data), "3");
    for tag in [taken[0].delivery_tag, fourth.delivery_tag] {
        acks.ack(tag).await.expect("acked");
    }
    ch.basic_cancel("held".into(), BasicCancelOptions::default()).await.expect("cancel");
    ch.close(200, "done".into()).await.expect("closed cleanly: no ack named an unknown tag");
    assert_eq!(queued(&conn).await, 0, "every delivery was acked once");
}

#[tokio::test]
async fn held_acks_are_written_before_the_channel_closes() {
    let (_vhost, conn) = connected().await;
    publish(&conn, 3).await;
    let (ch, _consumer, taken, acks) = three_taken(&conn, "closing").await;
    let held = ask(&acks, tags(&taken[1..]));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!held.iter().any(|h| h.is_finished()), "acks above an unsettled delivery are held");
    tokio::time::timeout(std::time::Duration::from_secs(10), acks.send_held()).await.expect("sent");
    for h in held {
        assert!(h.is_finished(), "send_held returns once the held acks are written");
        h.await.expect("joined").expect("acked");
    }
    ch.close(200, "done".into()).await.expect("closed");
    assert_eq!(queued(&conn).await, 1, "only the delivery nobody settled is queued again");
}
