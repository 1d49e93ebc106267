//! A TCP proxy in the test process, to take a service away from a client without touching the
//! machine's shared service. `cut()` drops every proxied connection and refuses new ones (a
//! broker that died); `freeze()` keeps every socket open but lets no byte through (a broker
//! that hangs: only heartbeats can tell); `slow(d)` holds every chunk for `d` in each
//! direction (a slow network or broker); `restore()` ends all of them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Default)]
struct State {
    cut: AtomicBool,
    frozen: AtomicBool,
    /// Milliseconds each chunk is held before it is passed on.
    delay_ms: AtomicU64,
    links: Mutex<Vec<AbortHandle>>,
}

pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
}

/// Copies one direction, holding every byte while frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<State>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while state.frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let delay = state.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    pub async fn start(target: impl Into<String>) -> Self {
        let target: Arc<str> = target.into().into();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (state, target) = (shared.clone(), target.clone());
                let task = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&*target).await else { return };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, state.clone()), pump(sr, cw, state));
                });
                if let Ok(mut links) = shared.links.lock() {
                    links.push(task.abort_handle());
                }
            }
        });
        Self { port, state }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        if let Ok(mut links) = self.state.links.lock() {
            for link in links.drain(..) {
                link.abort();
            }
        }
    }

    /// Keeps every connection open and lets nothing through, new connections included.
    pub fn freeze(&self) {
        self.state.frozen.store(true, Ordering::SeqCst);
    }

    /// Holds every chunk for `delay` in each direction, on open and new connections.
    pub fn slow(&self, delay: Duration) {
        self.state.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.state.delay_ms.store(0, Ordering::SeqCst);
        self.state.cut.store(false, Ordering::SeqCst);
        self.state.frozen.store(false, Ordering::SeqCst);
    }
}
