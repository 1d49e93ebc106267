//! Services of a test's own, on their own ports and data directories, so a fault test can
//! kill or stop them by PID without touching the machine's shared services.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process this test started; killed when dropped.
pub struct Own {
    child: Option<Child>,
    program: String,
    args: Vec<String>,
    dir: PathBuf,
    pub port: u16,
}

impl Own {
    fn spawn(program: &str, args: Vec<String>, dir: PathBuf, port: u16) -> Self {
        let mut own = Self { child: None, program: program.to_string(), args, dir, port };
        own.start();
        own
    }

    /// (Re)starts the process and waits until its port accepts connections.
    pub fn start(&mut self) {
        let child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.program));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "{} did not open port {}", self.program, self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// kill -9, and wait until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        self.kill();
    }
}

/// redis-server with append-only persistence (as docs/operations.md tells operators to run it).
pub fn redis(dir: &std::path::Path) -> Own {
    let port = super::process::free_port();
    let args = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        "--dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.display().to_string()])
    .collect();
    Own::spawn("redis-server", args, dir.to_path_buf(), port)
}

/// A tansu broker with sqlite storage in `dir`.
pub fn tansu(dir: &std::path::Path) -> Own {
    let port = super::process::free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let args = vec![
        "broker".to_string(),
        "--storage-engine".into(),
        "sqlite://tansu.db".into(),
        "--listener-url".into(),
        url.clone(),
        "--advertised-listener-url".into(),
        url,
    ];
    Own::spawn("tansu", args, dir.to_path_buf(), port)
}
