//! The live status line: totals over all bots at one instant, and the rates between two.

use std::time::Duration;

use crate::phase::Phase;
use crate::report::micros;

/// Totals over all bots at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Time since the run started.
    pub(crate) at: Duration,
    /// Bots connected and not disconnected.
    pub(crate) alive: usize,
    /// Frames queued by the bots.
    pub(crate) sent: u64,
    /// Frames received by the bots.
    pub(crate) received: u64,
    /// Errors so far (lost moves are only known at the end).
    pub(crate) errors: u64,
}

/// One status line: `[  4.0s window ] bots 500/500  out 2.3k/s  in 1.02M/s  rtt p50 ...`.
pub(crate) fn line(
    phase: Phase,
    target: usize,
    prev: &Snapshot,
    cur: &Snapshot,
    rtt: Option<(u64, u64)>,
    echo: Option<(u64, u64)>,
) -> String {
    let secs = cur.at.saturating_sub(prev.at).as_secs_f64();
    let rate = |a: u64, b: u64| {
        if secs > 0.0 {
            b.saturating_sub(a) as f64 / secs
        } else {
            0.0
        }
    };
    let rtt = match rtt {
        Some((p50, p99)) => format!("rtt p50 {} p99 {}", micros(p50), micros(p99)),
        None => "rtt -".to_string(),
    };
    let echo = match echo {
        Some((p50, p99)) => format!("echo p50 {} p99 {}", micros(p50), micros(p99)),
        None => "echo -".to_string(),
    };
    format!(
        "[{:>6.1}s {:<7}] bots {}/{}  out {}/s  in {}/s  {}  {}  errors {}",
        cur.at.as_secs_f64(),
        phase.label(),
        cur.alive,
        target,
        si(rate(prev.sent, cur.sent)),
        si(rate(prev.received, cur.received)),
        rtt,
        echo,
        cur.errors
    )
}

/// 950, 12.3k, 4.05M.
fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_between_snapshots() {
        let prev = Snapshot {
            at: Duration::from_secs(2),
            alive: 500,
            sent: 1_000,
            received: 100_000,
            errors: 0,
        };
        let cur = Snapshot {
            at: Duration::from_millis(4_000),
            sent: 5_000,
            received: 2_100_000,
            errors: 3,
            ..prev
        };
        let text = line(
            Phase::Window,
            500,
            &prev,
            &cur,
            Some((800, 2_100)),
            Some((130_000, 251_000)),
        );
        assert_eq!(
            text,
            "[   4.0s window ] bots 500/500  out 2000/s  in 1.00M/s  \
             rtt p50 800 us p99 2.1 ms  echo p50 130.0 ms p99 251.0 ms  errors 3"
        );
    }

    #[test]
    fn no_time_and_no_pongs_do_not_divide_by_zero() {
        let s = Snapshot::default();
        let text = line(Phase::Ramp, 10, &s, &s, None, None);
        assert!(
            text.contains("out 0/s") && text.contains("rtt -") && text.contains("echo -"),
            "{text}"
        );
    }
}
