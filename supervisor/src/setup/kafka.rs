//! Kafka side of setup: compare the configured topics with the cluster's metadata, then create
//! the missing ones with their partitions and a replication factor capped at the broker count.

use super::desired::TopicSpec;
use super::plan::{Action, Kind, Step};
use crate::connect::KafkaCluster;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

/// The replication factor a topic gets on this cluster.
pub(super) fn effective_replication(topic: &TopicSpec, cluster: &KafkaCluster) -> i32 {
    let brokers = i32::try_from(cluster.brokers.max(1)).unwrap_or(i32::MAX);
    topic.replication_factor.min(brokers)
}

/// Steps for the topics, and a warning for every capped replication factor.
pub(super) fn inspect(topics: &[TopicSpec], cluster: &KafkaCluster) -> (Vec<Step>, Vec<String>) {
    let mut steps = Vec::new();
    let mut warnings = Vec::new();
    for topic in topics {
        let replication = effective_replication(topic, cluster);
        let action = match cluster.topics.get(&topic.name) {
            None => {
                if replication < topic.replication_factor {
                    warnings.push(format!(
                        "topic {}: replication factor {} capped at {replication}, the cluster's broker count",
                        topic.name, topic.replication_factor
                    ));
                }
                Action::Create
            }
            Some(&have) if have == usize::try_from(topic.partitions).unwrap_or(0) => Action::Keep,
            Some(&have) => Action::Conflict(format!(
                "exists with {have} partitions, the configuration wants {}",
                topic.partitions
            )),
        };
        steps.push(Step {
            kind: Kind::Topic,
            name: topic.name.clone(),
            settings: format!("{} partitions, replication factor {replication}", topic.partitions),
            action,
        });
    }
    (steps, warnings)
}

/// Creates the topics the steps mark for creation. A topic another replica created meanwhile
/// counts as created.
pub(super) async fn apply(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[TopicSpec],
    cluster: &KafkaCluster,
    steps: &[Step],
    mut progress: impl FnMut(&Step),
) -> Result<(), String> {
    let options = AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(30)));
    for step in steps.iter().filter(|s| s.action == Action::Create) {
        let Some(topic) = topics.iter().find(|t| t.name == step.name) else {
            continue;
        };
        let new = NewTopic::new(
            &topic.name,
            topic.partitions,
            TopicReplication::Fixed(effective_replication(topic, cluster)),
        );
        let results = admin.create_topics([&new], &options).await.map_err(|e| e.to_string())?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => return Err(format!("creating topic {name} failed: {code}")),
            }
        }
        progress(step);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(name: &str, partitions: i32) -> TopicSpec {
        TopicSpec { name: name.into(), partitions, replication_factor: 2 }
    }

    #[test]
    fn missing_topics_are_created_with_capped_replication_and_a_warning() {
        let cluster = KafkaCluster { brokers: 1, topics: BTreeMap::new() };
        let (steps, warnings) = inspect(&[spec("ai.errors", 2)], &cluster);
        assert_eq!(steps[0].action, Action::Create);
        assert!(steps[0].settings.contains("replication factor 1"), "{}", steps[0].settings);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("capped at 1"));
    }

    #[test]
    fn a_partition_mismatch_is_a_conflict_and_a_match_is_kept() {
        let cluster =
            KafkaCluster { brokers: 3, topics: BTreeMap::from([("a".to_string(), 3), ("b".to_string(), 1)]) };
        let (steps, warnings) = inspect(&[spec("a", 3), spec("b", 2)], &cluster);
        assert_eq!(steps[0].action, Action::Keep);
        assert!(matches!(&steps[1].action, Action::Conflict(m) if m.contains("1 partitions")));
        assert!(warnings.is_empty());
    }
}
