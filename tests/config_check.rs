//! `overseer config check` as a person runs it.

mod common;

use common::*;

#[test]
fn the_shipped_configuration_checks_clean() {
    let out = overseer(&["--config", repo_config().to_str().expect("utf-8"), "config", "check"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ok (11 queues, 13 topics"), "{}", text(&out));
}

#[test]
fn three_mistakes_are_all_printed_with_file_and_key_and_the_exit_code_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(repo_config()).expect("config/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_owned();
        std::fs::copy(&path, dir.path().join(name)).expect("copy");
    }
    // Three mistakes in the shipped queue file: a typo'd key, a bad duration, an unknown class.
    let queues = std::fs::read_to_string(dir.path().join("queues.toml")).expect("queues.toml");
    let queues = queues
        .replacen(
            "workflow = \"order_processing\"",
            "workflow = \"order_processing\"\nprefetch_count = 10",
            1,
        )
        .replacen("message_ttl = \"30m\"", "message_ttl = \"thirty minutes\"", 1)
        .replacen("class = \"low\"", "class = \"lowest\"", 1);
    std::fs::write(dir.path().join("queues.toml"), queues).expect("write");

    let out = overseer(&["--config", dir.path().to_str().expect("utf-8"), "config", "check"], &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("3 configuration problems"), "{said}");
    let file = dir.path().join("queues.toml");
    let file = file.display();
    assert!(
        said.contains(&format!("{file}: queues.auto_orders")) && said.contains("prefetch_count"),
        "{said}"
    );
    assert!(said.contains(&format!("{file}: queues.auto_inventory.message_ttl")), "{said}");
    assert!(
        said.contains(&format!("{file}: queues.auto_analytics.class: `lowest` is not a configured class")),
        "{said}"
    );
}
