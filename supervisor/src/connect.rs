//! Opening connections to the brokers, with errors that say which service, at which URL
//! (password masked), and what to do.

use crate::config::{AmqpConfig, KafkaConfig, RedisConfig};
use crate::redact::{mask_url, scrub};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use std::time::Duration;

/// A service could not be reached or refused us.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} at {url} is unreachable: {detail}. Is it running? (scripts/services.sh starts the local services)")]
pub struct Unreachable {
    /// RabbitMQ, Kafka, Redis or the RabbitMQ management API.
    pub service: &'static str,
    /// The URL tried, password masked.
    pub url: String,
    /// What the client library said, secrets scrubbed.
    pub detail: String,
}

impl Unreachable {
    pub fn new(service: &'static str, raw_url: &str, detail: impl ToString) -> Self {
        Self { service, url: mask_url(raw_url), detail: scrub(&detail.to_string(), raw_url) }
    }
}

/// The largest AMQP frame asked for. lapin keeps a send and a receive buffer of 32 frames per
/// connection, filled with zeros: at RabbitMQ's default 128 KiB frames that is 8 MiB of memory
/// per connection; at 8 KiB, 512 KiB. A message larger than a frame travels as several frames
/// (a task of a few KiB still fits in one).
pub const AMQP_FRAME_MAX: u32 = 8 * 1024;

/// The AMQP URL with the configured heartbeat and connect timeout, and [`AMQP_FRAME_MAX`], as
/// query parameters (values already in the URL win).
pub fn amqp_uri(config: &AmqpConfig) -> String {
    let Ok(mut url) = url::Url::parse(&config.url) else {
        return config.url.clone();
    };
    let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let ours = [
        ("heartbeat", config.heartbeat.as_secs().to_string()),
        ("connection_timeout", config.connect_timeout.as_millis().to_string()),
        ("frame_max", AMQP_FRAME_MAX.to_string()),
    ];
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in ours.iter().filter(|(key, _)| !present.iter().any(|k| k == key)) {
            query.append_pair(key, value);
        }
    }
    url.to_string()
}

/// The CA certificate `connections.redis.ca_file` names, read (none: the system's roots).
pub fn redis_ca(config: &RedisConfig) -> Result<Option<Vec<u8>>, String> {
    config
        .ca_file
        .as_ref()
        .map(|path| {
            std::fs::read(path).map_err(|e| format!("connections.redis.ca_file {}: {e}", path.display()))
        })
        .transpose()
}

/// Connects to RabbitMQ within the configured connect timeout.
pub async fn amqp(config: &AmqpConfig, name: &str) -> Result<lapin::Connection, Unreachable> {
    let props = lapin::ConnectionProperties::default().with_connection_name(name.into());
    let uri = amqp_uri(config);
    let attempt = lapin::Connection::connect(&uri, props);
    match tokio::time::timeout(config.connect_timeout + Duration::from_secs(1), attempt).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(Unreachable::new("RabbitMQ", &config.url, e)),
        Err(_) => Err(Unreachable::new(
            "RabbitMQ",
            &config.url,
            format!("no answer within {:?}", config.connect_timeout),
        )),
    }
}

/// librdkafka settings for this config: bootstrap servers plus the pass-through properties.
pub fn kafka_client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.bootstrap_servers);
    for (key, value) in &config.client {
        client.set(key, value);
    }
    client
}

/// What the Kafka cluster holds: its broker count and each topic's partition count.
#[derive(Debug, Clone)]
pub struct KafkaCluster {
    pub brokers: usize,
    pub topics: std::collections::BTreeMap<String, usize>,
}

/// An admin client, after one metadata round trip proved the cluster answers.
pub async fn kafka_admin(
    config: &KafkaConfig,
) -> Result<(AdminClient<DefaultClientContext>, KafkaCluster), Unreachable> {
    let url = format!("kafka://{}", config.bootstrap_servers);
    let cluster = kafka_metadata(config).await.map_err(|e| Unreachable::new("Kafka", &url, e))?;
    let admin = kafka_client_config(config).create().map_err(|e| Unreachable::new("Kafka", &url, e))?;
    Ok((admin, cluster))
}

/// Reads the cluster's metadata. librdkafka's call blocks, so it runs on a blocking thread
/// with a client of its own.
pub async fn kafka_metadata(config: &KafkaConfig) -> Result<KafkaCluster, String> {
    let client_config = kafka_client_config(config);
    let timeout = config.request_timeout;
    let read = move || -> Result<KafkaCluster, String> {
        let admin: AdminClient<DefaultClientContext> = client_config.create().map_err(|e| e.to_string())?;
        let metadata = admin.inner().fetch_metadata(None, timeout).map_err(|e| e.to_string())?;
        Ok(KafkaCluster {
            brokers: metadata.brokers().len(),
            topics: metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| (t.name().to_string(), t.partitions().len()))
                .collect(),
        })
    };
    tokio::task::spawn_blocking(read).await.map_err(|e| format!("metadata task failed: {e}"))?
}

/// Installs the process's TLS crypto provider (ring) once: Redis over `rediss://` needs one,
/// and with more than one compiled in, rustls will not pick on its own.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err: another part of the process installed one first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> AmqpConfig {
        serde_json::from_value(serde_json::json!({"url": url})).expect("an AMQP config")
    }

    #[test]
    fn the_uri_asks_for_small_frames_unless_the_url_says_otherwise() {
        let uri = amqp_uri(&config("amqp://guest:guest@127.0.0.1:5672/%2f"));
        let query: Vec<(String, String)> =
            url::Url::parse(&uri).expect("URL").query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        assert!(query.contains(&("frame_max".into(), "8192".into())), "{query:?}");
        assert!(query.iter().any(|(k, _)| k == "heartbeat"), "{query:?}");
        let own = amqp_uri(&config("amqp://guest:guest@127.0.0.1:5672/%2f?frame_max=131072"));
        assert_eq!(own.matches("frame_max").count(), 1, "{own}");
        assert!(own.contains("frame_max=131072"), "{own}");
    }
}
