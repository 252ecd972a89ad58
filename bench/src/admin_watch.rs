//! What `bench broadcast --admin on` does to the admin endpoint while the bots run: one
//! viewer reads the live map's event stream and a scraper fetches `/metrics` once a second
//! (Prometheus would scrape every 15 s; this is the heavier case). Plain threads and
//! blocking sockets, so the watching does not share the bots' runtime.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A loopback address with a port free right now, for the server's `--admin`.
pub fn free_loopback_port() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// The viewer and the scraper, running until [`AdminWatch::stop`].
pub struct AdminWatch {
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    scrapes: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl AdminWatch {
    /// Starts watching the admin endpoint at `addr`.
    pub fn start(addr: SocketAddr) -> AdminWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(AtomicU64::new(0));
        let scrapes = Arc::new(AtomicU64::new(0));
        let viewer = {
            let (stop, frames) = (Arc::clone(&stop), Arc::clone(&frames));
            std::thread::spawn(move || view(addr, &stop, &frames))
        };
        let scraper = {
            let (stop, scrapes) = (Arc::clone(&stop), Arc::clone(&scrapes));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if scrape(addr).unwrap_or(false) {
                        scrapes.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        };
        AdminWatch {
            stop,
            frames,
            scrapes,
            threads: vec![viewer, scraper],
        }
    }

    /// Stops both; returns (live frames received, successful scrapes).
    pub fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        (
            self.frames.load(Ordering::Relaxed),
            self.scrapes.load(Ordering::Relaxed),
        )
    }
}

/// Reads `/live` until stopped, counting `data:` events; reconnects if the stream drops.
fn view(addr: SocketAddr, stop: &AtomicBool, frames: &AtomicU64) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        if stream
            .write_all(format!("GET /live HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .is_err()
        {
            continue;
        }
        let mut buf = vec![0u8; 64 * 1024];
        while !stop.load(Ordering::Relaxed) {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let events = buf[..n].windows(6).filter(|w| w == b"data: ").count();
                    frames.fetch_add(events as u64, Ordering::Relaxed);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
    }
}

/// One `GET /metrics`; true if it answered 200.
fn scrape(addr: SocketAddr) -> io::Result<bool> {
    Ok(get_metrics(addr)?.starts_with("HTTP/1.1 200"))
}

/// One `GET /metrics`: the whole response, status line and headers included.
pub fn get_metrics(addr: SocketAddr) -> io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// The value of an unlabelled sample `name` in a metrics response.
pub fn sample(response: &str, name: &str) -> Option<f64> {
    response.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}
