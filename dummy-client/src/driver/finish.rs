//! The end of a run: close every bot, then add up what each saw into the [`Report`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use server_core::Packet;

use super::Driver;
use crate::accounting::{BotMoves, MoveAccounting, Receiver};
use crate::bot::ID_SLOTS;
use crate::chat::{BotChats, ChatAccounting, Owed};
use crate::churn::{Membership, Start};
use crate::packets::{CLogin, CLoginToken, PacketId};
use crate::pings::PongAccounting;
use crate::report::{ErrorCounts, Report, Timeline, Traffic, UdpReport};

impl Driver {
    /// Closes every bot and adds everything up.
    pub(super) async fn finish(mut self, interrupted: bool) -> Report {
        // From here on a disconnect is the run ending, not an error.
        self.run.closing.store(true, Ordering::Release);
        // Attempts still pending (the run was stopped during ramp-up) are abandoned; a session
        // one of them opened is still closed by the connector below.
        self.connecting.abort_all();
        while self.connecting.join_next().await.is_some() {}
        self.connector.shutdown().await;
        // The UDP receive tasks hand over what they saw as they stop.
        self.udp_stop.cancel();
        let mut udp = UdpReport {
            enabled: self.config.udp,
            ..UdpReport::default()
        };
        for slot in &mut self.bots {
            if let Some(side) = &mut slot.udp {
                let counts = side.finish().await;
                udp.bound += u64::from(counts.bound);
                udp.stayed_on_tcp += u64::from(counts.off);
                udp.binds_sent += counts.binds_sent;
                udp.send_drops += counts.send_drops;
            }
        }
        let end = self.run.start.elapsed();

        let mut report = Report {
            addr: self.config.addr.to_string(),
            target_clients: self.config.clients as u64,
            connected: self.bots.len() as u64,
            connect_failures: std::mem::take(&mut self.connect_failures),
            max_errors: self.config.max_errors,
            interrupted,
            driver_max_lag_ms: self.max_lag.as_secs_f64() * 1e3,
            rtt: self.run.latency().summary(),
            move_echo: self.run.move_echo().summary(),
            udp,
            ..Report::default()
        };
        let (ramp, window, drain) = self.phases.lengths(end);
        report.timeline = Timeline {
            ramp_secs: ramp.as_secs_f64(),
            window_secs: window.as_secs_f64(),
            drain_secs: drain.as_secs_f64(),
            total_secs: end.as_secs_f64(),
        };

        let mut errors = ErrorCounts {
            failed_connects: report.connect_failures.values().sum(),
            send: self.sent.errors,
            ..ErrorCounts::default()
        };
        let mut received = [0u64; ID_SLOTS];
        let mut received_unknown = 0;
        let mut moves = Vec::with_capacity(self.bots.len());
        let mut pongs = PongAccounting::default();
        let mut memberships = Vec::new();
        let mut chats = Vec::new();
        let mut chat_owed: Vec<Owed> = self
            .chats_before_window
            .iter()
            .map(|&after| Owed { after, upto: after })
            .collect();
        for slot in &self.bots {
            let shared = &slot.shared;
            let unexpected = match shared.disconnect.get() {
                Some(d) if d.unexpected => {
                    *report.disconnects.entry(d.label.to_string()).or_default() += 1;
                    report
                        .disconnect_examples
                        .entry(d.label.to_string())
                        .or_insert_with(|| d.detail.clone());
                    true
                }
                _ => false,
            };
            errors.unexpected_disconnects += u64::from(unexpected);
            if shared.entered() {
                report.entered += 1;
                // A bot the server let in only after the window opened is an error rather
                // than a receiver checked from its enter on: the window opens after
                // `enter_timeout` precisely because the server was that slow to admit it,
                // which is what a load test is there to show, and `enter_timeout`'s promise
                // is that a bot missing at the open counts against the run. Checking it from
                // its enter instead would need a reference receiver's record of the room's
                // order in every run (churn keeps one only when it churns) and would let a
                // server that admits bots late pass. Its receipts are still checked for what
                // needs no reference: gaps and repeats in each sender's sequence.
                if slot.waiting_at_open && !slot.churned_in {
                    errors.late_enters += 1;
                }
            } else if !unexpected && !shared.login.refused() {
                // A bot that was dropped is already counted once, as a disconnect, and one
                // whose login was refused as that refusal.
                errors.not_entered += 1;
            }
            errors.decode += shared.decode_errors.get();
            errors.player_list += shared.player_list_errors.get();
            pongs.pings += shared.pings_sent.get();
            pongs.answered += shared.pongs_answered.get();
            pongs.duplicate += shared.pong_duplicates.get();
            pongs.unknown += shared.pong_unknown.get();
            if !unexpected {
                // The drain waited for these; a bot that was dropped is one error already.
                pongs.lost += shared.pongs_outstanding();
            }
            for (total, counter) in received.iter_mut().zip(&shared.received) {
                *total += counter.get();
            }
            received_unknown += shared.received_unknown.get();
            report.received.bytes += shared.bytes_received.get();
            let churned = slot.churned_in || slot.leave.is_some();
            let late = slot.waiting_at_open && !slot.churned_in;
            let receiver = if slot.entered_at_open && !churned && !unexpected {
                Receiver::WholeWindow
            } else if late && !unexpected {
                Receiver::Late
            } else {
                Receiver::Unchecked
            };
            let mut seen = if receiver == Receiver::WholeWindow {
                std::mem::take(&mut *shared.seen())
            } else {
                Vec::new()
            };
            // With --udp, what the UDP side saw adds to the TCP side's (see `udp.rs`).
            let over_udp = slot.udp.as_ref().map(|u| &*u.shared);
            if let Some(u) = over_udp {
                errors.decode += u.decode_errors.get();
                for (total, counter) in received.iter_mut().zip(&u.received) {
                    *total += counter.get();
                }
                received_unknown += u.received_unknown.get();
                report.received.bytes += u.bytes_received.get();
                if receiver == Receiver::WholeWindow {
                    let by_udp = std::mem::take(&mut *u.seen());
                    if seen.len() < by_udp.len() {
                        seen.resize(by_udp.len(), 0);
                    }
                    for (last, &udp_last) in seen.iter_mut().zip(&by_udp) {
                        *last = (*last).max(udp_last);
                    }
                }
            }
            let udp_count = |f: fn(&crate::bot::BotShared) -> u64| over_udp.map_or(0, f);
            if self.run.chat {
                if let Some(owed) = chat_owed.get_mut(slot.index) {
                    let echo = u32::try_from(shared.own_chat_echo.get()).unwrap_or(u32::MAX);
                    owed.upto = owed.upto.max(echo);
                }
                chats.push(BotChats {
                    sent: slot.chats_sent,
                    received: shared.chat_received.get(),
                    corrupt: shared.chat_corrupt.get(),
                    gaps: shared.chat_gaps.get(),
                    repeats: shared.chat_repeats.get(),
                    foreign: shared.chat_foreign.get(),
                    whole_window: (receiver == Receiver::WholeWindow)
                        .then(|| std::mem::take(&mut *shared.chat_seen())),
                });
            }
            moves.push(BotMoves {
                index: slot.index,
                sent: slot.window_sent,
                own_received: shared.window_own.get() + udp_count(|u| u.window_own.get()),
                others_received: shared.window_others.get() + udp_count(|u| u.window_others.get()),
                receiver,
                // A leaver's moves are bounded by its echoes: a clean leave drained them
                // all, and a failed one (an error already) may not have.
                stayed: shared.entered() && !unexpected && slot.leave.is_none(),
                own_echo_seq: u32::try_from(
                    shared
                        .own_echo_seq
                        .get()
                        .max(udp_count(|u| u.own_echo_seq.get())),
                )
                .unwrap_or(u32::MAX),
                head_skipped: shared.seq_head_skipped.get()
                    + udp_count(|u| u.seq_head_skipped.get()),
                gaps: shared.seq_gaps.get() + udp_count(|u| u.seq_gaps.get()),
                repeats: shared.seq_repeats.get() + udp_count(|u| u.seq_repeats.get()),
                foreign: shared.seq_foreign.get() + udp_count(|u| u.seq_foreign.get()),
                seen,
            });
            if churned && !unexpected {
                memberships.push(Membership {
                    player_id: shared.player_id.get().copied(),
                    start: if slot.churned_in {
                        Start::Entered
                    } else {
                        Start::BeforeWindow
                    },
                    sent: slot.window_sent,
                    echoed: shared.window_own.get(),
                    enter_mark: shared.enter_mark.get().copied(),
                    last_echo_mark: shared.last_echo_mark.get(),
                    repeats_in_interval: shared.last_echo_repeats_mark.get().saturating_sub(
                        if slot.churned_in {
                            shared.enter_repeats_mark.get().copied().unwrap_or(0)
                        } else {
                            0
                        },
                    ),
                });
            }
        }
        errors.pong = pongs.errors();
        report.pongs = pongs;
        report.moves = MoveAccounting::compute(&moves, &self.issued);
        drop(moves);
        // Over UDP a lost move is what the transport does, reported as the delivered ratio;
        // duplicates and moves no bot sent (`extra`) stay errors.
        errors.lost_moves = if self.config.udp {
            // A receiver's TCP and UDP checkers each see part of a sender's sequence when
            // its moves switched transport inside the window (the first tick after the
            // bind), and the UDP one then counts the moves that came over TCP as skipped.
            // What was received against what was owed is exact either way.
            let m = &mut report.moves;
            m.lost = m
                .expected
                .saturating_sub(m.received.saturating_sub(m.duplicates));
            0
        } else {
            report.moves.lost
        };
        if self.run.chat {
            report.chat = ChatAccounting::compute(&chats, &chat_owed);
            errors.chat = report.chat.errors();
        }
        drop(chats);
        errors.extra_moves = report.moves.extra;
        if self.config.churn_per_sec > 0.0 {
            // The reference receiver must have been in the room for the whole window, or
            // its record of the room's order is not the whole story.
            let order = self
                .bots
                .iter()
                .find(|s| s.index == 0 && !s.churned_in)
                .filter(|s| {
                    s.entered_at_open && s.shared.disconnect.get().is_some_and(|d| !d.unexpected)
                })
                .and_then(|s| s.shared.room_order.get());
            let mut churn = std::mem::take(&mut self.churn.counts);
            churn.enabled = true;
            churn.check(&memberships, order);
            errors.churn = churn.errors();
            report.churn = churn;
        }
        if let Some((names, record)) = &self.login {
            // The sessions sent their logins themselves; the traffic counts them too.
            let (logins, by_token, bytes) = record.sent_totals();
            for (id, n) in [(CLogin::ID, logins), (CLoginToken::ID, by_token)] {
                if let Some(count) = self.sent.by_id.get_mut(usize::from(id)) {
                    *count += n;
                }
            }
            self.sent.bytes += bytes;
            let mut login = record.report(names.prefix());
            for slot in &self.bots {
                let (Some(comeback), Some(&at)) =
                    (&slot.comeback, slot.shared.login.entered_at.get())
                else {
                    // Not a rejoin, or it never came in (counted as not entered).
                    continue;
                };
                let who = format!("bot {} ({})", slot.index, names.name(slot.index));
                login.check_position(&who, comeback.left.as_ref(), at);
            }
            errors.login = login.errors();
            report.login = login;
        }
        report.errors = errors;
        report.sent = traffic(&self.sent.by_id, 0, self.sent.bytes);
        report.received = traffic(&received, received_unknown, report.received.bytes);
        report.judge();
        report
    }
}

/// Per-id counts as a [`Traffic`] keyed by schema name.
fn traffic(by_id: &[u64; ID_SLOTS], unknown: u64, bytes: u64) -> Traffic {
    let mut packets = BTreeMap::new();
    for (id, &n) in by_id.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let name = u16::try_from(id)
            .ok()
            .and_then(PacketId::from_u16)
            .map_or("unknown", PacketId::name);
        *packets.entry(name.to_string()).or_default() += n;
    }
    if unknown > 0 {
        *packets.entry("unknown".to_string()).or_default() += unknown;
    }
    Traffic {
        total_packets: packets.values().sum(),
        packets,
        bytes,
    }
}
