//! `GameCollector`: turns the server's counters into Prometheus metrics on each scrape.
//!
//! The counters themselves are plain atomics kept where things happen (listener, sessions,
//! room, job queue); nothing is copied into a metrics library on the hot path. At scrape time
//! this collector reads them and hands them to prometheus-client's encoder, which writes the
//! exposition format (names get `_total` and unit suffixes from the encoder, so they follow
//! the conventions by construction).

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use server_core::ListenerStats;

use crate::adapters::cluster::ClusterNode;
use crate::adapters::metrics::accounts::{accounts_metrics, AccountsSource};
use crate::adapters::metrics::admin_stats::AdminStats;
use crate::adapters::metrics::process::ProcessSample;
use crate::adapters::metrics::session_metrics::SessionMetrics;
use crate::game::counters::histogram::HistogramSnapshot;
use crate::game::counters::traffic::PacketCounters;
use crate::game::counters::RoomStats;
use crate::game::counters::ServerStats;
use crate::game::world::WorldStats;
use crate::runtime::job_queue::JobQueueStats;

/// One room (or, in world mode, one region): its label value and its counters.
#[derive(Clone)]
pub struct RoomSource {
    /// The value of the `room` label.
    pub label: String,
    /// The room's counters.
    pub stats: Arc<RoomStats>,
    /// Its job queue's counters.
    pub jobs: Arc<JobQueueStats>,
}

/// Sum and max of the bytes queued on every session, read on demand.
pub type SendQueueProbe = Arc<dyn Fn() -> (u64, u64) + Send + Sync>;

/// Everything a scrape reads.
#[derive(Clone)]
pub struct MetricSources {
    /// Accepted, refused and open connections.
    pub listener: Arc<ListenerStats>,
    /// Inputs dropped and rejected.
    pub server: Arc<ServerStats>,
    /// Traffic by packet type, close reasons, rate limits.
    pub sessions: Arc<SessionMetrics>,
    /// Send-queue bytes over every session.
    pub send_queues: SendQueueProbe,
    /// Every room.
    pub rooms: Vec<RoomSource>,
    /// The admin endpoint's own counters.
    pub admin: Arc<AdminStats>,
    /// World mode: the regions' counters (hand-offs, messages between regions).
    pub world: Option<Arc<WorldStats>>,
    /// In a cluster: this node's view of it (links, epochs, NATS traffic, refusals).
    pub cluster: Option<Arc<ClusterNode>>,
    /// With logins on: logins by result and the save task.
    pub accounts: Option<AccountsSource>,
}

impl fmt::Debug for MetricSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricSources")
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

impl MetricSources {
    /// A registry holding one collector over these sources.
    pub fn registry(self) -> Registry {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(GameCollector(self)));
        registry
    }
}

#[derive(Debug)]
struct GameCollector(MetricSources);

type Res = Result<(), fmt::Error>;

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, unit: Option<Unit>, v: u64) -> Res {
    let mut m = enc.encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
    m.encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    v: V,
) -> Res {
    let mut m = enc.encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?;
    m.encode_gauge(&v)
}

/// Name, help, unit and type of a metric with a label.
struct Desc<'a>(&'a str, &'a str, Option<Unit>, MetricType);

/// A metric with one label, written by `each` once per label value.
fn family<T>(
    enc: &mut DescriptorEncoder,
    Desc(name, help, unit, kind): Desc,
    key: &'static str,
    items: impl IntoIterator<Item = (String, T)>,
    mut each: impl FnMut(&mut MetricEncoder, T) -> Res,
) -> Res {
    let mut m = enc.encode_descriptor(name, help, unit.as_ref(), kind)?;
    for (value, item) in items {
        let labels = [(key, value.as_str())];
        each(&mut m.encode_family(&labels)?, item)?;
    }
    Ok(())
}

fn counter_value(m: &mut MetricEncoder, v: u64) -> Res {
    m.encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn histogram_value(m: &mut MetricEncoder, h: HistogramSnapshot) -> Res {
    m.encode_histogram::<NoLabelSet>(h.sum_seconds, h.count(), &h.buckets(), None)
}

/// `(label value, count)` pairs.
type Labelled = Vec<(String, u64)>;

fn by_packet(counters: &PacketCounters) -> (Labelled, Labelled) {
    let totals = counters.totals();
    let packets = totals.iter().map(|&(n, p, _)| (n.to_owned(), p)).collect();
    let bytes = totals.iter().map(|&(n, _, b)| (n.to_owned(), b)).collect();
    (packets, bytes)
}

impl Collector for GameCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Res {
        let s = &self.0;
        let r = Ordering::Relaxed;
        let e = &mut enc;

        gauge(
            e,
            "game_sessions_open",
            "Sessions open now.",
            None,
            s.listener.active(),
        )?;
        counter(
            e,
            "game_sessions_accepted",
            "Connections accepted.",
            None,
            s.listener.accepted(),
        )?;
        counter(
            e,
            "game_sessions_refused",
            "Connections refused at --max-connections.",
            None,
            s.listener.refused(),
        )?;
        counter(
            e,
            "game_accept_errors",
            "Failed accept calls.",
            None,
            s.listener.accept_errors(),
        )?;
        family(
            e,
            Desc(
                "game_sessions_closed",
                "Sessions closed, by reason.",
                None,
                MetricType::Counter,
            ),
            "reason",
            s.sessions
                .closed_by_reason()
                .map(|(l, n)| (l.to_owned(), n)),
            counter_value,
        )?;

        let traffic = s.sessions.traffic.totals();
        let (packets_in, bytes_in) = by_packet(&traffic.received);
        // Sent = the rooms' broadcasts and lists, once per recipient, plus direct replies.
        let sent = PacketCounters::default();
        traffic.sent.add_to(&sent);
        for room in &s.rooms {
            room.stats.sent.add_to(&sent);
        }
        let (packets_out, bytes_out) = by_packet(&sent);
        for (name, help, unit, items) in [
            (
                "game_packets_received",
                "Frames received, by packet type.",
                None,
                packets_in,
            ),
            (
                "game_received",
                "Bytes received, by packet type.",
                Some(Unit::Bytes),
                bytes_in,
            ),
            (
                "game_packets_sent",
                "Frames delivered to sessions, by packet type (a broadcast once per recipient).",
                None,
                packets_out,
            ),
            (
                "game_sent",
                "Bytes delivered to sessions, by packet type.",
                Some(Unit::Bytes),
                bytes_out,
            ),
        ] {
            family(
                e,
                Desc(name, help, unit, MetricType::Counter),
                "packet",
                items,
                counter_value,
            )?;
        }

        let rate_limited = s.sessions.rate_limited.load(r);
        let rejected = s.server.inputs_rejected.load(r);
        family(
            e,
            Desc("game_inputs_dropped", "Player inputs dropped: over a rate limit, room input queue full, or invalid (over-long chat).", None, MetricType::Counter),
            "cause",
            [
                ("rate_limit".to_owned(), rate_limited),
                ("queue_full".to_owned(), s.server.inputs_dropped.load(r)),
                ("invalid".to_owned(), rejected.saturating_sub(rate_limited)),
            ],
            counter_value,
        )?;

        let (queued, max_queued) = (s.send_queues)();
        gauge(
            e,
            "game_send_queue",
            "Bytes queued on every session, not yet written.",
            Some(Unit::Bytes),
            queued,
        )?;
        gauge(
            e,
            "game_send_queue_max",
            "Bytes queued on the fullest session.",
            Some(Unit::Bytes),
            max_queued,
        )?;

        let rooms = || s.rooms.iter();
        family(
            e,
            Desc(
                "game_players",
                "Players in the room.",
                None,
                MetricType::Gauge,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.stats.players.load(r) as u64)),
            |m, v| m.encode_gauge(&v),
        )?;
        family(
            e,
            Desc(
                "game_ghosts",
                "World mode: players of other regions a region holds as ghosts.",
                None,
                MetricType::Gauge,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.stats.ghosts.load(r) as u64)),
            |m, v| m.encode_gauge(&v),
        )?;
        family(
            e,
            Desc(
                "game_job_queue_depth",
                "Jobs waiting in the room's queue.",
                None,
                MetricType::Gauge,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.jobs.depth() as u64)),
            |m, v| m.encode_gauge(&v),
        )?;
        family(
            e,
            Desc(
                "game_job_wait",
                "Time from a job's push to the start of its run.",
                Some(Unit::Seconds),
                MetricType::Histogram,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.jobs.wait.snapshot())),
            histogram_value,
        )?;
        family(
            e,
            Desc(
                "game_flush_duration",
                "Time one broadcast flush took (join the pending list, queue it on every session).",
                Some(Unit::Seconds),
                MetricType::Histogram,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.stats.flush_duration.snapshot())),
            histogram_value,
        )?;
        family(
            e,
            Desc(
                "game_ai_tick_duration",
                "World mode: time one region tick's monster AI took (monsters stepped, their frames queued).",
                Some(Unit::Seconds),
                MetricType::Histogram,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.stats.ai_duration.snapshot())),
            histogram_value,
        )?;
        family(
            e,
            Desc(
                "game_monsters",
                "World mode: monsters a region holds (living or dead).",
                None,
                MetricType::Gauge,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.stats.monsters.load(r) as u64)),
            |m, v| m.encode_gauge(&v),
        )?;
        family(
            e,
            Desc(
                "game_monsters_awake",
                "World mode: monsters the AI stepped in the region's last tick (near players, or on their way).",
                None,
                MetricType::Gauge,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.stats.monsters_awake.load(r) as u64)),
            |m, v| m.encode_gauge(&v),
        )?;
        family(
            e,
            Desc(
                "game_job_panics",
                "Room jobs that panicked.",
                None,
                MetricType::Counter,
            ),
            "room",
            rooms().map(|rm| (rm.label.clone(), rm.jobs.panics.load(r))),
            counter_value,
        )?;

        counter(
            e,
            "game_admin_unauthorized",
            "Admin requests refused for a missing or wrong token.",
            None,
            s.admin.unauthorized.load(r),
        )?;
        counter(
            e,
            "game_admin_forbidden",
            "Admin requests refused without a token for a Host or Origin that is not loopback.",
            None,
            s.admin.forbidden.load(r),
        )?;
        counter(
            e,
            "game_admin_connections_refused",
            "Admin connections closed at once: too many open.",
            None,
            s.admin.connections_refused.load(r),
        )?;
        gauge(
            e,
            "game_admin_connections_open",
            "Admin connections open.",
            None,
            s.admin.connections_open.load(r),
        )?;

        if let Some(w) = &s.world {
            world_metrics(e, w)?;
        }
        if let Some(c) = &s.cluster {
            cluster_metrics(e, c)?;
        }
        if let Some(a) = &s.accounts {
            accounts_metrics(e, a)?;
        }

        let process = ProcessSample::read();
        if let Some(rss) = process.resident_bytes {
            gauge(
                e,
                "process_resident_memory",
                "Resident set size.",
                Some(Unit::Bytes),
                rss,
            )?;
        }
        if let Some(cpu) = process.cpu_seconds {
            let mut m = e.encode_descriptor(
                "process_cpu",
                "User and system CPU time.",
                Some(&Unit::Seconds),
                MetricType::Counter,
            )?;
            m.encode_counter::<NoLabelSet, _, u64>(&cpu, None)?;
        }
        if let Some(fds) = process.open_fds {
            gauge(e, "process_open_fds", "Open file descriptors.", None, fds)?;
        }
        Ok(())
    }
}

fn world_metrics(e: &mut DescriptorEncoder, w: &WorldStats) -> Res {
    let r = Ordering::Relaxed;
    for (name, help, v) in [
        (
            "game_world_handoffs",
            "Players handed from one region to another.",
            &w.handoffs,
        ),
        (
            "game_world_region_messages",
            "Messages sent between regions (ghosts, hand-offs, forwards).",
            &w.region_msgs,
        ),
        (
            "game_world_forwarded_inputs",
            "Inputs passed on by a region that no longer owned the player.",
            &w.forwarded_inputs,
        ),
        (
            "game_world_inputs_shed",
            "Inputs shed on their way from another node; each kept its sequence number.",
            &w.inputs_shed,
        ),
        (
            "game_world_peer_refused",
            "Messages from a region with no say over that player (forwards, hand-offs, gones).",
            &w.peer_refused,
        ),
        (
            "game_world_inputs_skipped",
            "Inputs given up: a gap in a player's sequence outlived the reorder cap.",
            &w.inputs_skipped,
        ),
        (
            "game_world_monster_spawns",
            "S_MonsterSpawn frames sent (once per recipient).",
            &w.monster_spawns,
        ),
        (
            "game_world_monster_moves",
            "S_MonsterMove frames sent (once per recipient).",
            &w.monster_moves,
        ),
        (
            "game_world_monster_despawns",
            "S_MonsterDespawn frames sent (once per recipient).",
            &w.monster_despawns,
        ),
        (
            "game_world_monster_attacks",
            "Attacks monsters decided on players.",
            &w.monster_attacks,
        ),
    ] {
        counter(e, name, help, None, v.load(r))?;
    }
    Ok(())
}

fn cluster_metrics(e: &mut DescriptorEncoder, c: &ClusterNode) -> Res {
    let r = Ordering::Relaxed;
    let st = &c.stats;
    gauge(
        e,
        "game_cluster_epoch",
        "This node's bus epoch (from the clock at start, one more per lost NATS connection).",
        None,
        u64::from(c.epoch()),
    )?;
    gauge(
        e,
        "game_cluster_nodes_alive",
        "Other nodes linked with this one.",
        None,
        st.nodes_alive.load(r),
    )?;
    gauge(
        e,
        "game_cluster_world_players",
        "Players on every live node, from their heartbeats.",
        None,
        st.players_total.load(r),
    )?;
    for (name, help, v) in [
        (
            "game_cluster_published",
            "NATS messages published.",
            &st.published,
        ),
        (
            "game_cluster_publish_dropped",
            "Publishes dropped: the queue was full or NATS was away.",
            &st.publish_dropped,
        ),
        (
            "game_cluster_ordered_dropped",
            "Messages for another node dropped while linked: each was a cut (and a resync).",
            &st.ordered_dropped,
        ),
        (
            "game_cluster_stale_unsent",
            "Messages for another node written before a cut and not sent after it.",
            &st.stale_unsent,
        ),
        (
            "game_cluster_players_orphaned",
            "Players disconnected: their region had no live node after a hand-off.",
            &st.players_orphaned,
        ),
        (
            "game_cluster_received",
            "NATS messages received on this node's inbox.",
            &st.received,
        ),
        (
            "game_cluster_malformed",
            "Received messages that did not decode.",
            &st.malformed,
        ),
        (
            "game_cluster_refused",
            "Received records the sending node had no right to (checked per kind).",
            &st.refused,
        ),
        (
            "game_cluster_chat_refused",
            "world.chat messages that were not one S_Chat that decodes.",
            &st.chat_refused,
        ),
        (
            "game_cluster_stale",
            "Received messages from a node not alive in that epoch.",
            &st.stale,
        ),
        (
            "game_cluster_remote_shed",
            "Inputs from other nodes shed: their region was too far behind.",
            &st.remote_shed,
        ),
        (
            "game_cluster_unroutable",
            "Region messages for a region whose node is not alive.",
            &st.unroutable,
        ),
        (
            "game_cluster_nodes_lost",
            "Nodes declared dead or cut.",
            &st.nodes_lost,
        ),
        (
            "game_cluster_players_cut",
            "Players disconnected because their region's node was lost.",
            &st.players_cut,
        ),
        (
            "game_cluster_nats_disconnects",
            "Times this node lost its NATS connection.",
            &st.disconnects,
        ),
        (
            "game_cluster_duplicate_node",
            "Signs of another process running with this node's id.",
            &st.duplicate_node,
        ),
    ] {
        counter(e, name, help, None, v.load(r))?;
    }
    counter(
        e,
        "game_cluster_published",
        "Bytes published to NATS.",
        Some(Unit::Bytes),
        st.published_bytes.load(r),
    )?;
    let links = c.presence().links();
    family(
        e,
        Desc(
            "game_cluster_link",
            "Each node heard from: 1 while linked (both hear each other), 0 before.",
            None,
            MetricType::Gauge,
        ),
        "node",
        links
            .iter()
            .map(|&(n, _, linked)| (n.to_string(), u64::from(linked))),
        |m, v| m.encode_gauge(&v),
    )?;
    family(
        e,
        Desc(
            "game_cluster_peer_epoch",
            "Each node heard from: its bus epoch.",
            None,
            MetricType::Gauge,
        ),
        "node",
        links
            .iter()
            .map(|&(n, epoch, _)| (n.to_string(), u64::from(epoch))),
        |m, v| m.encode_gauge(&v),
    )
}
