//! A `nats-server` for a test: on a free loopback port, killed when dropped, restartable on
//! the same port. Without the program the test prints a SKIPPED line and passes.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nats {
    program: PathBuf,
    pub port: u16,
    pub monitor_port: u16,
    /// Flags beyond the address and ports (credentials, TLS).
    extra: Vec<String>,
    child: Option<Child>,
}

/// Where the program is, if it is installed (Debian puts it in /usr/sbin, not always on a
/// user's PATH).
fn program() -> Option<PathBuf> {
    let on_path = Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return Some(PathBuf::from("nats-server"));
    }
    let sbin = PathBuf::from("/usr/sbin/nats-server");
    sbin.exists().then_some(sbin)
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Nats {
    /// Starts one, or returns `None` after printing the SKIPPED line (in CI, where
    /// `.ci/run` installs it, a missing program fails the test instead).
    pub fn start(test: &str) -> Option<Nats> {
        Self::start_with(test, &[])
    }

    /// [`Nats::start`] with more flags for nats-server (`--user`, `--tls`, ...).
    pub fn start_with(test: &str, extra: &[&str]) -> Option<Nats> {
        let Some(program) = program() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: nats-server is missing in CI (.ci/run installs the Debian package nats-server)"
            );
            println!("SKIPPED: {test}: nats-server is not installed (Debian package: nats-server)");
            eprintln!(
                "SKIPPED: {test}: nats-server is not installed (Debian package: nats-server)"
            );
            return None;
        };
        let mut nats = Nats {
            program,
            port: free_port(),
            monitor_port: free_port(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
        };
        nats.restart();
        Some(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same ports and waits until it accepts.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new(&self.program)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-m", &self.monitor_port.to_string()])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server's process (SIGSTOP): its sockets stay open, nothing is read or
    /// sent until [`Nats::resume`], as with a server stalled by its machine.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let pid = self.child.as_ref().expect("the server runs").id();
        // The shell's own `kill`, so no package beyond a shell is needed.
        let ok = Command::new("sh")
            .args(["-c", &format!("kill {which} {pid}")])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {which} {pid}");
    }

    /// Kills the server at once (SIGKILL: no goodbye to its clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}
