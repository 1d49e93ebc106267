//! A release build of the binary (`cargo build --release`, as the image builds it) and a bench
//! build (`cargo bench`, from which scripts/code-order.sh writes build/code-order.txt) must
//! compile every crate with the same features: a crate's features are part of its symbols'
//! names, and a list naming other symbols lays out nothing (docs/benchmarks.md, eighth round).
//! The tests' and benchmarks' dependencies may turn on more features of a shared crate than the
//! binary's own; Cargo.toml then turns them on for the binary too.

use std::collections::BTreeMap;
use std::process::Command;

/// Each package the binary is built from, with its features, as `cargo tree` resolves them for
/// these dependency kinds.
fn resolved(kinds: &str) -> BTreeMap<String, String> {
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--locked", "--offline", "-p", "overseer", "--prefix", "none", "-e", kinds])
        .args(["-f", "{p}|{f}"])
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.trim_end_matches(" (*)").split_once('|'))
        .map(|(package, features)| (package.to_string(), features.to_string()))
        .collect()
}

#[test]
fn the_tests_dependencies_turn_on_no_feature_the_binary_lacks() {
    let binary = resolved("normal,build");
    let with_tests = resolved("normal,build,dev");
    assert!(binary.len() > 100, "too few packages resolved: {}", binary.len());
    let parted: Vec<String> = binary
        .iter()
        .filter_map(|(package, features)| {
            let other = with_tests.get(package)?;
            (other != features).then(|| format!("{package}: binary [{features}], with tests [{other}]"))
        })
        .collect();
    assert!(
        parted.is_empty(),
        "features differ (turn them on in Cargo.toml's [dependencies]):\n{}",
        parted.join("\n")
    );
}
