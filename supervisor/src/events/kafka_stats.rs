//! The producer's own counts of what it sent, from librdkafka's statistics (every
//! `statistics.interval.ms`): produce requests and the records they carried, so /metrics shows
//! how well the producer batches (records per request) and what each task costs the broker.

use serde::Deserialize;
use std::collections::HashMap;

/// The part of librdkafka's statistics JSON read here; the rest is skipped.
#[derive(Deserialize)]
struct Snapshot {
    /// Records sent to the brokers, in total.
    #[serde(default)]
    txmsgs: u64,
    #[serde(default)]
    brokers: HashMap<String, BrokerSnapshot>,
}

#[derive(Deserialize)]
struct BrokerSnapshot {
    /// Requests sent, by request type.
    #[serde(default)]
    req: HashMap<String, u64>,
}

/// (produce requests, records sent) in one statistics document; None when it is not one.
fn totals(json: &[u8]) -> Option<(u64, u64)> {
    let snapshot: Snapshot = serde_json::from_slice(json).ok()?;
    let requests = snapshot.brokers.values().filter_map(|b| b.req.get("Produce")).sum();
    Some((requests, snapshot.txmsgs))
}

/// Publishes one statistics document of the producer as counters. They are looked up at each
/// report (every few seconds), not held: the producer may be built before the metrics recorder
/// is installed.
pub fn publish(statistics: &[u8]) {
    match totals(statistics) {
        Some((requests, records)) => {
            metrics::counter!(crate::metrics::KAFKA_PRODUCE_REQUESTS).absolute(requests);
            metrics::counter!(crate::metrics::KAFKA_RECORDS_SENT).absolute(records);
        }
        None => tracing::debug!("librdkafka statistics not understood"),
    }
}

#[cfg(test)]
mod tests {
    use super::totals;

    #[test]
    fn produce_requests_are_summed_over_brokers_and_other_requests_left_out() {
        let json = br#"{"name":"rdkafka#producer-1","txmsgs":120,"tx":90,
            "brokers":{
              "127.0.0.1:9092/bootstrap":{"req":{"Produce":0,"Metadata":2,"ApiVersion":1},"tx":3},
              "localhost:9092/0":{"req":{"Produce":40,"Metadata":1,"InitProducerId":1},"tx":42},
              "localhost:9093/1":{"req":{"Produce":5},"toppars":{}}
            },
            "topics":{"ai.completions":{"partitions":{}}}}"#;
        assert_eq!(totals(json), Some((45, 120)));
    }

    #[test]
    fn a_document_that_is_not_statistics_is_ignored() {
        assert_eq!(totals(b"not json"), None);
        assert_eq!(totals(br#"{"txmsgs":"many"}"#), None);
    }
}
