//! A PostgreSQL cluster of a test's own: initdb in a temp directory, on a Unix socket there
//! (no TCP port), owned by the `postgres` user when the test runs as root. Without Debian's
//! `postgresql` installed, [`Postgres::start`] gives `None` and the test prints a loud
//! SKIPPED line naming the package ([`skipped`]); `.ci/run` installs it.

use std::path::PathBuf;
use std::process::Command;

use super::temp_dir;

/// A PostgreSQL cluster in a temp directory, on a Unix socket there; stopped on drop.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Postgres {
    /// Makes and starts a cluster; `None` when PostgreSQL is not installed.
    pub fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())?;
        let dir = temp_dir("pg");
        // initdb refuses to run as root: the cluster is owned by the `postgres` user then.
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of the cluster's directory to postgres");
        }
        let port = 40_000 + (std::process::id() % 20_000) as u16;
        let pg = Postgres {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = pg.dir.join("data");
        let init = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("initdb runs");
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        pg.run();
        Some(pg)
    }

    /// Starts the server of the cluster (again, after [`Postgres::stop`]).
    pub fn run(&self) {
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -p {} -c fsync=off",
            self.dir.display(),
            self.port
        );
        let start = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-w", "-l"])
            .arg(self.dir.join("log"))
            .arg("start")
            .output()
            .expect("pg_ctl runs");
        assert!(
            start.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&start.stderr)
        );
    }

    /// Stops the server at once, as a crash would (its clients see their connections drop).
    pub fn stop(&self) {
        let stop = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            stop.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&stop.stderr)
        );
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// The URL a `Store` opens.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost/postgres?host={}&port={}",
            self.dir.display(),
            self.port
        )
    }

    /// The cluster's data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The loud line a test prints when it cannot run without PostgreSQL.
pub fn skipped(what: &str) {
    eprintln!(
        "\n!!!!!!!! SKIPPED: {what}: PostgreSQL is not installed (Debian package `postgresql`; \
         .ci/run installs it) !!!!!!!!\n"
    );
}
