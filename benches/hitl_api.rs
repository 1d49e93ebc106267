//! HITL API latency under load, against the machine's Redis: 10,000 pending decisions, 200
//! concurrent clients listing (`GET /api/hitl/pending?limit=50`) and approving distinct
//! decisions (`POST /api/brain/hitl/decisions/{id}/approve`), each phase twice: closed loop
//! (every client sends its next request at once: saturation throughput, where latency is just
//! clients / throughput) and paced (every client sends one request per BENCH_PACE_MS, 100 ms:
//! 2,000 req/s offered, people at screens). Targets: approve p99 <= 10 ms, list p99 <= 50 ms.
//! Baseline measured in the same run: the same 200 clients reading one decision hash straight
//! from Redis (HGETALL), so the ratio shows what the API adds.
//!
//! The HTTP server runs in this process with the real Redis store; the approvals' effects go
//! to in-memory sinks (the API answers once the state change is durable, before the effects;
//! Kafka and RabbitMQ do not sit on this path). Run: `cargo bench --bench hitl_api`
//! (services up: `scripts/services.sh`). Set BENCH_PENDING / BENCH_CLIENTS to change the load.

use overseer_agents::confidence::Confidence;
use overseer_supervisor::audit::redis_audit::RedisAudit;
use overseer_supervisor::audit::Auditor;
use overseer_supervisor::auth::issue::{issue, Grant};
use overseer_supervisor::auth::Role;
use overseer_supervisor::config::Config;
use overseer_supervisor::events::memory::MemorySink;
use overseer_supervisor::health::Health;
use overseer_supervisor::hitl::outbox::DecisionEffects;
use overseer_supervisor::hitl::redis_store::RedisStore;
use overseer_supervisor::hitl::service::{EditRules, HitlService};
use overseer_supervisor::hitl::{Decisions, Outbox, PendingDecision};
use overseer_supervisor::http::guard::Security;
use overseer_supervisor::http::{app, AppState};
use overseer_supervisor::workflows::WorkflowRegistry;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REDIS: &str = "redis://127.0.0.1:6379/0";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// p50, p95, p99 and max in milliseconds.
fn summary(mut samples: Vec<Duration>) -> [f64; 4] {
    samples.sort();
    let at = |p: f64| {
        let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1].as_secs_f64() * 1000.0
    };
    [at(0.50), at(0.95), at(0.99), samples.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)]
}

/// Runs `per_client` calls of `call` on each of `clients` tasks, back to back (`pace` None:
/// closed loop, measuring saturation) or one every `pace` per client (people at their
/// screens); all latencies and the wall time.
async fn load<F, Fut>(
    clients: usize,
    per_client: usize,
    pace: Option<Duration>,
    call: F,
) -> (Vec<Duration>, Duration)
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(per_client);
                let mut ticks = pace.map(|p| {
                    // Clients start spread over one period, not all at once.
                    let start = tokio::time::Instant::now() + p.mul_f64(c as f64 / clients as f64);
                    let mut t = tokio::time::interval_at(start, p);
                    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    t
                });
                for i in 0..per_client {
                    if let Some(t) = ticks.as_mut() {
                        t.tick().await;
                    }
                    let t = Instant::now();
                    if let Err(e) = call(c, i).await {
                        panic!("a request failed: {e}");
                    }
                    out.push(t.elapsed());
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    (all, started.elapsed())
}

/// Sends `request` and reads the whole body, as a client does (so the connection goes back to
/// the pool); a failure (transport or status) as text.
async fn answered(request: reqwest::RequestBuilder) -> Result<(), String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    response.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(status.to_string())
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it, and
    // then it only says how to run it (the suite stays fast).
    if !std::env::args().any(|a| a == "--bench") {
        println!("hitl_api: a benchmark; run it with `cargo bench --bench hitl_api`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let pending = env_or("BENCH_PENDING", 10_000);
    let clients = env_or("BENCH_CLIENTS", 200);
    // Each decision is approved once: the two approve phases need 2 × clients × per_client.
    let per_client = (pending / (2 * clients)).clamp(1, 25);
    // People at screens: a page refreshed every second, an approval every 100 ms per client.
    let list_pace = Duration::from_millis(env_or("BENCH_LIST_PACE_MS", 1000) as u64);
    let pace = Duration::from_millis(env_or("BENCH_APPROVE_PACE_MS", 100) as u64);
    let mut config =
        Config::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))).expect("config");
    // Tokens as in production (HS256), limits out of the way: this measures the API, not the
    // rate limiter (every request is still verified, and every approval audited in Redis).
    let secret = std::env::temp_dir().join(format!("overseer-bench-secret-{}", std::process::id()));
    std::fs::write(&secret, "bench-secret-0123456789abcdef-0123456789abcdef").expect("secret");
    config.http.auth.hs256_secret_file = Some(secret);
    config.http.rate_limit.per_subject = 1_000_000;
    config.http.rate_limit.per_address = 1_000_000;
    config.http.rate_limit.burst = 1_000_000;
    let prefix = format!("overseer-bench-{}:", uuid::Uuid::new_v4().simple());
    let store = Arc::new(RedisStore::connect(REDIS, &prefix, Duration::from_secs(5)).await.expect("Redis"));
    let workflows = Arc::new(WorkflowRegistry::in_memory(config.workflows.clone()).await);
    let sink = Arc::new(MemorySink::default());
    let effects = Arc::new(DecisionEffects {
        lease: config.hitl.outbox_lease,
        ..DecisionEffects::in_memory(store.clone(), sink.clone(), workflows.clone())
    });
    let state = AppState {
        health: Arc::new(Health::default()),
        metrics: None,
        amqp: None,
        workflows,
        sink: None,
        hitl: Arc::new(HitlService::new(
            effects,
            EditRules { agents: Default::default(), policy: config.policy.clone() },
        )),
        onboarding: None,
        telegram: None,
        security: Arc::new(
            Security::from_config(
                &config.http,
                Auditor { log: Arc::new(RedisAudit::new(store.connection(), &prefix)), sink: None },
            )
            .expect("security"),
        ),
        limits: Arc::new(config.http.clone()),
        controls: Arc::new(overseer_supervisor::control::Controls::default()),
        live: overseer_supervisor::hitl::watch::PendingWatch::start(
            store.clone(),
            tokio_util::sync::CancellationToken::new(),
        ),
    };
    let grant = |role| Grant {
        subject: "bench".into(),
        role,
        workflows: None,
        groups: vec![],
        ttl: Duration::from_secs(3600),
    };
    let bearer = format!("Bearer {}", issue(&config.http.auth, &grant(Role::Approver)).expect("token"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app(state)).await });

    // 10,000 pending decisions across the workflows.
    let started = Instant::now();
    let ids: Vec<String> = {
        let names: Vec<String> = config.workflows.keys().cloned().collect();
        let mut ids = Vec::with_capacity(pending);
        for chunk in (0..pending).collect::<Vec<_>>().chunks(500) {
            let parks = chunk.iter().map(|i| {
                let data = serde_json::json!({"task": {"task_id": format!("bench-{i}")}, "proposal": {"summary": format!("decision {i}"), "actions": [{"action": "refund", "amount": 10.0}]}});
                let c = Confidence::combine(0.5, 0.5, None);
                let d = PendingDecision::new(&format!("bench-{i}"), &names[i % names.len()], "auto_orders", "order", c, vec![], data, Duration::from_secs(3600));
                let store = store.clone();
                async move {
                    // The id it was stored under (a fresh one if the first was taken).
                    store.park(&d, Duration::from_secs(1800)).await.expect("park").decision_id().to_string()
                }
            });
            ids.extend(futures_util::future::join_all(parks).await);
        }
        ids
    };
    println!("parked {pending} decisions in {:.1} s", started.elapsed().as_secs_f64());
    let ids = Arc::new(ids);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, bearer.parse().expect("header"));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .default_headers(headers)
        .build()
        .expect("client");

    // Baseline: the same clients reading a decision hash straight from Redis.
    let conn = redis::Client::open(REDIS).expect("url").get_connection_manager().await.expect("Redis");
    let base = {
        let (ids, prefix) = (ids.clone(), prefix.clone());
        load(clients, per_client, None, move |c, i| {
            let mut conn = conn.clone();
            let key = format!("{prefix}decision:{}", ids[(c * per_client + i) % ids.len()]);
            async move {
                redis::cmd("HGETALL")
                    .arg(key)
                    .query_async::<std::collections::HashMap<String, String>>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    // Listing: first pages, and first pages of one workflow.
    let list = |pace: Option<Duration>| {
        let http = http.clone();
        load(clients, per_client, pace, move |c, i| {
            let http = http.clone();
            let query = if (c + i) % 2 == 0 {
                "limit=50".to_string()
            } else {
                "limit=50&workflow=payment_processing".to_string()
            };
            async move {
                let request = http.get(format!("http://{addr}/api/hitl/pending?{query}"));
                answered(request).await
            }
        })
    };
    // Approving distinct decisions: the first half closed loop, the second half paced.
    let approve = |pace: Option<Duration>, offset: usize| {
        let (http, ids) = (http.clone(), ids.clone());
        load(clients, per_client, pace, move |c, i| {
            let http = http.clone();
            let id = ids[(offset + c * per_client + i) % ids.len()].clone();
            async move {
                let request = http
                    .post(format!("http://{addr}/api/brain/hitl/decisions/{id}/approve"))
                    .json(&serde_json::json!({"feedback": "ok"}));
                answered(request).await
            }
        })
    };
    let list_saturated = list(None).await;
    let list_paced = list(Some(list_pace)).await;
    let approve_saturated = approve(None, 0).await;
    // The approvals' effects run after the answers; let them finish before the next phase.
    let drained = Instant::now();
    while !store.outbox_due(u64::MAX, 1).await.expect("outbox").is_empty() {
        assert!(drained.elapsed() < Duration::from_secs(120), "the outbox does not drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "effects of {} approvals drained {:.1} s after the phase",
        clients * per_client,
        drained.elapsed().as_secs_f64()
    );
    let approve_paced = approve(Some(pace), clients * per_client).await;

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let offered = |p: Duration| clients as f64 / p.as_secs_f64();
    println!("\nHITL API, {pending} pending, {clients} concurrent clients, {cores} cores (server, clients and Redis on this machine)");
    println!(
        "closed loop = each client sends its next request as soon as the last is answered (saturation);"
    );
    println!(
        "paced = each client lists every {} ms ({:.0} req/s offered) and approves every {} ms ({:.0} req/s offered)\n",
        list_pace.as_millis(),
        offered(list_pace),
        pace.as_millis(),
        offered(pace)
    );
    println!("{:<34} {:>8} {:>8} {:>8} {:>8} {:>10}", "", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s");
    let row = |name: &str, (samples, wall): &(Vec<Duration>, Duration)| {
        let [p50, p95, p99, max] = summary(samples.clone());
        println!(
            "{name:<34} {p50:>8.2} {p95:>8.2} {p99:>8.2} {max:>8.2} {:>10.0}",
            samples.len() as f64 / wall.as_secs_f64()
        );
        p99
    };
    let b99 = row("baseline: Redis HGETALL, closed", &base);
    let l_sat = row("list (limit 50), closed loop", &list_saturated);
    let l99 = row("list (limit 50), paced", &list_paced);
    let a_sat = row("approve, closed loop", &approve_saturated);
    let a99 = row("approve, paced", &approve_paced);
    println!(
        "\nclosed loop, p99 / baseline p99 (the same clients straight at Redis): list {:.1}x, approve {:.1}x",
        l_sat / b99,
        a_sat / b99
    );
    println!(
        "targets (paced): approve p99 <= 10 ms: {}; list p99 <= 50 ms: {}",
        if a99 <= 10.0 { "met" } else { "NOT met" },
        if l99 <= 50.0 { "met" } else { "NOT met" }
    );

    // Clean up this run's keys (they would expire within the hour anyway).
    let mut conn =
        redis::Client::open(REDIS).expect("url").get_multiplexed_async_connection().await.expect("Redis");
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap_or_default();
    for chunk in keys.chunks(1000) {
        let _: Result<i64, _> = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await;
    }
}
