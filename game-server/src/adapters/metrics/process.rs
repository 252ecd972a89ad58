//! The process' own resource use, read from Linux's `/proc/self` at scrape time.
//!
//! prometheus-client has no process collector, and these are three small text files; on
//! other systems the numbers are simply absent from `/metrics`.

/// The kernel reports CPU time in USER_HZ ticks, which the Linux ABI fixes at 100 per second
/// on every architecture we run on (x86_64, aarch64), independent of the kernel's HZ.
const USER_HZ: f64 = 100.0;

/// One reading of the process' resources.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessSample {
    /// Resident set size, bytes.
    pub resident_bytes: Option<u64>,
    /// User plus system CPU time since start, seconds.
    pub cpu_seconds: Option<f64>,
    /// Open file descriptors (every session is one).
    pub open_fds: Option<u64>,
}

impl ProcessSample {
    /// Reads `/proc/self`; a file that cannot be read leaves its field `None`.
    pub fn read() -> ProcessSample {
        ProcessSample {
            resident_bytes: std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| parse_vm_rss(&s)),
            cpu_seconds: std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|s| parse_cpu_seconds(&s)),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
        }
    }
}

/// `VmRSS:   15872 kB` from `/proc/self/status`, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// utime + stime (fields 14 and 15) of `/proc/self/stat`, in seconds. The second field, the
/// command name, is in parentheses and may itself hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the command name: field 3 (state) is the first, so utime (14) is the 12th.
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_in_bytes() {
        let status = "Name:\tgame-server\nVmPeak:\t  100 kB\nVmRSS:\t   15872 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(15872 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn cpu_time_is_counted_after_a_command_name_with_spaces_and_parens() {
        let stat =
            "4242 (game (server) x) S 1 4242 4242 0 -1 4194304 1000 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(
            parse_cpu_seconds(stat),
            Some(3.0),
            "250 + 50 ticks at 100 Hz"
        );
        assert_eq!(parse_cpu_seconds("garbage"), None);
    }

    #[test]
    fn this_process_has_a_resident_size() {
        if cfg!(target_os = "linux") {
            let s = ProcessSample::read();
            assert!(s.resident_bytes.is_some_and(|b| b > 0));
            assert!(s.open_fds.is_some_and(|n| n > 0));
        }
    }
}
