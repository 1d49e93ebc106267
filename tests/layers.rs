//! The layers, as docs/runtime-semantics.md draws them, checked on the source: imports only
//! run downward. `agents` does no broker I/O; the pipeline does not reach into the actors; the
//! stores (decisions, ledger, workflows, audit) reach into neither the pipeline nor the
//! transport nor the actors, nor into each other (their shared error type lives in `store`);
//! the HITL service needs nothing above it (the outbox's queue port is its own). Within a
//! module, files import one another without cycles.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Every `use`/path mention of a forbidden module in the files of `dir`.
fn imports(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for file in rust_files(&root.join(dir)) {
        let text = std::fs::read_to_string(&file).expect("source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for f in forbidden {
                if code.contains(f) {
                    found.push(format!(
                        "{}:{}: {}",
                        file.strip_prefix(root).unwrap_or(&file).display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn imports_run_only_downward() {
    let rules: &[(&str, &[&str])] = &[
        ("agents/src", &["overseer_supervisor", "lapin", "rdkafka", "redis::"]),
        ("supervisor/src/pipeline", &["crate::actors", "crate::http", "crate::runtime", "crate::onboarding"]),
        (
            "supervisor/src/hitl",
            &["crate::pipeline", "crate::actors", "crate::http", "crate::transport", "crate::onboarding"],
        ),
        (
            "supervisor/src/onboarding",
            &["crate::pipeline", "crate::actors", "crate::http", "crate::transport"],
        ),
        ("supervisor/src/ledger", &["crate::pipeline", "crate::actors", "crate::hitl", "crate::http"]),
        ("supervisor/src/workflows", &["crate::pipeline", "crate::actors", "crate::hitl", "crate::http"]),
        ("supervisor/src/audit", &["crate::pipeline", "crate::actors", "crate::hitl", "crate::http"]),
        ("supervisor/src/events", &["crate::pipeline", "crate::actors", "crate::hitl", "crate::http"]),
        ("supervisor/src/auth", &["crate::pipeline", "crate::actors", "crate::hitl", "crate::http"]),
    ];
    let mut broken = Vec::new();
    for (dir, forbidden) in rules {
        broken.extend(imports(dir, forbidden));
    }
    assert!(broken.is_empty(), "imports that run back up the layers:\n{}", broken.join("\n"));
}

/// The sibling files each file of `dir` imports through `super::` (mod.rs and its re-exports
/// left out: a file using an item its module re-exports is no cycle).
fn sibling_imports(dir: &str) -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let names: Vec<String> = rust_files(&root)
        .iter()
        .filter(|f| f.parent() == Some(root.as_path()))
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|n| n != "mod")
        .collect();
    let single = regex::Regex::new(r"super::(\w+)").expect("regex");
    let group = regex::Regex::new(r"super::\{([^}]*)\}").expect("regex");
    names
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(root.join(format!("{name}.rs"))).expect("source");
            let code: String =
                text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
            let mut used: Vec<String> = single.captures_iter(&code).map(|c| c[1].to_string()).collect();
            for g in group.captures_iter(&code) {
                used.extend(
                    g[1].split(',').map(|p| p.trim().split("::").next().unwrap_or_default().to_string()),
                );
            }
            used.retain(|u| u != name && names.contains(u));
            used.sort();
            used.dedup();
            (name.clone(), used)
        })
        .collect()
}

/// A cycle among the files' imports, if there is one (depth-first search).
fn cycle(edges: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &[(String, Vec<String>)],
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.iter().any(|d| d == node) {
            return None;
        }
        path.push(node.to_string());
        let next = edges.iter().find(|(n, _)| n == node).map(|(_, e)| e.clone()).unwrap_or_default();
        for n in next {
            if let Some(found) = visit(&n, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.push(node.to_string());
        None
    }
    let mut done = Vec::new();
    edges.iter().find_map(|(n, _)| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn files_within_a_module_import_each_other_without_cycles() {
    for dir in
        ["supervisor/src/pipeline", "supervisor/src/hitl", "supervisor/src/actors", "supervisor/src/events"]
    {
        let edges = sibling_imports(dir);
        assert!(
            edges.iter().any(|(_, e)| !e.is_empty()),
            "{dir}: no sibling imports found; is the parser blind?"
        );
        if let Some(found) = cycle(&edges) {
            panic!("{dir}: files import each other in a cycle: {}", found.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let edges = vec![
        ("a".to_string(), vec!["b".to_string()]),
        ("b".to_string(), vec!["c".to_string()]),
        ("c".to_string(), vec!["a".to_string()]),
    ];
    assert_eq!(cycle(&edges), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert_eq!(cycle(&edges[..2]), None);
}
