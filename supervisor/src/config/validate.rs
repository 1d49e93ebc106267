//! Rules that span sections or need more than a type: references between sections, ranges,
//! URL schemes. Each problem is a (dotted key, message) pair.

use super::{Config, ConsumerRole};

type Problems = Vec<(String, String)>;

pub(super) fn problems(config: &Config) -> Problems {
    let mut out = Vec::new();
    connections(config, &mut out);
    out.extend(config.http.problems());
    queues(config, &mut out);
    topics(config, &mut out);
    retry(config, &mut out);
    for (id, workflow) in &config.workflows {
        for (key, message) in workflow.problems() {
            out.push((format!("workflows.{id}.{key}"), message));
        }
    }
    for (i, target) in config.hitl.notifications.iter().enumerate() {
        for message in target.problems() {
            out.push((format!("hitl.notifications[{i}]"), message));
        }
    }
    if config.hitl.notify_attempts == 0 {
        out.push(("hitl.notify_attempts".into(), "must be at least 1".into()));
    }
    let polls = [
        ("runtime.control_poll", config.runtime.control_poll),
        ("runtime.backlog_poll", config.runtime.backlog_poll),
    ];
    for (key, every) in polls {
        if every < std::time::Duration::from_millis(100) {
            out.push((key.into(), "must be at least 100ms".into()));
        }
    }
    if config.hitl.outbox_lease < std::time::Duration::from_millis(300) {
        // Renewed every third of it: shorter leases turn into a stream of Redis writes.
        out.push(("hitl.outbox_lease".into(), "must be at least 300ms".into()));
    }
    for (name, agent) in &config.agents {
        for (key, message) in agent.problems() {
            out.push((format!("agents.{name}.{key}"), message));
        }
        if !config.topics.contains_key(&agent.domain_topic) {
            out.push((
                format!("agents.{name}.domain_topic"),
                format!("`{}` is not a configured topic", agent.domain_topic),
            ));
        }
    }
    out
}

fn connections(config: &Config, out: &mut Problems) {
    let c = &config.connections;
    check_url(out, "connections.amqp.url", &c.amqp.url, &["amqp", "amqps"]);
    if let Some(url) = &c.amqp.management_url {
        check_url(out, "connections.amqp.management_url", url, &["http", "https"]);
    }
    check_url(out, "connections.redis.url", &c.redis.url, &["redis", "rediss"]);
    if c.kafka.bootstrap_servers.trim().is_empty() {
        out.push(("connections.kafka.bootstrap_servers".into(), "must not be empty".into()));
    }
    if !c.llm.is_offline() {
        if let Some(url) = &c.llm.base_url {
            check_url(out, "connections.llm.base_url", url, &["http", "https"]);
        }
    }
    if c.llm.max_tokens < 16 {
        out.push(("connections.llm.max_tokens".into(), "must be at least 16".into()));
    }
    if c.llm.max_attempts == 0 {
        out.push(("connections.llm.max_attempts".into(), "must be at least 1".into()));
    }
    let p = &config.policy;
    if !(0.0..=1.0).contains(&p.inventory_adjust_max_fraction) {
        out.push(("policy.inventory_adjust_max_fraction".into(), "must be within 0..1".into()));
    }
    if p.refund_limit < 0.0 || p.budget_change_limit < 0.0 {
        out.push(("policy".into(), "limits must not be negative".into()));
    }
    if config.runtime.max_restarts == 0 {
        out.push(("runtime.max_restarts".into(), "must be at least 1".into()));
    }
    if c.llm.max_concurrency == 0 {
        out.push(("connections.llm.max_concurrency".into(), "must be at least 1".into()));
    }
    if c.amqp.heartbeat.as_secs() == 0 {
        out.push((
            "connections.amqp.heartbeat".into(),
            "must be at least 1s (AMQP counts heartbeats in whole seconds)".into(),
        ));
    }
}

fn check_url(out: &mut Problems, key: &str, raw: &str, schemes: &[&str]) {
    match url::Url::parse(raw) {
        Ok(url) if schemes.contains(&url.scheme()) => {}
        Ok(url) => {
            out.push((key.into(), format!("scheme `{}` is not one of {}", url.scheme(), schemes.join(", "))))
        }
        // The URL is not echoed: it may hold a password.
        Err(e) => out.push((key.into(), format!("not a valid URL ({e})"))),
    }
}

fn queues(config: &Config, out: &mut Problems) {
    for (name, q) in &config.queues {
        let key = |field: &str| format!("queues.{name}.{field}");
        if name.ends_with(".dlq") || name.starts_with("overseer.") {
            out.push((
                format!("queues.{name}"),
                "names ending in .dlq or starting with overseer. are reserved".into(),
            ));
        }
        if !config.classes.contains_key(&q.class) {
            out.push((key("class"), format!("`{}` is not a configured class", q.class)));
        }
        if q.message_ttl.is_zero() {
            out.push((key("message_ttl"), "must be longer than zero".into()));
        }
        for w in q.allowed_workflows.iter().filter(|w| !config.workflows.contains_key(*w)) {
            out.push((key("allowed_workflows"), format!("`{w}` is not a configured workflow")));
        }
        match (q.consumer, &q.agent, &q.workflow) {
            (ConsumerRole::Agent, None, _) => {
                out.push((key("agent"), "required when consumer = \"agent\"".into()))
            }
            (ConsumerRole::Agent, _, None) => {
                out.push((key("workflow"), "required when consumer = \"agent\"".into()))
            }
            (ConsumerRole::Agent, _, _) => {}
            (_, Some(_), _) => {
                out.push((key("agent"), "only a queue with consumer = \"agent\" has an agent".into()))
            }
            _ => {}
        }
        if let Some(agent) = &q.agent {
            if !config.agents.contains_key(agent) {
                out.push((key("agent"), format!("`{agent}` is not a configured agent")));
            }
        }
        if let Some(workflow) = &q.workflow {
            if !config.workflows.contains_key(workflow) {
                out.push((key("workflow"), format!("`{workflow}` is not a configured workflow")));
            }
        }
        if q.prefetch == Some(0) || q.concurrency == Some(0) || q.max_attempts == Some(0) {
            out.push((
                format!("queues.{name}"),
                "prefetch, concurrency and max_attempts must be at least 1".into(),
            ));
        }
        if let Some(a) = &q.autoscale {
            let most = crate::control::MAX_CONCURRENCY;
            if a.min == 0 || a.min > a.max || usize::from(a.max) > most {
                out.push((key("autoscale"), format!("needs 1 <= min <= max <= {most}")));
            }
        }
        if config.classes.contains_key(&q.class) && config.concurrency(q) > config.prefetch(q) {
            out.push((
                key("concurrency"),
                format!(
                    "{} is more than the prefetch {}: consumers could never have that many tasks",
                    config.concurrency(q),
                    config.prefetch(q)
                ),
            ));
        }
    }
    for (name, class) in &config.classes {
        if class.prefetch == 0 || class.concurrency == 0 {
            out.push((format!("classes.{name}"), "prefetch and concurrency must be at least 1".into()));
        }
    }
}

fn topics(config: &Config, out: &mut Problems) {
    for (name, t) in &config.topics {
        if t.partitions < 1 {
            out.push((format!("topics.{name}.partitions"), "must be at least 1".into()));
        }
        if t.replication_factor < 1 {
            out.push((format!("topics.{name}.replication_factor"), "must be at least 1".into()));
        }
    }
}

fn retry(config: &Config, out: &mut Problems) {
    let delays = &config.retry.delays;
    if delays.is_empty() || delays.iter().any(|d| d.as_millis() == 0) {
        out.push(("retry.delays".into(), "needs at least one delay, each longer than zero".into()));
    }
    if delays.windows(2).any(|w| w[0] >= w[1]) {
        out.push(("retry.delays".into(), "must be in increasing order".into()));
    }
    if config.retry.max_attempts == 0 {
        out.push(("retry.max_attempts".into(), "must be at least 1".into()));
    }
}
