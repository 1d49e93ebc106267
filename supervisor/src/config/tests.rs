use super::*;
use std::path::PathBuf;
use std::time::Duration;

fn repo_config() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"))
}

fn load_repo() -> Config {
    match Config::load_with_env(&repo_config(), Vec::new()) {
        Ok(config) => config,
        Err(errors) => panic!("config/ does not load:\n{errors}"),
    }
}

/// Writes `files` into a fresh directory (a copy of config/ first when `base` is set).
fn dir_with(base: bool, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    if base {
        for entry in std::fs::read_dir(repo_config()).expect("config/") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn problems(dir: &tempfile::TempDir, env: Vec<(String, String)>) -> Vec<ConfigProblem> {
    match Config::load_with_env(dir.path(), env) {
        Ok(_) => panic!("expected problems"),
        Err(ConfigErrors(problems)) => problems,
    }
}

#[test]
fn every_file_in_config_loads_and_matches_the_contract() {
    let config = load_repo();
    // CONTRACT.md: queue, class, message TTL.
    let h = 3600;
    let contract = [
        ("auto_orders", "high", h),
        ("auto_support_tickets", "high", 2 * h),
        ("auto_inventory", "medium", h / 2),
        ("auto_marketing", "medium", 4 * h),
        ("auto_seo", "medium", 2 * h),
        ("auto_social_media", "medium", h),
        ("auto_email_campaigns", "medium", 2 * h),
        ("auto_analytics", "low", 4 * h),
        ("hitl_approval", "critical", 24 * h),
        ("hitl_exceptions", "critical", 12 * h),
        ("hitl_training", "training", 7 * 24 * h),
    ];
    assert_eq!(config.queues.len(), contract.len());
    for (name, class, ttl) in contract {
        let q = &config.queues[name];
        assert_eq!(q.class, class, "{name}");
        assert_eq!(q.message_ttl, Duration::from_secs(ttl), "{name}");
    }
    let topics = [
        ("domain.orders", 3),
        ("domain.customers", 3),
        ("domain.products", 3),
        ("domain.leads", 2),
        ("domain.content", 2),
        ("ai.decisions", 3),
        ("ai.completions", 3),
        ("ai.errors", 2),
        ("hitl.requests", 2),
        ("hitl.decisions", 2),
        ("hitl.feedback", 2),
        ("audit.trail", 5),
        ("analytics.metrics", 3),
    ];
    assert_eq!(config.topics.len(), topics.len());
    for (name, partitions) in topics {
        assert_eq!(config.topics[name].partitions, partitions, "{name}");
        assert_eq!(config.topics[name].replication_factor, 2, "{name}");
    }
    // REQUIREMENTS.md: the eight default workflows.
    use overseer_agents::workflow::AutonomyLevel::*;
    let workflows = [
        ("lead_processing", true, 0.85, Assisted, "django-crm"),
        ("product_sourcing", true, 0.90, Monitored, "saleor"),
        ("campaign_optimization", false, 0.75, Autonomous, "ai-agents"),
        ("content_generation", false, 0.80, Autonomous, "wagtail"),
        ("customer_support", true, 0.85, Assisted, "conversations"),
        ("payment_processing", true, 0.95, Supervised, "payments"),
        ("inventory_management", false, 0.80, Monitored, "saleor"),
        ("analytics_reporting", false, 0.70, Autonomous, "analytics"),
    ];
    for (id, hitl, threshold, level, service) in workflows {
        let wf = &config.workflows[id];
        assert_eq!(
            (wf.hitl_enabled, wf.confidence_threshold, wf.autonomy_level, wf.service.as_str()),
            (hitl, threshold, level, service),
            "{id}"
        );
    }
    // Every agent queue names an agent; the four domain agents are the built-in kinds.
    for name in
        ["order", "support", "marketing", "inventory", "seo", "social_media", "email_campaign", "analytics"]
    {
        assert!(config.agents.contains_key(name), "agent {name}");
    }
    assert!(config.connections.llm.is_offline(), "the default config must run without an LLM endpoint");
}

#[test]
fn three_mistakes_in_one_file_are_all_reported_with_file_and_key() {
    let dir = dir_with(
        true,
        &[(
            "zz-mistakes.toml",
            r#"
[queues.auto_extra]
class = "high"
message_ttl = "1h"
consumer = "agent"
agent = "order"
workflow = "no_such_workflow"

[workflows.broken]
hitl_enabled = true
confidence_threshold = 1.7
autonomy_level = "assisted"

[topics."extra.topic"]
partitions = 3
replicas = 2
"#,
        )],
    );
    let found = problems(&dir, Vec::new());
    let file = dir.path().join("zz-mistakes.toml");
    let keys: Vec<_> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    for p in &found {
        assert_eq!(p.origin, Origin::File(file.clone()), "{p}");
    }
    assert!(keys.contains(&"queues.auto_extra.workflow"), "{keys:?}");
    assert!(keys.contains(&"workflows.broken.confidence_threshold"), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("topics.extra.topic")), "{keys:?}");
    assert!(found.iter().any(|p| p.message.contains("replicas")), "{found:#?}");
}

#[test]
fn a_bad_type_names_the_exact_key() {
    let dir = dir_with(true, &[("zz.toml", "[queues.auto_x]\nclass = \"high\"\nmessage_ttl = \"1h\"\nconsumer = \"external\"\nprefetch = \"ten\"\n")]);
    let found = problems(&dir, Vec::new());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "queues.auto_x.prefetch");
}

#[test]
fn a_key_set_in_two_files_is_an_error() {
    let dir = dir_with(true, &[("zz.toml", "[queues.auto_orders]\nmessage_ttl = \"2h\"\n")]);
    let found = problems(&dir, Vec::new());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "queues.auto_orders.message_ttl");
    assert!(found[0].message.contains("queues.toml"), "{}", found[0]);
}

#[test]
fn environment_overrides_connections_and_keeps_strings_strings() {
    let env = vec![
        ("OVERSEER__CONNECTIONS__AMQP__URL".to_string(), "amqp://u:p@rabbit:5672/%2f".to_string()),
        ("OVERSEER__CONNECTIONS__LLM__MODEL".to_string(), "12345".to_string()),
        ("OVERSEER__QUEUES__AUTO_ORDERS__CONCURRENCY".to_string(), "8".to_string()),
        ("OVERSEER__CONNECTIONS__KAFKA__CLIENT__MESSAGE.TIMEOUT.MS".to_string(), "5000".to_string()),
        ("OVERSEER_UNRELATED".to_string(), "ignored".to_string()),
    ];
    let config = Config::load_with_env(&repo_config(), env).expect("loads");
    assert_eq!(config.connections.amqp.url, "amqp://u:p@rabbit:5672/%2f");
    assert_eq!(config.connections.llm.model, "12345");
    assert_eq!(config.queues["auto_orders"].concurrency, Some(8));
    assert_eq!(config.connections.kafka.client["message.timeout.ms"], "5000");
}

#[test]
fn a_bad_environment_override_names_the_variable() {
    let dir = dir_with(true, &[]);
    let var = "OVERSEER__CONNECTIONS__AMQP__HEARTBEET".to_string();
    let found = problems(&dir, vec![(var.clone(), "5s".into())]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].origin, Origin::Env(var));
}

#[test]
fn broken_toml_and_missing_sections_are_reported_together() {
    let dir = dir_with(false, &[("a.toml", "[connections\n"), ("b.toml", "[http]\nbind = \"0.0.0.0:1\"\n")]);
    let found = problems(&dir, Vec::new());
    assert!(found.iter().any(|p| p.message.contains("not valid TOML")), "{found:#?}");
    assert!(found.iter().any(|p| p.key == "connections" && p.message == "missing section"), "{found:#?}");
}

#[test]
fn url_problems_never_echo_the_password() {
    let env = vec![("OVERSEER__CONNECTIONS__REDIS__URL".to_string(), "http://:hunter2@h:1".to_string())];
    let dir = dir_with(true, &[]);
    let found = problems(&dir, env);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(!found[0].to_string().contains("hunter2"), "{}", found[0]);
}

#[test]
fn docs_configuration_md_is_generated_from_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let generated = reference::markdown();
    assert!(
        on_disk == generated,
        "docs/configuration.md is out of date: run `cargo run -- config reference > docs/configuration.md`"
    );
    // Every leaf key the code knows is in the document.
    for key in [
        "connections.amqp.heartbeat",
        "queues.<name>.message_ttl",
        "workflows.<name>.autonomy_level",
        "agents.<name>.user_template",
        "retry.delays",
        "connections.kafka.client",
    ] {
        assert!(generated.contains(&format!("`{key}`")), "{key} missing from the reference");
    }
}

#[test]
fn worker_threads_sizes_the_runtime_and_zero_is_refused() {
    let with = |n: &str| {
        Config::load_with_env(&repo_config(), vec![("OVERSEER__RUNTIME__WORKER_THREADS".into(), n.into())])
    };
    let one = with("1").expect("1 is a thread count");
    let runtime = one.runtime.tokio().expect("runtime");
    assert_eq!(runtime.metrics().num_workers(), 1);
    let three = with("3").expect("3 is a thread count").runtime.tokio().expect("runtime");
    assert_eq!(three.metrics().num_workers(), 3);
    assert!(with("0").is_err(), "zero threads is refused");
    assert_eq!(load_repo().runtime.worker_threads, None);
}
