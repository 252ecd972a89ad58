//! A line-based chat over plain TCP, usable with `nc` or telnet, on server-core's
//! `TerminatorFilter`: every line a client sends goes to every client, prefixed with its
//! session id. A line over 512 bytes closes its sender.
//!
//! ```sh
//! cargo run -p server-core --example line_chat -- 127.0.0.1:7000
//! nc -C 127.0.0.1 7000      # in two terminals; type lines
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use server_core::filter::TerminatorFilter;
use server_core::{CloseReason, Config, Listener, Session};
use server_core::{Filtered, FrameHandler};

/// Longest line, `\r\n` included.
const MAX_LINE: usize = 512;

/// Everyone connected. A std mutex: held to insert, remove or clone the handles, never
/// across an `.await`.
type Members = Arc<Mutex<HashMap<u64, Arc<Session>>>>;

struct ChatUser {
    members: Members,
}

impl ChatUser {
    fn broadcast(&self, text: String) {
        let line = Bytes::from(text);
        let members: Vec<Arc<Session>> = lock(&self.members).values().cloned().collect();
        for member in members {
            // A member too slow to keep up is closed by its own send queue limit.
            let _ = member.send(line.clone());
        }
    }
}

impl FrameHandler for ChatUser {
    fn on_connected(&mut self, session: &Arc<Session>) {
        lock(&self.members).insert(session.id(), Arc::clone(session));
        self.broadcast(format!("* {} joined\r\n", session.id()));
    }

    fn on_frame(&mut self, session: &Arc<Session>, line: &[u8]) -> Result<(), CloseReason> {
        let text = String::from_utf8_lossy(line);
        self.broadcast(format!("{}: {}\r\n", session.id(), text.trim_end()));
        Ok(())
    }

    fn on_disconnected(&mut self, session: &Arc<Session>, reason: &CloseReason) {
        lock(&self.members).remove(&session.id());
        self.broadcast(format!("* {} left ({reason})\r\n", session.id()));
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let addr = match std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into())
        .parse()
    {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: {e}\nusage: line_chat [ADDR:PORT]");
            return std::process::ExitCode::from(2);
        }
    };
    let config = Config {
        addr,
        max_packet_size: MAX_LINE,
        ..Config::default()
    };
    let listener = match Listener::bind(config).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "line chat on {addr}; try: nc -C {addr_ip} {port}",
        addr_ip = addr.ip(),
        port = addr.port()
    );
    let shutdown = listener.shutdown_token();
    let members = Members::default();
    let server = tokio::spawn(listener.run(move || {
        Filtered::new(
            TerminatorFilter::crlf(MAX_LINE),
            ChatUser {
                members: Arc::clone(&members),
            },
        )
    }));
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
    let _ = server.await;
    std::process::ExitCode::SUCCESS
}
