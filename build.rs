//! Lays out the release binary's code: the functions a replica runs (build/code-order.txt,
//! written by scripts/code-order.sh) go first and together. The kernel maps code in 64 KiB blocks
//! around each page a process touches; with the linker's own layout the functions a replica
//! runs (6 MiB) lie scattered among cold ones and 14 MiB of the 19 MB of code ended resident,
//! with them together 7 MiB (docs/benchmarks.md, seventh round).
//!
//! Only where rustc links with its own LLD (x86_64 Linux, GNU libc, Rust 1.90 and later), which
//! takes `--symbol-ordering-file`; OVERSEER_CODE_ORDER=off leaves the linker's own layout.

use std::env;
use std::path::Path;
use std::process::Command;

const ORDER: &str = "build/code-order.txt";

fn main() {
    println!("cargo::rerun-if-changed={ORDER}");
    println!("cargo::rerun-if-env-changed=OVERSEER_CODE_ORDER");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let target = (var("CARGO_CFG_TARGET_ARCH"), var("CARGO_CFG_TARGET_OS"), var("CARGO_CFG_TARGET_ENV"));
    let wanted = var("PROFILE") == "release"
        && var("OVERSEER_CODE_ORDER") != "off"
        && target == ("x86_64".into(), "linux".into(), "gnu".into())
        && links_with_rust_lld(&var("RUSTC"), &var("CARGO_ENCODED_RUSTFLAGS"));
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join(ORDER);
    if wanted && order.is_file() {
        println!("cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={}", order.display());
        // Names the list has and this build does not (code changed since it was written).
        println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// rustc 1.90 and later link x86_64-unknown-linux-gnu with their own LLD unless told otherwise.
fn links_with_rust_lld(rustc: &str, rustflags: &str) -> bool {
    if rustflags.contains("linker") {
        return false;
    }
    let Ok(out) = Command::new(if rustc.is_empty() { "rustc" } else { rustc }).arg("--version").output()
    else {
        return false;
    };
    let version = String::from_utf8_lossy(&out.stdout);
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    version.starts_with("rustc 1.") && minor.is_some_and(|m| m >= 90)
}
