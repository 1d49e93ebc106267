//! `overseer run` as a child process, configured through the environment like a Swarm service.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Replica {
    pub child: Child,
}

impl Replica {
    /// Starts `overseer run` with these `OVERSEER__…` variables; waits until /health answers.
    pub fn start(env: &[(String, String)], port: u16) -> Self {
        Self::start_logging(env, port, Stdio::inherit())
    }

    /// [`start`](Self::start), its log (stderr) going to `log`.
    pub fn start_logging(env: &[(String, String)], port: u16, log: impl Into<Stdio>) -> Self {
        // OVERSEER_BIN runs another build (or a wrapper such as a profiler) in its place, for
        // before/after comparisons in the benchmarks.
        let program =
            std::env::var_os("OVERSEER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_overseer").into());
        let mut cmd = Command::new(program);
        cmd.args([
            "--config",
            super::repo_config().to_str().expect("utf-8"),
            "run",
            "--queues",
            "auto_orders",
        ])
        .env("OVERSEER_LOG", "warn")
        .env("OVERSEER__HTTP__BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("overseer starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "overseer did not open its port");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child }
    }

    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit code and how long that took.
    pub fn wait(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status.code(), started.elapsed());
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                return (None, started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}
