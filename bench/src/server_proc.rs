//! Runs the release `game-server` binary as a child process and reads its CPU time and
//! memory from /proc, so the server's cost is measured apart from the bots'.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// How to start the server child.
pub struct Launch<'a> {
    /// Flags after `--addr`, `--log` and `--stats-secs`.
    pub args: &'a [&'a str],
    /// The `--log` filter.
    pub log: &'a str,
    /// Seconds between the server's summary lines; 0 for none.
    pub stats_secs: u64,
    /// Pipe the server's stdout and stderr to this process instead of sharing them.
    pub capture_output: bool,
}

/// The repository's game data tables with an empty `spawns.json`, written once per run to a
/// temporary folder: world mode with players only.
pub fn players_only_data() -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("bench-data-players-only-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for (file, text) in [
        ("monsters.json", include_str!("../../data/monsters.json")),
        ("skills.json", include_str!("../../data/skills.json")),
        ("players.json", include_str!("../../data/players.json")),
        ("spawns.json", "[]\n"),
    ] {
        std::fs::write(dir.join(file), text)?;
    }
    Ok(dir)
}

/// The repository's monster kinds and skills with one spawn area of `count` wolves over the
/// whole map of side `map_size` (a unit inside its edge), written to a temporary folder.
pub fn monsters_data(count: u32, map_size: f32) -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "bench-data-monsters-{}-{count}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    let h = map_size / 2.0 - 1.0;
    let spawns = format!(
        "[\n  {{ \"monster\": \"wolf\", \"count\": {count}, \"area\": {{ \"min\": [{lo}, {lo}], \"max\": [{h}, {h}] }} }}\n]\n",
        lo = -h
    );
    for (file, text) in [
        ("monsters.json", include_str!("../../data/monsters.json")),
        ("skills.json", include_str!("../../data/skills.json")),
        ("players.json", include_str!("../../data/players.json")),
        ("spawns.json", spawns.as_str()),
    ] {
        std::fs::write(dir.join(file), text)?;
    }
    Ok(dir)
}

/// A `game-server` child process, killed on drop if it is still running.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `game-server` (found next to this binary, i.e. `target/release/`) on a free
    /// loopback port with `extra_args`, logging warnings only, and waits until it accepts
    /// connections.
    pub fn start(extra_args: &[&str]) -> io::Result<ServerProcess> {
        Self::launch(&Launch {
            args: extra_args,
            log: "warn",
            stats_secs: 0,
            capture_output: false,
        })
    }

    /// Starts `game-server` as `launch` says and waits until it accepts connections.
    pub fn launch(launch: &Launch<'_>) -> io::Result<ServerProcess> {
        let binary = sibling_binary("game-server")?;
        let addr = free_port()?;
        let output = || {
            if launch.capture_output {
                Stdio::piped()
            } else {
                Stdio::inherit()
            }
        };
        // Without persistence unless a bench asks for it: the figures measure the game, and
        // the comparisons with builds from before logins stay like for like.
        let login: &[&str] = if launch.args.iter().any(|a| a.starts_with("--login")) {
            &[]
        } else {
            &["--login", "off"]
        };
        // World mode reads game data; a bench of players alone runs with no monsters (the
        // repository's tables with no spawn area), whatever the map's size.
        let data_dir;
        let data: Vec<&str> = if launch.args.contains(&"--world")
            && !launch.args.iter().any(|a| a.starts_with("--data"))
        {
            data_dir = players_only_data()?;
            vec!["--data", data_dir.to_str().unwrap_or(".")]
        } else {
            Vec::new()
        };
        let child = Command::new(&binary)
            .arg("--addr")
            .arg(addr.to_string())
            .args(login)
            .args(&data)
            .args(["--log", launch.log])
            .args(["--stats-secs", &launch.stats_secs.to_string()])
            .args(launch.args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output())
            // Its own process group: Ctrl-C in the terminal reaches the harness, which then
            // stops the server itself, after the bots have left.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot run {}: {e}", binary.display()))
            })?;
        let server = ServerProcess { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        // Probe until the listener is up; the probe connection is a session that leaves at
        // once.
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "game-server did not start listening",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// The server's standard output, once, if `capture_output` was set.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The server's standard error, once, if `capture_output` was set.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) and memory of the child now.
    pub fn sample(&self) -> io::Result<ProcSample> {
        ProcSample::of(self.child.id())
    }

    /// Kills the server at once (SIGKILL, as `kill -9`): no shutdown, no last save.
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the server to shut down (SIGINT) and waits up to `grace` for it to exit.
    /// Returns whether it exited cleanly (status 0) in time.
    pub fn stop(mut self, grace: Duration) -> bool {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One reading of a process's /proc files.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// When it was read.
    pub at: Instant,
    /// User + system CPU time so far, in seconds.
    pub cpu_secs: f64,
    /// Resident set size now, in bytes.
    pub rss: u64,
    /// Peak resident set size so far, in bytes.
    pub peak_rss: u64,
}

impl ProcSample {
    /// Reads /proc/<pid>/stat and /proc/<pid>/status.
    pub fn of(pid: u32) -> io::Result<ProcSample> {
        Self::read(&format!("/proc/{pid}"))
    }

    /// The same for this process.
    pub fn this() -> io::Result<ProcSample> {
        Self::read("/proc/self")
    }

    fn read(dir: &str) -> io::Result<ProcSample> {
        let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
        let status = std::fs::read_to_string(format!("{dir}/status"))?;
        Ok(ProcSample {
            at: Instant::now(),
            cpu_secs: parse_cpu_secs(&stat)?,
            rss: parse_status_kib(&status, "VmRSS:")? * 1024,
            peak_rss: parse_status_kib(&status, "VmHWM:")? * 1024,
        })
    }

    /// CPU use between two samples, as a percentage of one core.
    pub fn cpu_percent_since(&self, earlier: &ProcSample) -> f64 {
        let wall = self.at.duration_since(earlier.at).as_secs_f64().max(1e-9);
        100.0 * (self.cpu_secs - earlier.cpu_secs) / wall
    }
}

/// What one in-process run of the bots gave, with this process's (the bots') and the
/// server's CPU and memory read just before and just after it.
pub struct BotsRun<T> {
    /// The bots' report.
    pub report: T,
    pub bots_before: ProcSample,
    pub bots_after: ProcSample,
    pub server_before: ProcSample,
    pub server_after: ProcSample,
}

/// Runs the bots (a dummy-client run) to its end on a fresh multi-thread runtime in this
/// process, sampling around it. The runtime is gone when this returns, so nothing of the
/// bots runs on while the caller stops the server.
pub fn run_bots<T, E>(
    server: &ServerProcess,
    bots: impl std::future::Future<Output = Result<T, E>>,
) -> Result<BotsRun<T>, Box<dyn std::error::Error>>
where
    E: std::error::Error + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bots_before = ProcSample::this()?;
    let server_before = server.sample()?;
    let report = runtime.block_on(bots)?;
    let bots_after = ProcSample::this()?;
    let server_after = server.sample()?;
    Ok(BotsRun {
        report,
        bots_before,
        bots_after,
        server_before,
        server_after,
    })
}

/// CPU time of this process's children that have been waited for (cutime + cstime): what a
/// child run to completion cost, read before and after it.
pub fn children_cpu_secs() -> io::Result<f64> {
    parse_cpu_fields(&std::fs::read_to_string("/proc/self/stat")?, 13)
}

/// utime + stime (fields 14 and 15 of /proc/<pid>/stat) in seconds.
fn parse_cpu_secs(stat: &str) -> io::Result<f64> {
    parse_cpu_fields(stat, 11)
}

/// The sum of two adjacent clock-tick fields of /proc/<pid>/stat, in seconds, `first`
/// counted from the state field (index 0). The command name (field 2) may contain spaces,
/// so fields are counted after its closing parenthesis.
fn parse_cpu_fields(stat: &str, first: usize) -> io::Result<f64> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected /proc/<pid>/stat format",
        )
    };
    let after_name = stat.rsplit_once(')').ok_or_else(bad)?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) is index 11, stime (15) 12,
    // cutime (16) 13 and cstime (17) 14.
    let field = |i: usize| -> io::Result<f64> {
        fields.get(i).and_then(|f| f.parse().ok()).ok_or_else(bad)
    };
    Ok((field(first)? + field(first + 1)?) / clock_ticks_per_sec())
}

fn parse_status_kib(status: &str, key: &str) -> io::Result<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no {key} in /proc/<pid>/status"),
            )
        })
}

/// USER_HZ: 100 on every Linux this runs on; `getconf CLK_TCK` confirms it where available.
fn clock_ticks_per_sec() -> f64 {
    100.0
}

/// A loopback address with a port nobody listens on right now.
pub fn free_port() -> io::Result<SocketAddr> {
    let probe = TcpListener::bind("127.0.0.1:0")?;
    probe.local_addr()
}

/// A binary of this workspace built next to the running one (`target/release/NAME`).
pub fn sibling_binary(name: &str) -> io::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().ok_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "no directory for the bench binary")
    })?;
    let path = dir.join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} not found: build it first with `cargo build --release -p {name}`",
                path.display()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_time_even_with_spaces_in_the_name() {
        let stat = "42 (game server) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
        assert_eq!(
            parse_cpu_secs(stat).expect("valid stat"),
            3.0,
            "(250 + 50) ticks at 100 Hz"
        );
    }

    #[test]
    fn parses_memory_lines() {
        let status = "Name:\tgame-server\nVmHWM:\t   26896 kB\nVmRSS:\t   20000 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:").expect("present"), 20000);
        assert_eq!(parse_status_kib(status, "VmHWM:").expect("present"), 26896);
        assert!(parse_status_kib(status, "VmSwap:").is_err());
    }

    #[test]
    fn reads_this_process() {
        let s = ProcSample::this().expect("/proc/self is readable");
        assert!(s.rss > 0 && s.peak_rss >= s.rss);
    }
}
