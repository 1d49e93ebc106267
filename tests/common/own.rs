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
    tansu_advertising(dir, port, port)
}

/// A tansu broker listening on `port` that tells clients to reach it at `advertised` (a
/// proxy in front of it), with sqlite storage in `dir`.
pub fn tansu_advertising(dir: &std::path::Path, port: u16, advertised: u16) -> Own {
    let args = vec![
        "broker".to_string(),
        "--storage-engine".into(),
        "sqlite://tansu.db".into(),
        "--listener-url".into(),
        format!("tcp://127.0.0.1:{port}"),
        "--advertised-listener-url".into(),
        format!("tcp://127.0.0.1:{advertised}"),
    ];
    Own::spawn("tansu", args, dir.to_path_buf(), port)
}

/// A RabbitMQ node of the test's own: own name, AMQP and distribution ports, config and data
/// directory (owned by the rabbitmq user, as Debian's wrapper runs the VM as that user). It is
/// found and killed by the PID listening on its port.
pub struct OwnRabbit {
    /// The `rabbitmq-server` wrapper; it exits when the VM dies, and is reaped then.
    wrapper: Option<Child>,
    dir: PathBuf,
    env: Vec<(String, String)>,
    pub port: u16,
}

impl OwnRabbit {
    pub fn new(dir: &std::path::Path) -> Self {
        let port = super::process::free_port();
        let dist = super::process::free_port();
        let node = format!("overseer-test-{}@localhost", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let file = |name: &str, text: String| std::fs::write(dir.join(name), text).expect("write");
        file("enabled_plugins", "[].\n".into());
        file("rabbitmq.conf", format!("listeners.tcp.local = 127.0.0.1:{port}\n"));
        file("env.conf", format!("NODENAME={node}\nERL_EPMD_ADDRESS=127.0.0.1\n"));
        let owned = Command::new("chown").args(["-R", "rabbitmq:rabbitmq"]).arg(dir).status().expect("chown");
        assert!(owned.success(), "chown failed");
        let d = dir.display();
        let env = [
            ("RABBITMQ_CONF_ENV_FILE", format!("{d}/env.conf")),
            ("RABBITMQ_CONFIG_FILE", format!("{d}/rabbitmq.conf")),
            ("RABBITMQ_NODENAME", node),
            ("RABBITMQ_DIST_PORT", dist.to_string()),
            ("RABBITMQ_MNESIA_BASE", format!("{d}/mnesia")),
            ("RABBITMQ_LOG_BASE", format!("{d}/log")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", format!("{d}/enabled_plugins")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut rabbit = Self { wrapper: None, dir: dir.to_path_buf(), env, port };
        rabbit.start();
        rabbit
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Starts the node (again) and waits until it accepts AMQP connections.
    pub fn start(&mut self) {
        let mut cmd = Command::new("rabbitmq-server");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.wrapper = Some(cmd.spawn().expect("rabbitmq-server starts"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.pid().is_none() {
            assert!(Instant::now() < deadline, "own RabbitMQ did not open port {}", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The PID listening on the node's AMQP port.
    fn pid(&self) -> Option<u32> {
        let out = Command::new("ss").args(["-ltnpH", &format!("sport = :{}", self.port)]).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let at = text.find("pid=")? + 4;
        text[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    }

    /// kill -9 the node, and wait until its port is closed.
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.pid().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(mut wrapper) = self.wrapper.take() {
            let _ = wrapper.kill();
            let _ = wrapper.wait();
        }
    }
}

impl Drop for OwnRabbit {
    fn drop(&mut self) {
        self.kill();
    }
}

/// redis-server that speaks only TLS (a certificate from a CA of the test's own, in `dir`) and
/// wants `password`. Returns the server and the CA certificate (PEM).
pub fn redis_tls(dir: &std::path::Path, password: &str) -> (Own, Vec<u8>) {
    let sh = |script: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "openssl failed: {script}");
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=overseer-test-ca");
    sh("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost");
    sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext.cnf && \
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile ext.cnf");
    let port = super::process::free_port();
    let args = [
        "--port",
        "0",
        "--tls-port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--tls-cert-file",
        "server.crt",
        "--tls-key-file",
        "server.key",
        "--tls-ca-cert-file",
        "ca.crt",
        "--tls-auth-clients",
        "no",
        "--requirepass",
        password,
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ca = std::fs::read(dir.join("ca.crt")).expect("CA certificate");
    (Own::spawn("redis-server", args, dir.to_path_buf(), port), ca)
}
