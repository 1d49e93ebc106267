//! Reading a replica's supervisor API in the control-plane tests.

use serde_json::Value;
use std::time::{Duration, Instant};

/// Waits until `ok` holds, at most `limit`; panics naming `what` otherwise.
pub async fn until(what: &str, limit: Duration, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `queue` as the tree shows it (null when absent).
pub fn queue_in(tree: &Value, queue: &str) -> Value {
    tree["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["queue"] == queue).cloned())
        .unwrap_or_default()
}

/// The supervisor tree of the replica at `base` (`http://host:port`), read as `client`.
pub async fn tree_of(client: &reqwest::Client, base: &str) -> Value {
    client.get(format!("{base}/api/supervisor/tree")).send().await.expect("tree").json().await.expect("JSON")
}

/// `queue` in the tree of the replica at `base`, read as `client`.
pub async fn queue_of(client: &reqwest::Client, base: &str, queue: &str) -> Value {
    queue_in(&tree_of(client, base).await, queue)
}

/// The value of the first sample of `name` on a Prometheus text page whose labels include each
/// of `labels` (written `key="value"`).
pub fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines()
        .find(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || (labels.is_empty() && rest.starts_with(' ')))
                && labels.iter().all(|label| l.contains(label))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}
