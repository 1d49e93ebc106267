//! The supervisor control API against real RabbitMQ and Redis: a queue scaled live (the most
//! LLM requests open at once, seen at the test's stand-in, follows), its prefetch changed live
//! (as RabbitMQ reports the consumer's), paused (nothing more is delivered, the tasks stay in
//! the queue), resumed (everything is processed once), drained; readiness; and a replica
//! drained through the API exits 0 with nothing left unacked, what its tasks did counted on
//! /metrics (tasks, model calls, completions, durations, confidence, tokens).

mod common;

use common::auth::client_as;
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use common::supervisor::{queue_in, queue_of, sample, until};
use serde_json::{json, Value};
use std::time::Duration;

const QUEUE: &str = "auto_orders";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_is_scaled_paused_resumed_and_drained_live() {
    let env = TestEnv::new().await;
    let slow = Reply::Content {
        content: order_proposal(0.99, json!([{"action": "fulfil"}])),
        delay: Duration::from_millis(400),
    };
    env.llm.set_default(slow);
    let config = env.config(&[]);
    let running = env.start(&config, &[QUEUE]).await;
    let base = format!("http://{}", running.http_addr);
    let admin = client_as("ops", "admin");
    let call = |method: reqwest::Method, path: String| {
        let request = admin.request(method, format!("{base}{path}"));
        async move {
            let r = request.send().await.expect("request");
            let code = r.status().as_u16();
            (code, r.json::<Value>().await.expect("JSON"))
        }
    };
    let put = |path: String| call(reqwest::Method::PUT, path);
    let post = |path: String| call(reqwest::Method::POST, path);

    until("the consumer to start", Duration::from_secs(10), async || {
        let (code, tree) = call(reqwest::Method::GET, "/api/supervisor/tree".into()).await;
        code == 200
            && queue_in(&tree, QUEUE)["state"] == "consuming"
            && queue_in(&tree, QUEUE)["consuming"] == true
    })
    .await;
    // Only admins steer the tree.
    let viewer = client_as("vic", "viewer");
    let r = viewer.post(format!("{base}/api/supervisor/queues/{QUEUE}/pause")).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 403);
    let (code, _) = post("/api/supervisor/queues/nope/pause".into()).await;
    assert_eq!(code, 404);
    let (code, bad) = put(format!("/api/supervisor/queues/{QUEUE}/concurrency?value=0")).await;
    assert_eq!(code, 400, "{bad}");

    // Scale to 4: never more than 4 model calls at once.
    let (code, q) = put(format!("/api/supervisor/queues/{QUEUE}/concurrency?value=4")).await;
    assert_eq!((code, q["concurrency"].as_u64()), (200, Some(4)), "{q}");
    let tasks = 120;
    env.submit(&config, QUEUE, &order(&format!("ctl-{}", uuid::Uuid::new_v4().simple()), None), tasks).await;
    until("work to start", Duration::from_secs(20), async || env.llm.count() >= 8).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_four = env.llm.max_in_flight();
    assert!((2..=4).contains(&at_four), "{at_four} model calls at once with concurrency 4");
    // The tree shows the slots: at most 4 busy, among the tasks in flight.
    let (_, tree) = call(reqwest::Method::GET, "/api/supervisor/tree".into()).await;
    let q = queue_in(&tree, QUEUE);
    let busy = q["busy"].as_u64().expect("busy");
    assert!(busy <= 4 && q["in_flight"].as_u64().is_some_and(|n| n >= busy), "{q}");
    assert_eq!(q["utilization"].as_f64(), Some(busy as f64 / 4.0), "{q}");
    // Scale to 16 (the prefetch follows): more at once.
    let (_, q) = put(format!("/api/supervisor/queues/{QUEUE}/concurrency?value=16")).await;
    assert!(q["prefetch"].as_u64().is_some_and(|p| p >= 16), "{q}");
    env.llm.reset_max_in_flight();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let at_sixteen = env.llm.max_in_flight();
    assert!(at_sixteen > 4, "{at_sixteen} model calls at once with concurrency 16");

    // Pause: in-flight tasks finish, nothing more is delivered, the rest stays in the queue.
    let (code, q) = post(format!("/api/supervisor/queues/{QUEUE}/pause")).await;
    assert_eq!((code, q["paused"].as_bool()), (200, Some(true)), "{q}");
    until("in-flight tasks to finish", Duration::from_secs(10), async || {
        let (_, tree) = call(reqwest::Method::GET, "/api/supervisor/tree".into()).await;
        queue_in(&tree, QUEUE)["state"] == "paused"
    })
    .await;
    let calls = env.llm.count();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.llm.count(), calls, "no model call while paused");
    let waiting = env.ready(QUEUE).await;
    assert!(waiting > 0 && (waiting as usize) < tasks, "{waiting} tasks wait in the queue");
    assert_eq!(calls + waiting as usize, tasks, "every task is done or waiting, none in between");
    let (_, tree) = call(reqwest::Method::GET, "/api/supervisor/tree".into()).await;
    assert_eq!(queue_in(&tree, QUEUE)["consuming"], false, "{tree}");

    // Prefetch while paused, then resume: the consumer comes back with the new prefetch.
    let (code, q) = put(format!("/api/supervisor/queues/{QUEUE}/prefetch?value=3")).await;
    assert_eq!((code, q["prefetch"].as_u64()), (200, Some(3)), "{q}");
    let (_, _) = put(format!("/api/supervisor/queues/{QUEUE}/concurrency?value=2")).await;
    let (code, q) = post(format!("/api/supervisor/queues/{QUEUE}/resume")).await;
    assert_eq!((code, q["paused"].as_bool()), (200, Some(false)), "{q}");
    until("RabbitMQ to report the consumer's prefetch", Duration::from_secs(15), async || {
        env.vhost.consumers().iter().any(|c| c["queue"]["name"] == QUEUE && c["prefetch_count"] == 3)
    })
    .await;
    // Ready 0 is not enough: up to the prefetch may still be handed over and not started.
    until("every task to be processed", Duration::from_secs(60), async || {
        env.ready(QUEUE).await == 0 && env.llm.count() >= tasks
    })
    .await;
    let (code, q) = post(format!("/api/supervisor/queues/{QUEUE}/drain?wait=20")).await;
    assert_eq!((code, q["drained"].as_bool(), q["in_flight"].as_u64()), (200, Some(true), Some(0)), "{q}");
    assert_eq!(env.llm.count(), tasks, "each task called the model once: none was processed twice");
    assert_eq!(q["done"].as_u64(), Some(tasks as u64), "{q}");

    let r = reqwest::get(format!("{base}/ready")).await.expect("ready");
    assert_eq!(r.status().as_u16(), 200);
    let ready: Value = r.json().await.expect("JSON");
    assert_eq!(
        ready["checks"],
        json!({"rabbitmq": "ok", "redis": "ok", "kafka": "ok", "tree": "ok"}),
        "{ready}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_drained_through_the_api_exits_cleanly() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::Content {
        content: order_proposal(0.99, json!([{"action": "fulfil"}])),
        delay: Duration::from_millis(500),
    });
    let port = common::process::free_port();
    let mut replica = common::process::Replica::start(&env.env(&[]), port);
    let config = env.config(&[]);
    env.submit(&config, QUEUE, &order(&format!("drain-{}", uuid::Uuid::new_v4().simple()), None), 6).await;
    until("work to start", Duration::from_secs(20), async || env.llm.count() > 0).await;
    // The queue's control on /metrics (a process of its own: the metrics registry is global).
    let admin = client_as("ops", "admin");
    let base = format!("http://127.0.0.1:{port}");
    let send = |r: reqwest::RequestBuilder| async move { r.send().await.expect("request").status().as_u16() };
    assert_eq!(
        send(admin.put(format!("{base}/api/supervisor/queues/{QUEUE}/concurrency?value=2"))).await,
        200
    );
    assert_eq!(send(admin.post(format!("{base}/api/supervisor/queues/{QUEUE}/pause"))).await, 200);
    // The consumer sets the gauges when it applies the change, a moment after the answer.
    let lines = [
        "overseer_queue_paused{queue=\"auto_orders\"} 1",
        "overseer_queue_concurrency{queue=\"auto_orders\"} 2",
        "overseer_queue_prefetch{queue=\"auto_orders\"} 64",
    ];
    until("the control gauges on /metrics", Duration::from_secs(10), async || {
        let metrics =
            admin.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
        lines.iter().all(|line| metrics.lines().any(|l| l == *line))
    })
    .await;
    assert_eq!(send(admin.post(format!("{base}/api/supervisor/queues/{QUEUE}/resume"))).await, 200);
    // What the tasks did, counted on /metrics: each executed task made one model call and put
    // its completion on Kafka, and its time and confidence were recorded.
    until("the task metrics on /metrics", Duration::from_secs(20), async || {
        let metrics =
            admin.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
        let value = |name: &str, labels: &[&str]| sample(&metrics, name, labels);
        let executed = value(
            "overseer_tasks_total",
            &["queue=\"auto_orders\"", "agent=\"order\"", "outcome=\"executed\""],
        );
        let calls = value("overseer_llm_calls_total", &["agent=\"order\"", "outcome=\"ok\""]);
        let completions =
            value("overseer_events_total", &["topic=\"ai.completions\"", "outcome=\"delivered\""]);
        let timed = value("overseer_task_duration_seconds_count", &["queue=\"auto_orders\""]);
        let scored = value("overseer_confidence_count", &["workflow=\"order_processing\""]);
        let tokens = value("overseer_llm_tokens_total", &["agent=\"order\"", "kind=\"prompt\""]);
        // The producer's own counts (librdkafka's statistics, every 5 s): three records per
        // executed task, carried in at least one produce request and at most one each.
        let records = value("overseer_kafka_records_sent_total", &[]);
        let requests = value("overseer_kafka_produce_requests_total", &[]);
        // Each executed task acked, in at least one frame and at most one frame each.
        let ack_frames = value("overseer_amqp_ack_frames_total", &[]);
        executed.is_some_and(|n| {
            n >= 2.0
                && records.is_some_and(|r| r >= 3.0 * n && requests.is_some_and(|q| q >= 1.0 && q <= r))
                && ack_frames.is_some_and(|f| f >= 1.0 && f <= n)
                && completions == Some(n)
                && calls.is_some_and(|c| c >= n)
                && timed.is_some_and(|t| t >= n)
                && scored.is_some_and(|s| s >= n)
                && tokens.is_some()
        })
    })
    .await;
    let r = admin.post(format!("http://127.0.0.1:{port}/api/supervisor/drain")).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 202);
    let (code, took) =
        tokio::task::spawn_blocking(move || replica.wait(Duration::from_secs(30))).await.expect("join");
    assert_eq!(code, Some(0), "exited 0 after {took:?}");
    // In-flight tasks finished and were acked; the rest went back to the queue, none unacked.
    let left = env.ready(QUEUE).await as usize;
    assert_eq!(left + env.llm.count(), 6, "each task done once or waiting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_pause_reaches_every_replica_and_one_started_later() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::Content {
        content: order_proposal(0.99, json!([{"action": "fulfil"}])),
        delay: Duration::from_millis(100),
    });
    let config = env.config(&[("OVERSEER__RUNTIME__CONTROL_POLL", "300ms")]);
    let a = env.start(&config, &[QUEUE]).await;
    let b = env.start(&config, &[QUEUE]).await;
    let admin = client_as("ops", "admin");
    let tree = |running: &overseer_supervisor::runtime::Running| {
        let base = format!("http://{}", running.http_addr);
        let admin = admin.clone();
        async move { queue_of(&admin, &base, QUEUE).await }
    };
    let (ta, tb) = (tree(&a).await, tree(&b).await);
    assert!(ta["cluster"].is_null() && tb["cluster"].is_null(), "nothing asked yet: {ta} {tb}");

    // Paused through replica a, for the cluster: b follows within a poll.
    let r = admin
        .post(format!("http://{}/api/supervisor/queues/{QUEUE}/pause?scope=cluster", a.http_addr))
        .send()
        .await
        .expect("pause");
    assert_eq!(r.status().as_u16(), 200);
    until("both replicas to stop consuming", Duration::from_secs(10), async || {
        let (ta, tb) = (tree(&a).await, tree(&b).await);
        [ta, tb].iter().all(|q| q["paused"] == true && q["consuming"] == false)
    })
    .await;
    let tasks = 20;
    env.submit(&config, QUEUE, &order(&format!("cl-{}", uuid::Uuid::new_v4().simple()), None), tasks).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.llm.count(), 0, "no replica takes a task while the cluster is paused");
    assert_eq!(env.ready(QUEUE).await as usize, tasks, "the tasks wait in the queue");

    // A replica started now comes up paused, and says who paused the cluster.
    let c = env.start(&config, &[QUEUE]).await;
    let tc = tree(&c).await;
    assert_eq!(
        (tc["paused"].clone(), tc["cluster"]["paused"].clone(), tc["cluster"]["by"].clone()),
        (json!(true), json!(true), json!("ops")),
        "{tc}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(env.llm.count(), 0, "the new replica took nothing either");

    // Resumed through replica b: every task is processed, once.
    let r = admin
        .post(format!("http://{}/api/supervisor/queues/{QUEUE}/resume?scope=cluster", b.http_addr))
        .send()
        .await
        .expect("resume");
    assert_eq!(r.status().as_u16(), 200);
    until("every task to be processed", Duration::from_secs(30), async || {
        env.ready(QUEUE).await == 0 && env.llm.count() >= tasks
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.llm.count(), tasks, "each task once");
    let (ta, tc) = (tree(&a).await, tree(&c).await);
    assert!(ta["paused"] == false && tc["paused"] == false, "{ta} {tc}");

    // Scaled for the cluster through a, cleared through b: every replica back to its configuration.
    let configured = ta["concurrency"].clone();
    let r = admin
        .put(format!(
            "http://{}/api/supervisor/queues/{QUEUE}/concurrency?value=3&scope=cluster",
            a.http_addr
        ))
        .send()
        .await
        .expect("scale");
    assert_eq!(r.status().as_u16(), 200);
    until("every replica to follow the scale", Duration::from_secs(10), async || {
        let all = [tree(&a).await, tree(&b).await, tree(&c).await];
        all.iter().all(|q| q["concurrency"] == 3 && q["pinned"] == true)
    })
    .await;
    let r = admin
        .post(format!("http://{}/api/supervisor/queues/{QUEUE}/clear?scope=cluster", b.http_addr))
        .send()
        .await
        .expect("clear");
    assert_eq!(r.status().as_u16(), 200);
    until("every replica back to its configuration", Duration::from_secs(10), async || {
        let all = [tree(&a).await, tree(&b).await, tree(&c).await];
        all.iter().all(|q| q["concurrency"] == configured && q["pinned"] == false)
    })
    .await;
    let tc = tree(&c).await;
    assert!(tc["cluster"]["concurrency"].is_null() && tc["cluster"]["by"] == "ops", "who cleared it: {tc}");
    c.shutdown().await;
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_reaches_every_replica_and_names_the_one_that_stopped() {
    use overseer_supervisor::control::command::{Command, Verb};
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let a = env.start(&config, &[QUEUE]).await;
    let b = env.start(&config, &[QUEUE]).await;
    let admin = client_as("ops", "admin");
    let id_of = |running: &overseer_supervisor::runtime::Running| {
        let request = admin.get(format!("http://{}/api/supervisor/tree", running.http_addr));
        async move {
            let tree: Value = request.send().await.expect("tree").json().await.expect("JSON");
            tree["replica"]["id"].as_str().expect("replica id").to_string()
        }
    };
    let (id_a, id_b) = (id_of(&a).await, id_of(&b).await);
    assert_ne!(id_a, id_b);
    let wait = Duration::from_secs(2);
    let ctl = |verb, queue: Option<&str>, value, replica: Option<&str>| {
        let command = Command::new(verb, queue.map(str::to_string), value, replica.map(str::to_string));
        let config = config.clone();
        async move { overseer_supervisor::ctl::run(&config, &command, wait).await.expect("ctl") }
    };
    let ids = |report: &overseer_supervisor::ctl::Report| {
        let mut ids: Vec<String> = report.replies.iter().map(|r| r.replica.id.clone()).collect();
        ids.sort();
        ids
    };
    let mut both = vec![id_a.clone(), id_b.clone()];
    both.sort();

    // Pause sent once: both replicas answer and stop consuming.
    let paused = ctl(Verb::Pause, Some(QUEUE), None, None).await;
    assert_eq!(ids(&paused), both, "{paused:?}");
    assert!(
        paused
            .replies
            .iter()
            .all(|r| r.outcome == "ok" && r.result["queues"][QUEUE]["desired"]["paused"] == true),
        "{paused:?}"
    );
    assert!(a.controls.queue(QUEUE).expect("a").desired().paused);
    assert!(b.controls.queue(QUEUE).expect("b").desired().paused);
    // One replica only, by its id.
    let scaled = ctl(Verb::Scale, Some(QUEUE), Some(3), Some(&id_b)).await;
    assert_eq!(ids(&scaled), vec![id_b.clone()], "{scaled:?}");
    assert_eq!(b.controls.queue(QUEUE).expect("b").desired().concurrency, 3);
    assert_ne!(a.controls.queue(QUEUE).expect("a").desired().concurrency, 3, "a was not addressed");
    // Bad input is refused before anything is sent.
    let bad =
        overseer_supervisor::ctl::run(&config, &Command::new(Verb::Scale, None, None, None), wait).await;
    assert!(bad.is_err(), "scale without a value");
    // The tree's reply carries each replica's live actor tree.
    let tree = ctl(Verb::Tree, None, None, None).await;
    let reply_a = tree.replies.iter().find(|r| r.replica.id == id_a).expect("a answered");
    let actors = &reply_a.result["actors"];
    assert_eq!(actors["actor"], "RootSupervisor", "{actors}");
    let names: Vec<&str> =
        actors["children"].as_array().expect("children").iter().filter_map(|c| c["actor"].as_str()).collect();
    for name in
        ["EventPublisher", "HitlActor", "QueueMonitor", "ControlListener", "QueueSupervisor(auto_orders)"]
    {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    // A replica that drained leaves the registry: nobody waits for it.
    b.shutdown().await;
    let tree = ctl(Verb::Tree, None, None, None).await;
    assert_eq!(ids(&tree), vec![id_a.clone()], "{tree:?}");
    assert!(tree.silent.is_empty(), "{tree:?}");
    // A replica that dies does not answer, and ctl names it.
    let port = common::process::free_port();
    let dead = common::process::Replica::start(&env.env(&[]), port);
    let id_dead = {
        let request = admin.get(format!("http://127.0.0.1:{port}/api/supervisor/tree"));
        let tree: Value = request.send().await.expect("tree").json().await.expect("JSON");
        tree["replica"]["id"].as_str().expect("replica id").to_string()
    };
    until("the new replica in the registry", Duration::from_secs(10), async || {
        ids(&ctl(Verb::Tree, None, None, None).await).contains(&id_dead)
    })
    .await;
    dead.signal("-KILL");
    let tree = ctl(Verb::Tree, None, None, None).await;
    assert_eq!(ids(&tree), vec![id_a.clone()], "{tree:?}");
    assert_eq!(tree.silent, vec![id_dead.clone()], "{tree:?}");
    // The command line prints each reply and each silent replica; a silent one is a failure.
    let out = common::overseer(
        &["ctl", "resume", "--queue", QUEUE, "--timeout", "1s"],
        &env.env(&[]).iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
    );
    let text = common::text(&out);
    assert!(
        text.contains(&format!("{id_a}\tok")) && text.contains(&format!("{id_dead}\tno answer within 1s")),
        "{text}"
    );
    assert!(!out.status.success(), "a replica did not answer: {text}");
    assert!(!a.controls.queue(QUEUE).expect("a").desired().paused, "resumed");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_scales_clears_and_drains_a_replica_with_tasks_in_flight() {
    use overseer_supervisor::control::command::{Command, Verb};
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::Content {
        content: order_proposal(0.99, json!([{"action": "fulfil"}])),
        delay: Duration::from_millis(400),
    });
    let vars = env.env(&[("OVERSEER__RUNTIME__BACKLOG_POLL", "200ms")]);
    let port = common::process::free_port();
    let mut replica = common::process::Replica::start(&vars, port);
    let config = env.config(&[]);
    let admin = client_as("ops", "admin");
    let base = format!("http://127.0.0.1:{port}");
    let queue = || queue_of(&admin, &base, QUEUE);
    let configured = queue().await["concurrency"].as_u64().expect("concurrency");
    assert!(configured > 4, "the configuration runs more than 4 at once: {configured}");
    let ctl = |verb, value| {
        let command = Command::new(verb, Some(QUEUE.to_string()), value, None);
        let config = config.clone();
        async move {
            let report =
                overseer_supervisor::ctl::run(&config, &command, Duration::from_secs(2)).await.expect("ctl");
            assert!(report.replies.len() == 1 && report.replies[0].outcome == "ok", "{report:?}");
        }
    };
    let tasks = 400;
    // ctl scale 4: never more than 4 model calls at once.
    ctl(Verb::Scale, Some(4)).await;
    env.submit(&config, QUEUE, &order(&format!("ctl-{}", uuid::Uuid::new_v4().simple()), None), tasks).await;
    until("work to start", Duration::from_secs(20), async || env.llm.count() >= 8).await;
    env.llm.reset_max_in_flight();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let at_four = env.llm.max_in_flight();
    assert!((2..=4).contains(&at_four), "{at_four} model calls at once after ctl scale 4");
    // ctl scale 16: more at once.
    ctl(Verb::Scale, Some(16)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.llm.reset_max_in_flight();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let at_sixteen = env.llm.max_in_flight();
    assert!(at_sixteen > 4, "{at_sixteen} model calls at once after ctl scale 16");
    let q = queue().await;
    assert_eq!((q["cluster"]["concurrency"].clone(), q["pinned"].clone()), (json!(16), json!(true)), "{q}");
    // ctl clear: the cluster's record is gone and the replica is back to its configuration.
    ctl(Verb::Clear, None).await;
    let q = queue().await;
    assert_eq!((q["concurrency"].as_u64(), q["pinned"].clone()), (Some(configured), json!(false)), "{q}");
    assert!(q["cluster"]["concurrency"].is_null() && q["cluster"]["by"] == "overseer ctl", "{q}");
    // The backlog figures on /metrics (a process of its own: the registry is process-wide).
    until("the backlog gauges", Duration::from_secs(10), async || {
        let metrics =
            admin.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
        let value = |name: &str| sample(&metrics, name, &["queue=\"auto_orders\""]);
        value("overseer_queue_ready").is_some_and(|r| r > 0.0)
            && value("overseer_queue_consumers") == Some(1.0)
            && value("overseer_queue_utilization").is_some_and(|u| u > 0.0)
    })
    .await;

    // ctl drain with tasks in flight: they finish and are acked, the process exits 0 in its
    // grace period, the rest waits in the queue, nothing ran twice.
    let in_flight = queue().await["in_flight"].as_u64().unwrap_or_default();
    assert!(in_flight > 0, "tasks are in flight when the drain is asked");
    let command = Command::new(Verb::Drain, None, None, None);
    let report = overseer_supervisor::ctl::run(&config, &command, Duration::from_secs(2)).await.expect("ctl");
    assert!(report.replies.iter().all(|r| r.outcome == "ok" && r.result["draining"] == true), "{report:?}");
    let (code, took) =
        tokio::task::spawn_blocking(move || replica.wait(Duration::from_secs(30))).await.expect("join");
    assert_eq!(code, Some(0), "exited 0 after {took:?}");
    assert!(took < Duration::from_secs(10), "within the grace period: {took:?}");
    let left = env.ready(QUEUE).await as usize;
    let called = env.llm.count();
    assert!(left > 0, "the drain left work in the queue");
    assert_eq!(left + called, tasks, "each task done once or waiting ({left} waiting, {called} called)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_is_live_and_a_helper_that_stops_is_started_again() {
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let running = env.start(&config, &[QUEUE]).await;
    let admin = client_as("ops", "admin");
    let url = format!("http://{}/api/supervisor/tree", running.http_addr);
    let child = |tree: &Value, name: &str| {
        tree["root"]["children"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["actor"] == name).cloned())
            .unwrap_or_default()
    };
    until("the consumer under its supervisor", Duration::from_secs(10), async || {
        let tree: Value = admin.get(&url).send().await.expect("tree").json().await.expect("JSON");
        let supervisor = child(&tree, "QueueSupervisor(auto_orders)");
        supervisor["children"][0]["actor"] == "ConsumerActor(auto_orders)"
            && supervisor["children"][0]["state"] == "Running"
    })
    .await;
    let tree: Value = admin.get(&url).send().await.expect("tree").json().await.expect("JSON");
    assert_eq!(tree["root"]["actor"], "RootSupervisor", "{tree}");
    let sweeper = child(&tree, "ExpirySweeper");
    assert_eq!(
        (sweeper["state"].clone(), sweeper["restarts"].clone()),
        (json!("Running"), json!(0)),
        "{tree}"
    );
    // The sweeper dies: the root starts it again, and the tree counts it.
    let root = running.controls.tree().root().expect("root");
    let cell = root
        .get_children()
        .into_iter()
        .find(|c| c.get_id().to_string() == sweeper["id"].as_str().unwrap_or_default())
        .expect("the sweeper's cell");
    cell.kill();
    until("the sweeper to run again", Duration::from_secs(10), async || {
        let tree: Value = admin.get(&url).send().await.expect("tree").json().await.expect("JSON");
        let again = child(&tree, "ExpirySweeper");
        again["state"] == "Running" && again["restarts"] == 1 && again["id"] != sweeper["id"]
    })
    .await;
    running.shutdown().await;
}
