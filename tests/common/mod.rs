//! Helpers shared by the integration tests: the real services on this machine, an isolated
//! RabbitMQ vhost per test, and running the `overseer` binary.
#![allow(dead_code, unreachable_pub)]

pub mod auth;
pub mod faults;
pub mod kafka_watch;
pub mod llm_server;
pub mod own;
pub mod process;
pub mod proxy;
pub mod runtime;
pub mod supervisor;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

pub const MGMT: &str = "http://127.0.0.1:15672";
pub const KAFKA: &str = "127.0.0.1:9092";

pub fn repo_config() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
}

pub fn repo_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Runs `overseer` with the given arguments and extra environment.
pub fn overseer(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_overseer"));
    cmd.args(args).env("OVERSEER_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("overseer runs")
}

pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A RabbitMQ vhost of its own for one test, deleted again on drop.
pub struct Vhost {
    pub name: String,
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

/// Runs `f` on a thread of its own: the blocking HTTP client owns a runtime, which must not be
/// created or dropped inside an async test.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("helper thread"))
}

fn mgmt_url(parts: &[&str]) -> reqwest::Url {
    let mut url = reqwest::Url::parse(MGMT).expect("url");
    url.path_segments_mut().expect("base").push("api").extend(parts);
    url
}

impl Vhost {
    pub fn new() -> Self {
        off_runtime(Self::create)
    }

    fn create() -> Self {
        let name = format!("overseer-test-{}", uuid::Uuid::new_v4());
        let put = |url: reqwest::Url, body: serde_json::Value| {
            let response = http()
                .put(url)
                .basic_auth("guest", Some("guest"))
                .json(&body)
                .send()
                .expect("management API answers (scripts/services.sh enables it)");
            assert!(response.status().is_success(), "{}", response.status());
        };
        put(mgmt_url(&["vhosts", &name]), serde_json::json!({}));
        put(
            mgmt_url(&["permissions", &name, "guest"]),
            serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"}),
        );
        Self { name }
    }

    /// The AMQP URL of this vhost.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }

    /// The consumers registered in this vhost (queue, prefetch_count, ...).
    pub fn consumers(&self) -> Vec<serde_json::Value> {
        self.get("consumers")
    }

    fn get(&self, what: &str) -> Vec<serde_json::Value> {
        off_runtime(|| self.fetch(what))
    }

    fn fetch(&self, what: &str) -> Vec<serde_json::Value> {
        http()
            .get(mgmt_url(&[what, &self.name]))
            .basic_auth("guest", Some("guest"))
            .send()
            .expect("management API")
            .json::<Vec<serde_json::Value>>()
            .expect("JSON list")
    }

    /// Queue name → (durable, arguments as strings).
    pub fn queues(&self) -> BTreeMap<String, (bool, BTreeMap<String, String>)> {
        self.get("queues")
            .into_iter()
            .map(|q| {
                let args = q["arguments"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (q["name"].as_str().unwrap_or_default().to_string(), (q["durable"] == true, args))
            })
            .collect()
    }

    /// Exchange name → type, without the broker's built-in `amq.*` and default exchanges.
    pub fn exchanges(&self) -> BTreeMap<String, String> {
        self.get("exchanges")
            .into_iter()
            .filter_map(|e| {
                let name = e["name"].as_str()?.to_string();
                (!name.is_empty() && !name.starts_with("amq."))
                    .then(|| (name, e["type"].as_str().unwrap_or_default().to_string()))
            })
            .collect()
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let url = mgmt_url(&["vhosts", &self.name]);
        off_runtime(|| {
            let _ = http().delete(url).basic_auth("guest", Some("guest")).send();
        });
    }
}

/// Topic name → partition count, read from the Kafka broker.
pub fn kafka_topics() -> BTreeMap<String, usize> {
    use rdkafka::admin::AdminClient;
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", KAFKA).create().expect("admin client");
    let metadata = admin
        .inner()
        .fetch_metadata(None, std::time::Duration::from_secs(10))
        .expect("Kafka answers (scripts/services.sh starts tansu)");
    metadata.topics().iter().map(|t| (t.name().to_string(), t.partitions().len())).collect()
}

/// Rows (cells trimmed) of the Markdown table in `doc` whose header line starts with `header`.
pub fn markdown_table(doc: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(header));
    lines.next();
    lines.next();
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect())
        .collect()
}
