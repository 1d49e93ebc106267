//! The layers, as docs/runtime-semantics.md draws them, checked on the source: imports only
//! run downward. `agents` does no broker I/O; the pipeline does not reach into the actors; the
//! stores (decisions, ledger, workflows, audit) reach into neither the pipeline nor the
//! transport nor the actors, nor into each other (their shared error type lives in `store`).

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
        ("supervisor/src/pipeline", &["crate::actors", "crate::http", "crate::runtime"]),
        (
            "supervisor/src/hitl",
            &["crate::pipeline", "crate::actors", "crate::http", "crate::transport::link"],
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
