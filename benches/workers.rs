//! Worker throughput against the machine's own ceiling, in one run (issue #16). Services up
//! (`scripts/services.sh`), then `cargo bench --bench workers`. Prints one table and writes it
//! to target/bench-workers.json.
//!
//! 1. Ceiling: a plain lapin loop publishing persistent 1 KiB messages with confirms and
//!    consuming them with manual acks (prefetch 512), in a vhost of its own; Kafka produce
//!    of 1 KiB records with acks=all.
//! 2. `overseer run --queues auto_orders` (the release binary, its own vhost and Redis prefix)
//!    against a zero-latency local LLM stand-in, tasks preloaded: tasks/s from the first to
//!    the last outcome on Kafka (ai.completions, or hitl.requests for the one in ten the model
//!    is unsure of), the ratio to consume+ack; the process's CPU time per task (and its
//!    system-time part), the CPU per task of the machine's RabbitMQ, Redis and Kafka-API
//!    broker over the same span, and this process's own (the model stand-in, the publishing
//!    and the counting); idle and peak RSS; startup to the first delivery reaching
//!    the model; then publish → outcome latency at 200 tasks/s; and the most tasks/s the
//!    machine's cores allow at the CPU per task measured, with the brokers' CPU alone, the
//!    harness' added, and overseer's too (the first two bound any replica on this machine).
//!    Outcomes are counted by a Kafka consumer whose fetches wait up to 100 ms (5 ms in the
//!    latency run): a shorter wait would cost the Kafka-API broker most of a core (see
//!    COUNT_WAIT_MS).
//! 3. The same with the model answering after L = 1 s and L = 200 ms, concurrency C = 512:
//!    tasks/s in steady state (the slope of the outcome count over time across the middle half
//!    of the outcomes: ramp-up and tail excluded) against C/L.
//!
//! BENCH_TASKS (default 4000) sets the zero-latency run's size, BENCH_CONCURRENCY its
//! concurrency, BENCH_ONLY names the one run to make after the ceilings (zero, L=1s or L=200ms);
//! OVERSEER_BIN runs another build (or a profiler wrapping one) instead of this one's. The
//! replica runs one runtime thread, as the stack's 1-CPU replicas do (BENCH_WORKER_THREADS sets
//! another count, 0 the default). It also prints how many of the functions build/code-order.txt
//! lists this build's binary defines (a stale list costs idle memory).

#[path = "../tests/common/mod.rs"]
mod common;

use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Persistent 1 KiB messages through a plain lapin loop: (publish/s, consume+ack/s, this
/// process's CPU per message consumed and acked). The last is a yardstick of the machine's
/// speed for overseer's CPU per task: the same kind of work (an async Rust AMQP client), at its
/// simplest, measured in the same run.
async fn amqp_ceiling(url: &str, n: usize) -> (f64, f64, Duration) {
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await.expect("AMQP");
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    let queue = "bench-ceiling";
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions { durable: true, ..Default::default() },
        FieldTable::default(),
    )
    .await
    .expect("declare");
    let body = vec![b'x'; 1024];
    let started = Instant::now();
    let mut pending = Vec::with_capacity(512);
    for _ in 0..n {
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish");
        pending.push(confirm);
        if pending.len() == 512 {
            for c in pending.drain(..) {
                c.await.expect("confirm");
            }
        }
    }
    for c in pending.drain(..) {
        c.await.expect("confirm");
    }
    let publish = n as f64 / started.elapsed().as_secs_f64();
    ch.basic_qos(512, BasicQosOptions::default()).await.expect("qos");
    let mut consumer = ch
        .basic_consume(queue.into(), "bench".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .expect("consume");
    let (started, cpu_before) = (Instant::now(), own_cpu());
    for _ in 0..n {
        let delivery = consumer.next().await.expect("delivery").expect("ok");
        delivery.ack(BasicAckOptions::default()).await.expect("ack");
    }
    let consume = n as f64 / started.elapsed().as_secs_f64();
    let cpu_per_message = (own_cpu() - cpu_before) / n as u32;
    let _ = conn.close(0, "done".into()).await;
    (publish, consume, cpu_per_message)
}

/// 1 KiB records with acks=all: records/s.
async fn kafka_ceiling(n: usize) -> f64 {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", common::KAFKA)
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let body = vec![b'x'; 1024];
    let started = Instant::now();
    let keys: Vec<String> = (0..n).map(|i| format!("bench-{i}")).collect();
    let mut sends = futures_util::stream::FuturesUnordered::new();
    for key in &keys {
        let record = FutureRecord::to("analytics.metrics").key(key).payload(&body);
        sends.push(producer.send(record, Duration::from_secs(30)));
        if sends.len() >= 2048 {
            while let Some(r) = sends.next().await {
                r.expect("delivered");
            }
        }
    }
    while let Some(r) = sends.next().await {
        r.expect("delivered");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// How long the outcome counter's fetches wait for data. tansu answers a fetch only when its
/// wait is over (new records do not end it early) and spends CPU all along: a counter waiting
/// 5 ms costs it 0.7 of a core on idle topics, 100 ms under a tenth (docs/benchmarks.md, fifth
/// round). Throughput runs count with the long wait (an outcome is seen up to 100 ms late,
/// which a rate over seconds does not feel); the latency run, at 200 tasks/s, with the short.
const COUNT_WAIT_MS: u32 = 100;
const LATENCY_WAIT_MS: u32 = 5;

/// Counts, on a thread of its own, the outcomes on Kafka of tasks whose id starts with
/// `prefix`, with their arrival times; its fetches wait at most `wait_ms`.
type Seen = Arc<Mutex<Vec<(String, Instant)>>>;

fn outcomes(prefix: String, wait_ms: u32) -> (Seen, Arc<std::sync::atomic::AtomicBool>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", common::KAFKA)
        .set("group.id", format!("bench-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", wait_ms.to_string())
        .create()
        .expect("consumer");
    let metadata = consumer.fetch_metadata(None, Duration::from_secs(10)).expect("metadata");
    let mut assignment = TopicPartitionList::new();
    for topic in metadata.topics().iter().filter(|t| ["ai.completions", "hitl.requests"].contains(&t.name()))
    {
        for p in topic.partitions() {
            let (_, high) =
                consumer.fetch_watermarks(topic.name(), p.id(), Duration::from_secs(10)).expect("marks");
            assignment.add_partition_offset(topic.name(), p.id(), Offset::Offset(high)).expect("offset");
        }
    }
    consumer.assign(&assignment).expect("assign");
    let (out, halt) = (seen.clone(), stop.clone());
    std::thread::spawn(move || {
        while !halt.load(std::sync::atomic::Ordering::Relaxed) {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                if let Some(key) = m.key().filter(|k| k.starts_with(prefix.as_bytes())) {
                    out.lock()
                        .expect("lock")
                        .push((String::from_utf8_lossy(key).into_owned(), Instant::now()));
                }
            }
        }
    });
    (seen, stop)
}

/// utime and stime of `pid`.
fn cpu_times(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks =
        |i: usize| Duration::from_millis(10 * fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0));
    (ticks(11), ticks(12))
}

/// The pid of the process listening on `port` (one of the machine's brokers), from `ss`.
fn listener_pid(port: u16) -> Option<u32> {
    let out = std::process::Command::new("ss").args(["-Hltnp", &format!("sport = :{port}")]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text.find("pid=")? + 4;
    text[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// This process's CPU time (user + system).
fn own_cpu() -> Duration {
    let (user, sys) = cpu_times(std::process::id());
    user + sys
}

/// The brokers whose CPU per task is shown beside overseer's.
const BROKERS: [(&str, u16); 3] = [("rabbitmq", 5672), ("redis", 6379), ("kafka", 9092)];

fn broker_cpu(pids: &[Option<u32>]) -> Vec<Duration> {
    pids.iter()
        .map(|pid| {
            pid.map_or(Duration::ZERO, |p| {
                let (user, sys) = cpu_times(p);
                user + sys
            })
        })
        .collect()
}

/// Outcomes per second in steady state: the least-squares slope of the outcome count over time
/// across the middle half of the outcomes (ramp-up and tail left out). With a slow model the
/// outcomes come in waves of up to C at a time; a slope over many waves is not thrown off by
/// where the first and last of the middle half fall within theirs, as the time between them is.
fn steady_rate(outcomes: &[Instant], origin: Instant) -> f64 {
    let mut t: Vec<f64> =
        outcomes.iter().map(|o| o.saturating_duration_since(origin).as_secs_f64()).collect();
    t.sort_by(f64::total_cmp);
    let middle = &t[t.len() / 4..t.len() * 3 / 4];
    let n = middle.len() as f64;
    let (mean_t, mean_i) = (middle.iter().sum::<f64>() / n, (n - 1.0) / 2.0);
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (i, ti) in middle.iter().enumerate() {
        covariance += (ti - mean_t) * (i as f64 - mean_i);
        variance += (ti - mean_t) * (ti - mean_t);
    }
    covariance / variance.max(1e-12)
}

/// (user, system) CPU time, and from /proc/<pid>/status: resident KiB, of which file-backed
/// (the binary's code and read-only data, mapped in as it runs), and the peak.
fn process_figures(pid: u32) -> ((Duration, Duration), u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (cpu_times(pid), kib("VmRSS:"), kib("RssFile:"), kib("VmHWM:"))
}

struct Run {
    tasks: usize,
    per_second: f64,
    steady_per_second: f64,
    cpu_per_task: Duration,
    /// The system-time part of `cpu_per_task`.
    sys_per_task: Duration,
    /// CPU per task of each of [`BROKERS`] over the same span (the load's publishing and the
    /// outcome counting included).
    broker_per_task: Vec<Duration>,
    /// CPU per task of this process over the same span: the model stand-in, the publishing of
    /// the load and the outcome counting (on the same two cores).
    harness_per_task: Duration,
    idle_rss_kib: u64,
    /// The file-backed part of `idle_rss_kib`.
    idle_file_kib: u64,
    peak_rss_kib: u64,
    startup: Duration,
    wall: Duration,
    /// p50, p99 ms, publish → outcome, below capacity (zero-latency run only).
    latency: Option<(f64, f64)>,
    /// Mean ms from a task's delivery to its settlement, and the mean ms of its model calls,
    /// from overseer's own /metrics (every task of the process).
    task_ms: (f64, f64),
    /// Kafka produce requests per task and records per request over the load, from the
    /// producer's own statistics on /metrics.
    kafka_batching: (f64, f64),
    /// RabbitMQ `basic.ack` frames per task over the load (acks folded per channel).
    ack_frames_per_task: f64,
}

/// The mean of a histogram on a Prometheus text page (`<name>_sum` / `<name>_count`, summed
/// over its label sets).
fn histogram_mean_ms(page: &str, name: &str) -> f64 {
    1000.0 * sample_total(page, &format!("{name}_sum"), &[])
        / sample_total(page, &format!("{name}_count"), &[]).max(1.0)
}

/// The replica's /metrics page (empty when it does not answer).
async fn metrics_page(port: u16) -> String {
    match common::auth::get(format!("http://127.0.0.1:{port}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// The samples of `name` on a Prometheus text page whose labels include each of `labels`
/// (written `key="value"`), summed.
fn sample_total(page: &str, name: &str, labels: &[&str]) -> f64 {
    page.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{'])))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// The Kafka producer's (produce requests, records sent) from the replica's /metrics, once its
/// statistics (every 5 s) count every event delivered so far (at most 12 s).
async fn kafka_sent(port: u16) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(12);
    loop {
        let page = metrics_page(port).await;
        let requests = sample_total(&page, "overseer_kafka_produce_requests_total", &[]);
        let records = sample_total(&page, "overseer_kafka_records_sent_total", &[]);
        let delivered = sample_total(&page, "overseer_events_total", &["outcome=\"delivered\""]);
        if (records >= delivered && delivered > 0.0) || Instant::now() > deadline {
            return (requests, records);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The `basic.ack` frames the replica sent so far, from its /metrics.
async fn ack_frames(port: u16) -> f64 {
    sample_total(&metrics_page(port).await, "overseer_amqp_ack_frames_total", &[])
}

/// A task's time in the process against its model call, from the replica's /metrics.
async fn task_figures(port: u16) -> (f64, f64) {
    let page = metrics_page(port).await;
    (
        histogram_mean_ms(&page, "overseer_task_duration_seconds"),
        histogram_mean_ms(&page, "overseer_llm_duration_seconds"),
    )
}

/// One `overseer run` process through `tasks` preloaded orders, the model answering after
/// `delay`, at `concurrency`.
async fn overseer_run(tasks: usize, delay: Duration, concurrency: usize, paced: Option<f64>) -> Run {
    let env = TestEnv::new().await;
    let confident = Reply::Content { content: order_proposal(0.99, json!([{"action": "fulfil"}])), delay };
    let unsure = Reply::Content { content: order_proposal(0.3, json!([{"action": "fulfil"}])), delay };
    // One in ten goes to a person; the first reply answers the startup probe task.
    env.llm.push((0..=tasks).map(|i| if i % 10 == 9 { unsure.clone() } else { confident.clone() }));
    env.llm.set_default(confident.clone());
    let c = concurrency.to_string();
    // BENCH_PREFETCH_MARGIN: deliveries the broker may hand over beyond the concurrency, for
    // the tasks past their model call that commit, publish and wait for their ack (0: the
    // prefetch equals the concurrency, and a freed slot waits for an ack).
    let prefetch = (concurrency + env_or("BENCH_PREFETCH_MARGIN", 64)).to_string();
    // One runtime thread, as a replica of deploy/docker-stack.yml (1 CPU) gets; BENCH_WORKER_THREADS
    // sets another count, 0 leaves the runtime's default (one per core here).
    let threads = env_or("BENCH_WORKER_THREADS", 1).to_string();
    let mut extra = vec![
        ("OVERSEER__QUEUES__AUTO_ORDERS__CONCURRENCY", c.as_str()),
        ("OVERSEER__QUEUES__AUTO_ORDERS__PREFETCH", prefetch.as_str()),
        ("OVERSEER__CONNECTIONS__LLM__MAX_CONCURRENCY", c.as_str()),
        ("OVERSEER__CONNECTIONS__LLM__REQUEST_TIMEOUT", "30s"),
    ];
    if threads != "0" {
        extra.push(("OVERSEER__RUNTIME__WORKER_THREADS", threads.as_str()));
    }
    let config = env.config(&extra);
    let prefix = format!("b{}", uuid::Uuid::new_v4().simple());
    let (seen, stop) = outcomes(prefix.clone(), COUNT_WAIT_MS);
    // Startup: one task waits; the clock runs from spawn to its request at the model.
    env.submit(&config, "auto_orders", &order(&format!("{prefix}-probe"), None), 1).await;
    let port = common::process::free_port();
    let spawned = Instant::now();
    let mut replica = common::process::Replica::start(&env.env(&extra), port);
    let pid = replica.child.id();
    let first = loop {
        match env.llm.first_arrival() {
            Some(first) => break first,
            None => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    };
    let startup = first.saturating_duration_since(spawned);
    while seen.lock().expect("lock").is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kafka_before = kafka_sent(port).await;
    let acks_before = ack_frames(port).await;
    let (cpu_before, idle_rss_kib, idle_file_kib, _) = process_figures(pid);
    let broker_pids: Vec<Option<u32>> = BROKERS.iter().map(|(_, port)| listener_pid(*port)).collect();
    let brokers_before = broker_cpu(&broker_pids);
    let harness_before = own_cpu();
    // The load, published with confirms (faster than the worker takes it).
    let started = Instant::now();
    env.submit(&config, "auto_orders", &order(&prefix, None), tasks).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen.lock().expect("lock").len() < tasks + 1 {
        assert!(Instant::now() < deadline, "{} of {tasks} outcomes", seen.lock().expect("lock").len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (cpu_after, _, _, peak_rss_kib) = process_figures(pid);
    let brokers_after = broker_cpu(&broker_pids);
    let harness_after = own_cpu();
    let times: Vec<Instant> = seen.lock().expect("lock").iter().map(|(_, t)| *t).collect();
    let kafka_after = kafka_sent(port).await;
    let ack_frames_per_task = (ack_frames(port).await - acks_before) / tasks as f64;
    // Latency below capacity: tasks published one by one at `paced` per second for 10 s,
    // each from its publish to its outcome on Kafka.
    let latency = match paced {
        Some(rate) => Some(paced_latency(&env, &prefix, rate).await),
        None => None,
    };
    let task_ms = task_figures(port).await;
    let (requests, records) = (kafka_after.0 - kafka_before.0, kafka_after.1 - kafka_before.1);
    let kafka_batching = (requests / tasks as f64, records / requests.max(1.0));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let load = &times[1..];
    let last = load.last().copied().unwrap_or(started);
    let per_second = tasks as f64 / (last - started).as_secs_f64().max(1e-9);
    let steady_per_second = steady_rate(load, started);
    // Stopped as a replica is (SIGTERM, drained), so a profiler wrapping it writes its output.
    replica.signal("-TERM");
    replica.wait(Duration::from_secs(30));
    Run {
        tasks,
        per_second,
        steady_per_second,
        cpu_per_task: (cpu_after.0 + cpu_after.1 - cpu_before.0 - cpu_before.1) / tasks as u32,
        sys_per_task: (cpu_after.1 - cpu_before.1) / tasks as u32,
        broker_per_task: brokers_after
            .iter()
            .zip(&brokers_before)
            .map(|(a, b)| (*a - *b) / tasks as u32)
            .collect(),
        harness_per_task: (harness_after - harness_before) / tasks as u32,
        idle_rss_kib,
        idle_file_kib,
        peak_rss_kib,
        startup,
        wall: last - started,
        latency,
        task_ms,
        kafka_batching,
        ack_frames_per_task,
    }
}

/// p50 and p99 (ms) from publish to outcome of tasks published at `rate` per second for 10 s,
/// seen by a counter of their own whose fetches wait at most 5 ms.
async fn paced_latency(env: &TestEnv, prefix: &str, rate: f64) -> (f64, f64) {
    let prefix = format!("{prefix}-paced");
    let (seen, stop) = outcomes(prefix.clone(), LATENCY_WAIT_MS);
    let conn = lapin::Connection::connect(&env.vhost.amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("AMQP");
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    let n = (rate * 10.0) as usize;
    let mut published = std::collections::HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    for i in 0..n {
        tick.tick().await;
        let id = format!("{prefix}-{i}");
        let body = serde_json::to_vec(&order(&id, None)).expect("JSON");
        let props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_message_id(id.as_str().into());
        published.insert(id, Instant::now());
        let confirm = ch
            .basic_publish("".into(), "auto_orders".into(), BasicPublishOptions::default(), &body, props)
            .await
            .expect("publish");
        confirm.await.expect("confirm");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut latencies = loop {
        let got: Vec<Duration> = seen
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|(k, t)| published.get(k).map(|p| t.saturating_duration_since(*p)))
            .collect();
        if got.len() >= n || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = conn.close(0, "done".into()).await;
    latencies.sort();
    let at = |p: f64| {
        latencies
            .get(((p * latencies.len() as f64) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    (at(0.5), at(0.99))
}

/// "rabbitmq 120 µs, redis 40 µs, kafka 300 µs" (CPU per task).
fn brokers_text(run: &Run) -> String {
    let parts: Vec<String> = BROKERS
        .iter()
        .zip(&run.broker_per_task)
        .map(|((name, _), d)| format!("{name} {} µs", d.as_micros()))
        .chain([format!("harness {} µs", run.harness_per_task.as_micros())])
        .collect();
    parts.join(", ")
}

/// The most tasks/s the machine's `cores` allow when every core is busy and each task costs
/// the CPU the run measured: (the brokers' alone, the brokers' and the harness', all of it with
/// overseer's own). The first two are bounds no replica can pass on this machine, however
/// little CPU it spends: the brokers and the load's own processes share its cores.
fn cpu_bounds(run: &Run, cores: f64) -> (f64, f64, f64) {
    let brokers: f64 = run.broker_per_task.iter().map(Duration::as_secs_f64).sum();
    let harness = brokers + run.harness_per_task.as_secs_f64();
    let all = harness + run.cpu_per_task.as_secs_f64();
    let rate = |per_task: f64| cores / per_task.max(1e-9);
    (rate(brokers), rate(harness), rate(all))
}

/// "0.45 (6.7 records each); 0.30": Kafka produce requests per task, then RabbitMQ ack frames.
fn requests_text(run: &Run) -> String {
    format!(
        "{:.2} ({:.1} records each); {:.2}",
        run.kafka_batching.0, run.kafka_batching.1, run.ack_frames_per_task
    )
}

/// How many of the functions build/code-order.txt lists the measured binary defines: a list
/// gone stale (a compiler or dependency update renames symbols) shows as a low count, and the
/// replica's idle RSS grows back by several MiB (docs/benchmarks.md, seventh round). `None`
/// when the binary is another one's (OVERSEER_BIN) or nm is missing.
fn code_order_matched() -> Option<(usize, usize)> {
    if std::env::var_os("OVERSEER_BIN").is_some() {
        return None;
    }
    let listed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/build/code-order.txt")).ok()?;
    let out = std::process::Command::new("nm")
        .args(["--defined-only", env!("CARGO_BIN_EXE_overseer")])
        .output()
        .ok()?;
    let symbols = String::from_utf8_lossy(&out.stdout);
    let defined: std::collections::HashSet<&str> =
        symbols.lines().filter_map(|l| l.split(' ').nth(2)).collect();
    let names: Vec<&str> = listed.lines().filter(|l| !l.is_empty()).collect();
    Some((names.iter().filter(|n| defined.contains(*n)).count(), names.len()))
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test --all-targets` it only says how to run it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("workers: a benchmark; run it with `cargo bench --bench workers` (services up)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let n = env_or("BENCH_TASKS", 4000);
        let vhost = common::Vhost::new();
        let (publish, consume, plain_cpu) = amqp_ceiling(&vhost.amqp_url(), 20_000).await;
        // The topology (Kafka topics included) exists before the Kafka ceiling writes to it:
        // on a fresh broker, setting up an environment creates the topics.
        drop(TestEnv::new().await);
        let kafka = kafka_ceiling(20_000).await;
        println!("ceiling: publish+confirm {publish:.0}/s, consume+ack {consume:.0}/s, kafka acks=all {kafka:.0}/s; a plain lapin consume+ack costs its process {plain_cpu:?} per message");
        let code_order = code_order_matched();
        if let Some((matched, listed)) = code_order {
            println!("code order: {matched} of the {listed} functions build/code-order.txt lists are in this binary{}",
                if matched * 10 < listed * 9 { " (stale: run scripts/code-order.sh)" } else { "" });
        }
        // BENCH_ONLY: the ceilings and this one run only (for profiling and before/after pairs).
        let only = std::env::var("BENCH_ONLY").ok();
        let wanted = |label: &str| only.as_deref().is_none_or(|o| o == label);
        let mut rows = vec![];
        let zero_c = env_or("BENCH_CONCURRENCY", 64);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        if wanted("zero") {
            let zero = overseer_run(n, Duration::ZERO, zero_c, Some(200.0)).await;
            println!(
                "zero-latency LLM: {:.0} tasks/s ({:.1}% of consume+ack), cpu {:?}/task ({:?} system), brokers {}, kafka requests/task; ack frames/task {}, rss idle {} KiB ({} KiB file-backed) peak {} KiB, startup {:?}",
                zero.per_second,
                100.0 * zero.per_second / consume,
                zero.cpu_per_task,
                zero.sys_per_task,
                brokers_text(&zero),
                requests_text(&zero),
                zero.idle_rss_kib,
                zero.idle_file_kib,
                zero.peak_rss_kib,
                zero.startup
            );
            println!(
                "zero-latency LLM: overseer's CPU per task is {:.1} times a plain lapin consume+ack's per message",
                zero.cpu_per_task.as_secs_f64() / plain_cpu.as_secs_f64().max(1e-9)
            );
            let (brokers, harness, all) = cpu_bounds(&zero, cores);
            println!(
                "zero-latency LLM: on {cores} cores the CPU per task measured allows at most {brokers:.0} tasks/s ({:.1}% of consume+ack) with the brokers' alone, {harness:.0} ({:.1}%) with the harness' added (a replica spending no CPU at all), {all:.0} ({:.1}%) with overseer's too",
                100.0 * brokers / consume,
                100.0 * harness / consume,
                100.0 * all / consume
            );
            if let Some((p50, p99)) = zero.latency {
                println!("zero-latency LLM, 200 tasks/s paced: publish -> outcome on Kafka p50 {p50:.1} ms, p99 {p99:.1} ms");
            }
            rows.push(("zero", zero_c, 0.0f64, zero));
        }
        let latency_runs = [("L=1s", 1.0, 16_000usize), ("L=200ms", 0.2, 12_000)];
        for (label, l, tasks) in latency_runs.into_iter().filter(|(label, _, _)| wanted(label)) {
            let run = overseer_run(tasks, Duration::from_secs_f64(l), 512, None).await;
            println!(
                "{label}, C=512: steady {:.0} tasks/s = {:.1}% of C/L ({:.0}), cpu {:?}/task, brokers {}, kafka requests/task; ack frames/task {}, peak rss {} KiB, task {:.1} ms of which the model {:.1} ms",
                run.steady_per_second,
                100.0 * run.steady_per_second / (512.0 / l),
                512.0 / l,
                run.cpu_per_task,
                brokers_text(&run),
                requests_text(&run),
                run.peak_rss_kib,
                run.task_ms.0,
                run.task_ms.1
            );
            rows.push((label, 512, l, run));
        }
        println!();
        println!("| run | C | tasks | tasks/s | steady tasks/s | target | cpu/task (system) | brokers' and harness' cpu/task | Kafka requests/task; AMQP ack frames/task | idle RSS (file-backed) | peak RSS | startup |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        let mut json_rows = Vec::new();
        for (label, c, l, r) in &rows {
            let target = if *l == 0.0 { format!("{:.0} (50% of consume+ack)", consume / 2.0) } else { format!("{:.0} (95% of C/L)", 0.95 * *c as f64 / l) };
            println!(
                "| {label} | {c} | {} | {:.0} | {:.0} | {target} | {} µs ({}) | {} | {} | {:.1} MiB ({:.1}) | {:.1} MiB | {} ms |",
                r.tasks,
                r.per_second,
                r.steady_per_second,
                r.cpu_per_task.as_micros(),
                r.sys_per_task.as_micros(),
                brokers_text(r),
                requests_text(r),
                r.idle_rss_kib as f64 / 1024.0,
                r.idle_file_kib as f64 / 1024.0,
                r.peak_rss_kib as f64 / 1024.0,
                r.startup.as_millis()
            );
            let (brokers, harness, all) = cpu_bounds(r, cores);
            let bounds = json!({"cores": cores, "brokers": brokers, "brokers_and_harness": harness, "with_overseer": all});
            json_rows.push(json!({
                "run": label, "concurrency": c, "llm_latency_s": l, "tasks": r.tasks,
                "tasks_per_s": r.per_second, "steady_tasks_per_s": r.steady_per_second,
                "cpu_us_per_task": r.cpu_per_task.as_micros() as u64,
                "sys_us_per_task": r.sys_per_task.as_micros() as u64,
                "broker_cpu_us_per_task": BROKERS.iter().zip(&r.broker_per_task).map(|((n, _), d)| (n.to_string(), json!(d.as_micros() as u64))).collect::<serde_json::Map<_, _>>(),
                "harness_cpu_us_per_task": r.harness_per_task.as_micros() as u64,
                "kafka_produce_requests_per_task": r.kafka_batching.0,
                "kafka_records_per_request": r.kafka_batching.1,
                "amqp_ack_frames_per_task": r.ack_frames_per_task,
                "idle_rss_kib": r.idle_rss_kib, "idle_rss_file_kib": r.idle_file_kib,
                "peak_rss_kib": r.peak_rss_kib, "startup_ms": r.startup.as_millis() as u64,
                "wall_s": r.wall.as_secs_f64(),
                "task_ms": r.task_ms.0, "model_call_ms": r.task_ms.1,
                "paced_200_per_s_latency_ms": r.latency.map(|(p50, p99)| json!({"p50": p50, "p99": p99})),
                "cpu_bound_tasks_per_s": bounds,
            }));
        }
        let report = json!({
            "ceiling": {"amqp_publish_confirm_per_s": publish, "amqp_consume_ack_per_s": consume, "kafka_acks_all_per_s": kafka,
                "amqp_consume_ack_client_cpu_us_per_message": plain_cpu.as_secs_f64() * 1e6},
            "runs": json_rows,
            "code_order_matched": code_order.map(|(matched, listed)| json!({"matched": matched, "listed": listed})),
        });
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-workers.json");
        let _ = std::fs::write(path, serde_json::to_string_pretty(&report).unwrap_or_default());
        println!("\nwritten to {path}");
    });
}
