//! `Report`: what a run saw, as a human summary (`Display`) and as JSON (serde).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::accounting::MoveAccounting;
use crate::chat::ChatAccounting;
use crate::churn::ChurnAccounting;
use crate::latency::RttSummary;
use crate::login::LoginReport;
use crate::pings::PongAccounting;

/// Everything a run measured and checked. Serializes to the `--json` report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The server's address.
    pub addr: String,
    /// Bots asked for.
    pub target_clients: u64,
    /// Bots whose connection opened.
    pub connected: u64,
    /// Bots that received their `S_PlayerList`.
    pub entered: u64,
    /// Connect attempts that failed, by cause (an `io::ErrorKind` name, or `timeout`).
    pub connect_failures: BTreeMap<String, u64>,
    /// Sessions that ended before the run closed them, by `CloseReason` label.
    pub disconnects: BTreeMap<String, u64>,
    /// One full reason per label in `disconnects`, to start debugging from.
    pub disconnect_examples: BTreeMap<String, String>,
    /// How long each phase took.
    pub timeline: Timeline,
    /// What the bots sent.
    pub sent: Traffic,
    /// What the bots received.
    pub received: Traffic,
    /// `C_Ping` round trips, corrected for coordinated omission.
    pub rtt: RttSummary,
    /// Own window move -> own `S_BroadcastMove` round trips (the wait for the room's tick
    /// included), corrected the same way. Works against servers that do not answer
    /// `C_Ping`, such as the course's. Absent from reports written before it existed.
    #[serde(default)]
    pub move_echo: RttSummary,
    /// Pings matched with their pongs: lost, duplicated and unknown pongs. Absent from
    /// reports written before issue 16.
    #[serde(default)]
    pub pongs: PongAccounting,
    /// Did every bot see every bot's moves in the measured window.
    pub moves: MoveAccounting,
    /// Bots that left and rejoined during the window, and whether each stay in the room
    /// received every move it was owed. Absent from reports written before churn existed.
    #[serde(default)]
    pub churn: ChurnAccounting,
    /// Did every chat line reach every bot intact (with `--chat-interval-ms`). Absent from
    /// reports written before chat was checked.
    #[serde(default)]
    pub chat: ChatAccounting,
    /// The bots' UDP side (`--udp`). Absent from reports written before it existed.
    #[serde(default)]
    pub udp: UdpReport,
    /// The bots' logins and where their characters came back (`--login`). Absent from
    /// reports written before it existed.
    #[serde(default)]
    pub login: LoginReport,
    /// Everything counted as wrong.
    pub errors: ErrorCounts,
    /// The threshold the run was held to.
    pub max_errors: u64,
    /// The run was stopped (Ctrl-C) before its window was over.
    pub interrupted: bool,
    /// Longest delay of the bots' driver behind its schedule, in milliseconds: large values
    /// mean the load generator itself was starved of CPU.
    pub driver_max_lag_ms: f64,
    /// The verdict.
    pub passed: bool,
    /// Why the run failed; empty when it passed.
    pub failures: Vec<String>,
}

/// What the bots' UDP transport did (`--udp`). With it, `moves.lost` is what UDP lost and
/// is not counted as an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UdpReport {
    /// The run used `--udp`.
    pub enabled: bool,
    /// Bots bound to their player over UDP.
    pub bound: u64,
    /// Bots that stayed on TCP: the server gave port 0 (no UDP), or a socket failed.
    pub stayed_on_tcp: u64,
    /// `C_UdpBind`s sent, resends included.
    pub binds_sent: u64,
    /// `C_UdpMove`s the bots' sockets refused (send buffer full): lost before the wire,
    /// and not counted as sent.
    pub send_drops: u64,
}

/// Lengths of the run's phases, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// From the start to the opening of the measured window.
    pub ramp_secs: f64,
    /// The measured window.
    pub window_secs: f64,
    /// Waiting for moves in flight after the window.
    pub drain_secs: f64,
    /// The whole run, closing included.
    pub total_secs: f64,
}

/// Packets by schema name, and bytes with headers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// Frames by packet name (`"C_Move"`); ids outside the schema as `"unknown"`.
    pub packets: BTreeMap<String, u64>,
    /// All frames.
    pub total_packets: u64,
    /// Bytes, 4-byte headers included.
    pub bytes: u64,
}

/// Errors by kind. Each one counts toward `--max-errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// Connections that never opened.
    pub failed_connects: u64,
    /// Bots that connected but never received their `S_PlayerList`.
    pub not_entered: u64,
    /// Bots the server let in (their `S_PlayerList`) only after the window had opened: the
    /// server took longer than the enter timeout to admit them.
    #[serde(default)]
    pub late_enters: u64,
    /// Sessions that ended before the run closed them.
    pub unexpected_disconnects: u64,
    /// Frames that did not decode (each closed its session with a protocol error).
    pub decode: u64,
    /// Extra namings of a bot as `isSelf` in its `S_PlayerList`s (never being named shows
    /// up as `not_entered`).
    pub player_list: u64,
    /// Pong errors of every kind (lost, duplicate, unknown; see `Report::pongs`).
    pub pong: u64,
    /// Packets the bots could not encode or queue while their session was open.
    pub send: u64,
    /// Window moves a receiver should have seen and did not.
    pub lost_moves: u64,
    /// Window moves a receiver saw more often than they were sent.
    pub extra_moves: u64,
    /// Everything the churn accounting found wrong: failed leaves, memberships that could
    /// not be checked, moves lost or duplicated within a membership, moves never echoed.
    #[serde(default)]
    pub churn: u64,
    /// Chat lines corrupt, lost, duplicated or from no bot (see `Report::chat`).
    #[serde(default)]
    pub chat: u64,
    /// Logins given up, wrong player ids and characters that came back elsewhere than they
    /// left (see `Report::login`).
    #[serde(default)]
    pub login: u64,
}

impl ErrorCounts {
    /// All errors together.
    pub fn total(&self) -> u64 {
        self.failed_connects
            + self.not_entered
            + self.late_enters
            + self.unexpected_disconnects
            + self.decode
            + self.player_list
            + self.pong
            + self.send
            + self.lost_moves
            + self.extra_moves
            + self.churn
            + self.chat
            + self.login
    }
}

impl Report {
    /// Fills in `passed` and `failures` from the counts.
    pub(crate) fn judge(&mut self) {
        let mut failures = Vec::new();
        if self.connected == 0 {
            failures.push(format!(
                "no bot could connect to {} ({} attempts)",
                self.addr, self.target_clients
            ));
        }
        let total = self.errors.total();
        if total > self.max_errors {
            failures.push(format!(
                "{total} errors, more than the {} allowed",
                self.max_errors
            ));
        }
        self.passed = failures.is_empty();
        self.failures = failures;
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.timeline;
        writeln!(
            f,
            "dummy-client: {} bots against {}: {}{}",
            self.target_clients,
            self.addr,
            if self.passed { "PASSED" } else { "FAILED" },
            if self.interrupted {
                " (stopped early)"
            } else {
                ""
            }
        )?;
        for failure in &self.failures {
            writeln!(f, "  failure:      {failure}")?;
        }
        writeln!(
            f,
            "  time:         ramp-up {:.1} s, window {:.1} s, drain {:.1} s, total {:.1} s",
            t.ramp_secs, t.window_secs, t.drain_secs, t.total_secs
        )?;
        writeln!(
            f,
            "  bots:         {} connected, {} entered, {} failed to connect{}",
            self.connected,
            self.entered,
            self.errors.failed_connects,
            by_key(&self.connect_failures)
        )?;
        let unexpected: u64 = self.disconnects.values().sum();
        writeln!(
            f,
            "  disconnects:  {unexpected} before the end{}",
            by_key(&self.disconnects)
        )?;
        for (label, example) in &self.disconnect_examples {
            writeln!(f, "    e.g. {label}: {example}")?;
        }
        for (name, traffic) in [("sent:", &self.sent), ("received:", &self.received)] {
            writeln!(
                f,
                "  {name:<13} {} packets, {}{}",
                traffic.total_packets,
                bytes(traffic.bytes),
                by_key(&traffic.packets)
            )?;
        }
        for (name, r, what, none) in [
            (
                "round trip:",
                &self.rtt,
                "pongs",
                "no pongs (the server does not answer C_Ping)",
            ),
            (
                "move echo:",
                &self.move_echo,
                "own moves echoed, the tick's wait included",
                "no own move echoed",
            ),
        ] {
            if r.samples == 0 {
                writeln!(f, "  {name:<13} {none}")?;
            } else {
                writeln!(
                    f,
                    "  {name:<13} p50 {} p90 {} p99 {} max {} ({} {what})",
                    micros(r.p50_us),
                    micros(r.p90_us),
                    micros(r.p99_us),
                    micros(r.max_us),
                    r.samples
                )?;
            }
        }
        let p = &self.pongs;
        writeln!(
            f,
            "  pongs:        {} of {} pings answered; lost {}, duplicate {}, unknown {}",
            p.answered, p.pings, p.lost, p.duplicate, p.unknown
        )?;
        let m = &self.moves;
        let range = if m.exact {
            format!("{}", m.expected_per_receiver_min)
        } else {
            format!(
                "{}..={}",
                m.expected_per_receiver_min, m.expected_per_receiver_max
            )
        };
        writeln!(
            f,
            "  moves:        {} sent in the window; each of {} receivers expected {range} \
             ({} partial bots, {} late); received {} of {} ({:.4}%), lost {}, \
             duplicate {}, never sent {}",
            m.sent,
            m.receivers,
            m.partial_bots,
            m.late_receivers,
            m.received,
            m.expected,
            m.delivered_ratio * 100.0,
            m.lost,
            m.duplicates,
            m.never_sent
        )?;
        let u = &self.udp;
        if u.enabled {
            writeln!(
                f,
                "  udp:          {} bots bound, {} stayed on TCP, {} binds sent, {} moves \
                 refused by the socket; lost moves are UDP's, not errors (delivered {:.4}%)",
                u.bound,
                u.stayed_on_tcp,
                u.binds_sent,
                u.send_drops,
                m.delivered_ratio * 100.0
            )?;
        }
        let c = &self.churn;
        if c.enabled {
            writeln!(
                f,
                "  churn:        {} left, {} rejoined, {} failed leaves; {} stays checked \
                 ({} unchecked): received {} of {} owed, lost {}, extra {}, never echoed {}",
                c.leaves,
                c.rejoins,
                c.leave_failures,
                c.checked,
                c.unchecked,
                c.received,
                c.expected,
                c.lost,
                c.extra,
                c.echoes_missing
            )?;
        }
        let ch = &self.chat;
        if ch.enabled {
            writeln!(
                f,
                "  chat:         {} lines sent, {} received; {} receivers checked whole; \
                 corrupt {}, lost {}, duplicates {}, foreign {}",
                ch.sent,
                ch.received,
                ch.receivers_checked,
                ch.corrupt,
                ch.lost,
                ch.duplicates,
                ch.foreign
            )?;
        }
        let l = &self.login;
        if l.enabled {
            let [logins, positions] = l.lines();
            writeln!(f, "  logins:       {logins}")?;
            writeln!(f, "  positions:    {positions}")?;
        }
        let e = &self.errors;
        write!(
            f,
            "  errors:       {} (max {}): failed connects {}, not entered {}, late enters {}, \
             disconnects {}, decode {}, player list {}, pong {}, send {}, lost moves {}, \
             extra moves {}, churn {}, chat {}",
            e.total(),
            self.max_errors,
            e.failed_connects,
            e.not_entered,
            e.late_enters,
            e.unexpected_disconnects,
            e.decode,
            e.player_list,
            e.pong,
            e.send,
            e.lost_moves,
            e.extra_moves,
            e.churn,
            e.chat
        )?;
        if l.enabled {
            write!(f, ", login {}", e.login)?;
        }
        writeln!(f)?;
        write!(f, "  driver lag:   max {:.1} ms", self.driver_max_lag_ms)
    }
}

/// ` (a 1, b 2)`, or nothing for an empty map.
fn by_key(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(" ({})", parts.join(", "))
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 10 << 20 => format!("{:.1} MiB", n as f64 / (1 << 20) as f64),
        n if n >= 10 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// A duration in microseconds, in the unit that reads best.
pub(crate) fn micros(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.2} s", us as f64 / 1e6)
    } else if us >= 1_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{us} us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report {
            addr: "127.0.0.1:7777".into(),
            target_clients: 3,
            connected: 3,
            entered: 3,
            max_errors: 0,
            ..Report::default()
        };
        r.sent.packets.insert("C_Move".into(), 120);
        r.sent.total_packets = 120;
        r.moves.expected = 360;
        r.moves.received = 360;
        r.rtt.p99_us = 2_500;
        r.rtt.samples = 30;
        r.move_echo.p99_us = 260_000;
        r.move_echo.samples = 120;
        r
    }

    #[test]
    fn a_clean_run_passes() {
        let mut r = sample();
        r.judge();
        assert!(r.passed, "no errors and bots connected: {:?}", r.failures);
        assert!(r.failures.is_empty());
    }

    #[test]
    fn errors_over_the_threshold_and_no_connection_fail() {
        let mut r = sample();
        r.errors.lost_moves = 2;
        r.errors.decode = 1;
        r.max_errors = 2;
        r.judge();
        assert!(!r.passed, "3 errors with 2 allowed should fail");
        assert_eq!(r.errors.total(), 3);

        let mut r = sample();
        r.connected = 0;
        r.judge();
        assert!(!r.passed, "nothing connected should fail");
        assert!(r.failures[0].contains("no bot could connect"));
    }

    #[test]
    fn the_json_report_round_trips_with_stable_keys() {
        let mut r = sample();
        r.disconnects.insert("slow_consumer".into(), 1);
        r.judge();
        let json = serde_json::to_string(&r).unwrap_or_default();
        let back: Report = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, r, "the JSON report should read back identical");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        for key in [
            "connected",
            "connect_failures",
            "disconnects",
            "sent",
            "received",
            "rtt",
            "move_echo",
            "pongs",
            "moves",
            "errors",
            "passed",
        ] {
            assert!(
                value.get(key).is_some(),
                "the JSON report should have {key}"
            );
        }
        assert_eq!(value["sent"]["packets"]["C_Move"], 120);
        assert_eq!(value["rtt"]["p99_us"], 2_500);
    }

    #[test]
    fn a_server_that_never_answers_pings_shows_no_pongs_and_the_move_echo_still() {
        // The course's server answers no C_Ping: the summary used to print
        // "p50 0 us ... p99 0 us (0 pongs)".
        let mut r = sample();
        r.rtt = RttSummary::default();
        r.judge();
        let text = r.to_string();
        assert!(text.contains("no pongs"), "{text}");
        assert!(!text.contains("p99 0 us"), "no zero percentiles:\n{text}");
        assert!(
            text.contains("move echo:    p50") && text.contains("p99 260.0 ms"),
            "the move echo is reported:\n{text}"
        );
        // Old reports said "pongs" inside "rtt"; they still read.
        let old: RttSummary =
            serde_json::from_str(r#"{"pongs":3,"corrected_samples":3,"p50_us":1,"p90_us":1,"p99_us":1,"max_us":1,"mean_us":1.0}"#)
                .unwrap_or_default();
        assert_eq!(old.samples, 3);
    }

    #[test]
    fn the_summary_names_what_matters() {
        let mut r = sample();
        r.errors.lost_moves = 4;
        r.judge();
        let text = r.to_string();
        for needle in ["FAILED", "C_Move 120", "p99 2.5 ms", "lost moves 4"] {
            assert!(
                text.contains(needle),
                "summary should contain {needle:?}:\n{text}"
            );
        }
    }
}
