//! `WorldReport`: what a world-mode run saw, and its verdict.

use std::fmt;

use serde::Serialize;

use crate::login::LoginReport;
use crate::world::checker::Violations;
use crate::world::churn_report::ChurnReport;

/// The result of a world-mode run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorldReport {
    /// Bots asked for.
    pub clients: usize,
    /// Bots connected.
    pub connected: usize,
    /// Bots named in an `S_PlayerList`.
    pub entered: usize,
    /// Map side, radii and walking speed of the run.
    pub map_size: f32,
    /// Inner radius.
    pub inner_radius: f32,
    /// Outer radius.
    pub outer_radius: f32,
    /// Units per second.
    pub speed: f32,
    /// From the start of the run to the window's (connects and enters), seconds.
    pub ramp_secs: f64,
    /// Length of the measured window, seconds.
    pub window_secs: f64,
    /// Moves sent in the window.
    pub moves_sent: u64,
    /// (receiver, move) pairs that had to arrive: the receiver was well inside the mover's
    /// inner radius when it moved.
    pub required: u64,
    /// Required pairs that arrived (as a move, or as the spawn that showed it).
    pub delivered: u64,
    /// `delivered / required` (1 when nothing was required).
    pub delivered_ratio: f64,
    /// Moves of others received in the window and the drain, required or not.
    pub moves_received: u64,
    /// Spawns received per second over the window.
    pub spawns_per_sec: f64,
    /// Despawns received per second over the window.
    pub despawns_per_sec: f64,
    /// Violations by kind.
    pub violations: Violations,
    /// Monster frames the bots received over the whole run: spawns, moves, despawns.
    pub monster_frames: [u64; 3],
    /// Connects that failed, enters that never came, sessions lost before the end.
    pub errors: u64,
    /// Examples of the errors.
    pub error_examples: Vec<String>,
    /// Pongs received.
    pub pongs: u64,
    /// Round-trip median, milliseconds.
    pub rtt_p50_ms: f64,
    /// Round-trip 99th percentile, milliseconds.
    pub rtt_p99_ms: f64,
    /// Largest round trip, milliseconds.
    pub rtt_max_ms: f64,
    /// Move round trip (`C_Move` to the bot's own `S_BroadcastMove`, a server tick
    /// included) median, milliseconds.
    pub move_rtt_p50_ms: f64,
    /// Move round trip 99th percentile, milliseconds.
    pub move_rtt_p99_ms: f64,
    /// First moves after a region crossing whose echo came back (needs `regions`).
    pub handoff_moves: u64,
    /// Their round trip (the new owner's first echo), median, milliseconds.
    pub handoff_rtt_p50_ms: f64,
    /// Their round trip, 99th percentile, milliseconds.
    pub handoff_rtt_p99_ms: f64,
    /// Moves from a sender on the receiver's own server: [count, p50 ms, p99 ms] from send
    /// to receipt (only with several servers).
    pub delivery_same: [f64; 3],
    /// Moves from a sender on another server (in a cluster: through NATS): [count, p50 ms,
    /// p99 ms].
    pub delivery_cross: [f64; 3],
    /// The bots' logins and where their characters came back (`--login`).
    pub login: LoginReport,
    /// Connections dropped and characters taken back (`--churn-per-sec` with `--login`).
    pub churn: ChurnReport,
    /// Every required move delivered (to `min_delivered`), no violation, no error (churn's
    /// included).
    pub passed: bool,
}

impl fmt::Display for WorldReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "world run: {} bots ({} connected, {} entered), map {} radii {}/{} speed {}/s, window {:.1} s",
            self.clients,
            self.connected,
            self.entered,
            self.map_size,
            self.inner_radius,
            self.outer_radius,
            self.speed,
            self.window_secs
        )?;
        writeln!(
            f,
            "moves: {} sent, {} required, {} delivered ({:.4}%), {} received in all",
            self.moves_sent,
            self.required,
            self.delivered,
            self.delivered_ratio * 100.0,
            self.moves_received
        )?;
        writeln!(
            f,
            "view: {:.1} spawns/s, {:.1} despawns/s",
            self.spawns_per_sec, self.despawns_per_sec
        )?;
        if self.monster_frames.iter().any(|&n| n > 0) {
            writeln!(
                f,
                "monsters: {} spawns, {} moves, {} despawns received in all",
                self.monster_frames[0], self.monster_frames[1], self.monster_frames[2]
            )?;
        }
        writeln!(
            f,
            "violations: {} {:?}",
            self.violations.total(),
            self.violations
        )?;
        writeln!(
            f,
            "round trip: {} pongs, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.pongs, self.rtt_p50_ms, self.rtt_p99_ms, self.rtt_max_ms
        )?;
        writeln!(
            f,
            "move round trip (C_Move to own echo, tick included): p50 {:.1} ms, p99 {:.1} ms",
            self.move_rtt_p50_ms, self.move_rtt_p99_ms
        )?;
        if self.handoff_moves > 0 {
            writeln!(
                f,
                "hand-off (first move after a crossing, to its echo): {} moves, p50 {:.1} ms, p99 {:.1} ms",
                self.handoff_moves, self.handoff_rtt_p50_ms, self.handoff_rtt_p99_ms
            )?;
        }
        if self.delivery_same[0] + self.delivery_cross[0] > 0.0 {
            writeln!(
                f,
                "delivery (send to receipt): same server {} moves p50 {:.1} ms p99 {:.1} ms; other server {} moves p50 {:.1} ms p99 {:.1} ms",
                self.delivery_same[0], self.delivery_same[1], self.delivery_same[2],
                self.delivery_cross[0], self.delivery_cross[1], self.delivery_cross[2]
            )?;
        }
        if self.login.enabled {
            let [logins, positions] = self.login.lines();
            writeln!(f, "logins: {logins}")?;
            writeln!(f, "positions: {positions}")?;
        }
        if self.churn.enabled {
            writeln!(f, "churn: {}", self.churn.line())?;
        }
        writeln!(f, "errors: {} {:?}", self.errors, self.error_examples)?;
        write!(f, "verdict: {}", if self.passed { "PASS" } else { "FAIL" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_shows_the_churn_only_when_asked() {
        let plain = WorldReport::default().to_string();
        assert!(!plain.contains("churn:"), "{plain}");
        let churned = WorldReport {
            churn: ChurnReport {
                enabled: true,
                per_sec: 4.0,
                drops: 9,
                rejoins: 8,
                by_token: 8,
                checked: 7,
                id_violations: 1,
                ..ChurnReport::default()
            },
            ..WorldReport::default()
        };
        let text = churned.to_string();
        assert!(
            text.contains("churn: 4 a second: 9 dropped (0 skipped), 8 back (8 by token), 7 checked, 0 unchecked, 1 under another id"),
            "{text}"
        );
        let json = serde_json::to_string(&churned).unwrap_or_default();
        assert!(json.contains(r#""churn":{"enabled":true"#), "{json}");
        assert!(json.contains(r#""id_violations":1"#), "{json}");
    }
}
