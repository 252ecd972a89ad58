//! `Bridge`: the tasks between NATS and this process's regions and sessions.
//!
//! - the **publisher** takes [`Publish`]es from the node's bounded queue, in order, and hands
//!   them to the NATS client (while NATS is down they are dropped and counted: the cut below
//!   has already ended everything they were about);
//! - the **inbox** reads `world.node.{me}` in order: region records go to their region's
//!   queue, frames to their player's session, route changes to the seat;
//! - **chat** sends every `world.chat` line to every player whose session is here;
//! - **heartbeats** are published every `heartbeat` and read from everyone: a node joins,
//!   dies after `dead_after` without one, or restarts (a new epoch);
//! - NATS's own events: a lost connection **cuts** this node from the others (everything it
//!   shared with them ends, see `cut`); async-nats reconnects by itself, heartbeats resume,
//!   and each node that is heard again gets a full resync of the borders.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use server_core::CloseReason;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::adapters::cluster::check;
use crate::adapters::cluster::envelope::{self, Record};
use crate::adapters::cluster::node::{ClusterNode, Publish, Subject};
use crate::adapters::cluster::presence::{Change, Heartbeat};
use crate::adapters::cluster::subjects;
use crate::adapters::cluster::{ids, shed};
use crate::game::packets::SChat;
use crate::game::world::wire;
use crate::game::world::{has_region, RegionJob};
use crate::runtime::world::World;

/// Longest wait for the NATS client to take one publish.
const PUBLISH_WAIT: Duration = Duration::from_secs(1);

/// The bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// NATS did not answer.
    #[error("could not connect to NATS at {url}: {reason}")]
    Connect {
        /// The address.
        url: String,
        /// Why.
        reason: String,
    },
    /// Another process already runs this node id: it answered the joining node's question
    /// on `world.ids`. Two processes with one id would split every message between them.
    #[error("node {node} is already running in another process; refusing to start a second one")]
    DuplicateNode {
        /// The node id.
        node: u16,
    },
    /// A subscription was refused.
    #[error("could not subscribe to {subject}: {reason}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        reason: String,
    },
}

/// The running bridge: its NATS connection and tasks.
pub struct Bridge {
    client: async_nats::Client,
    tasks: Vec<JoinHandle<()>>,
    /// The first player id this node may hand out (above every id of its range the
    /// cluster remembers from an earlier run of this node).
    first_id: i32,
}

impl Bridge {
    /// Connects to NATS (failing at once if it does not answer: a node that cannot reach
    /// the others must not start), subscribes, and starts the tasks. `world` runs this
    /// node's regions.
    pub async fn start(
        node: Arc<ClusterNode>,
        publishes: mpsc::Receiver<Publish>,
        world: Arc<World>,
    ) -> Result<Bridge, BridgeError> {
        let config = node.config().clone();
        let (events_node, events_world) = (Arc::clone(&node), Arc::clone(&world));
        let mut options = async_nats::ConnectOptions::new();
        let auth = &config.auth;
        if let (Some(user), Some(password)) = (&auth.user, &auth.password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &auth.token {
            options = options.token(token.clone());
        }
        if let Some(ca) = &auth.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        let client = options
            .name(format!("game-server node {}", config.node_id))
            .subscription_capacity(config.subscription_capacity)
            .connection_timeout(Duration::from_secs(5))
            // Retry soon after a NATS restart: the cut already ended cross-node play, so
            // the sooner the nodes hear each other again, the sooner the borders are back.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64 * 100).min(1000))
            })
            .event_callback(move |event| {
                let (node, world) = (Arc::clone(&events_node), Arc::clone(&events_world));
                async move { on_event(&node, &world, event) }
            })
            // Several servers of one NATS cluster, comma-separated: the client tries them in
            // the order given (list the nearest first) and fails over between them; it also
            // learns the others from the servers themselves.
            .retain_servers_order()
            .connect(
                config
                    .nats_url
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .collect::<Vec<_>>(),
            )
            .await
            .map_err(|e| BridgeError::Connect {
                url: config.nats_url.clone(),
                reason: e.to_string(),
            })?;
        let subscribe = |subject: String| {
            let client = client.clone();
            async move {
                client
                    .subscribe(subject.clone())
                    .await
                    .map_err(|e| BridgeError::Subscribe {
                        subject,
                        reason: e.to_string(),
                    })
            }
        };
        let inbox = subscribe(subjects::node(config.node_id)).await?;
        let chat = subscribe(subjects::CHAT.to_owned()).await?;
        let beats = subscribe(subjects::HEARTBEAT.to_owned()).await?;
        // Before answering anyone: is this node id taken, and which of its ids does the
        // cluster still remember? Every live node answers at once; two heartbeats' time
        // (at least a second) is plenty.
        let question = ids::Question {
            node: config.node_id,
            instance: node.instance(),
        };
        let wait = ids::wait(config.heartbeat);
        let verdict =
            ids::ask(&client, question, wait)
                .await
                .map_err(|reason| BridgeError::Subscribe {
                    subject: subjects::IDS.to_owned(),
                    reason,
                })?;
        if verdict.duplicate {
            return Err(BridgeError::DuplicateNode {
                node: config.node_id,
            });
        }
        let (first, last) = crate::game::player_ids::range(config.node_id);
        let first_id = ids::first_free(first, last, verdict.highest);
        let questions = subscribe(subjects::IDS.to_owned()).await?;
        let tasks = vec![
            tokio::spawn(answer_ids(
                questions,
                client.clone(),
                Arc::clone(&node),
                Arc::clone(&world),
            )),
            tokio::spawn(publisher(
                client.clone(),
                Arc::clone(&node),
                Arc::clone(&world),
                publishes,
            )),
            tokio::spawn(read_inbox(inbox, Arc::clone(&node), Arc::clone(&world))),
            tokio::spawn(read_chat(chat, Arc::clone(&node), Arc::clone(&world))),
            tokio::spawn(read_heartbeats(
                beats,
                Arc::clone(&node),
                Arc::clone(&world),
            )),
            tokio::spawn(heartbeat(client.clone(), Arc::clone(&node), world)),
        ];
        tracing::info!(
            node = config.node_id,
            regions = format!("{:#b}", config.own),
            url = %config.nats_url,
            epoch = node.epoch(),
            first_player_id = first_id,
            nodes_answered = verdict.answers,
            "joined the cluster"
        );
        Ok(Bridge {
            client,
            tasks,
            first_id,
        })
    }

    /// The first player id this node may hand out.
    pub fn first_id(&self) -> i32 {
        self.first_id
    }

    /// The NATS connection (for the accounts' questions to other nodes).
    pub fn client(&self) -> async_nats::Client {
        self.client.clone()
    }

    /// Answers other nodes' requests to let a character go, with `here` (once logins are
    /// on); the task stops with the bridge.
    pub async fn serve_releases(
        &mut self,
        node: Arc<ClusterNode>,
        here: Arc<dyn crate::runtime::claims::ReleaseHere>,
    ) -> Result<(), BridgeError> {
        let task = crate::adapters::cluster::claims::serve(self.client.clone(), node, here)
            .await
            .map_err(|reason| BridgeError::Subscribe {
                subject: "world.release.*".into(),
                reason,
            })?;
        self.tasks.push(task);
        Ok(())
    }

    /// Stops the tasks after giving NATS up to a second to take what was published.
    pub async fn shutdown(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
        for task in self.tasks {
            task.abort();
        }
    }

    /// Stops everything at once, with no goodbye: to the other nodes this process died.
    pub fn sever(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

fn on_event(node: &Arc<ClusterNode>, world: &Arc<World>, event: async_nats::Event) {
    match event {
        async_nats::Event::Disconnected => cut(node, world, "this node lost its NATS connection"),
        async_nats::Event::SlowConsumer(sid) => {
            // Messages were dropped for us: what they carried is lost, as in a disconnect.
            // The client reports every dropped message; only the first one while linked
            // cuts (and logs): until the nodes link again there is nothing more to lose.
            if node.presence().alive() == 0 {
                tracing::debug!(sid, "NATS dropped another message while cut");
                return;
            }
            cut(node, world, "this node fell behind on NATS (slow consumer)");
            tracing::warn!(sid, "NATS dropped messages for a slow subscription");
            node.set_connected(true);
        }
        async_nats::Event::Connected => {
            if !node.connected() {
                tracing::info!(
                    node = node.id(),
                    "NATS connection back; waiting for heartbeats"
                );
            }
            node.set_connected(true);
        }
        other => tracing::info!(event = %other, "NATS event"),
    }
}

/// This node loses every other node at once: all they shared ends (see `lose`).
fn cut(node: &Arc<ClusterNode>, world: &World, why: &str) {
    node.set_connected(false);
    node.run_on_cut();
    let lost = {
        let mut presence = node.presence();
        let lost = presence.clear();
        node.update_owners(&presence, world.directory().len() as u64);
        lost
    };
    tracing::warn!(
        node = node.id(),
        nodes = lost.len(),
        why,
        "cut from the cluster"
    );
    for (other, regions) in lost {
        lose(node, world, other, regions, why);
    }
}

/// Node `other`, running `regions`, is gone for this one: its regions drop its ghosts and
/// players, and this node's players whose region it ran are disconnected with the reason.
fn lose(node: &ClusterNode, world: &World, other: u16, regions: u64, why: &str) {
    node.stats.nodes_lost.fetch_add(1, Ordering::Relaxed);
    world.tell_all(|| RegionJob::NodeLost {
        gateway: Some(other),
        regions,
    });
    let mut cut = 0u64;
    let mut hidden = 0usize;
    for (player_id, link) in world.directory().all() {
        // Nothing more comes from that node: the monsters its regions showed this player
        // go out of view here (and come back with the resync, once it is back).
        hidden += link.hide_remote_monsters(other);
        let region = link.route();
        if has_region(regions, region) {
            cut += 1;
            tracing::debug!(
                player_id,
                region,
                other,
                "disconnecting: region's node lost"
            );
            link.session()
                .disconnect(CloseReason::ApplicationError(format!(
                    "region {region} ran on node {other}, which is unreachable: {why}"
                )));
        }
    }
    node.stats.players_cut.fetch_add(cut, Ordering::Relaxed);
    tracing::warn!(
        node = other,
        regions = format!("{regions:#b}"),
        players_disconnected = cut,
        monsters_hidden = hidden,
        why,
        "node lost"
    );
}

/// A publish that did not go out. A message for another node's inbox is part of an ordered
/// stream (region messages, hand-offs, route changes, numbered inputs, the frames that keep
/// views right): losing one would freeze a player or leave a view wrong, so a dropped one is
/// a cut, and the resync after it puts everything right. Chat is only chat.
fn publish_dropped(
    node: &Arc<ClusterNode>,
    world: &World,
    subject: Subject,
    still_connected: bool,
    why: &str,
) {
    node.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
    if !matches!(subject, Subject::Node(_)) || node.presence().alive() == 0 {
        return;
    }
    node.stats.ordered_dropped.fetch_add(1, Ordering::Relaxed);
    cut(node, world, why);
    // The connection itself may be fine (a stalled server): the cut only ended what was
    // shared, as after a slow-consumer drop.
    if still_connected {
        node.set_connected(true);
    }
}

async fn publisher(
    client: async_nats::Client,
    node: Arc<ClusterNode>,
    world: Arc<World>,
    mut publishes: mpsc::Receiver<Publish>,
) {
    let dropped = |p: &Publish, why: &str| {
        let connected = client.connection_state() == async_nats::connection::State::Connected;
        publish_dropped(&node, &world, p.subject, connected, why);
    };
    while let Some(p) = publishes.recv().await {
        // Made before a cut, in an epoch that is over: what it was about has ended (the
        // cut told every region), and a peer that has not yet heard our new epoch would
        // still take it: a hand-off's route without its hand-off, say. Not sent.
        if matches!(p.subject, Subject::Node(_))
            && envelope::epoch_of(&p.payload).is_some_and(|e| e != node.epoch())
        {
            node.stats.stale_unsent.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if client.connection_state() != async_nats::connection::State::Connected {
            dropped(
                &p,
                "a message for another node was dropped: NATS is not connected",
            );
            continue;
        }
        let len = p.payload.len() as u64;
        // The client's own queue drains only while it is connected: a publish that cannot
        // get in within a second (the connection just went, or the server stalls) is
        // dropped, so the regions waiting on this queue do not stall for as long as NATS is
        // away.
        let published = tokio::time::timeout(
            PUBLISH_WAIT,
            client.publish(p.subject.name(), p.payload.clone()),
        )
        .await;
        match published {
            Ok(Ok(())) => {
                node.stats.published.fetch_add(1, Ordering::Relaxed);
                node.stats.published_bytes.fetch_add(len, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "publish failed");
                dropped(
                    &p,
                    "a message for another node was dropped: the publish failed",
                );
            }
            Err(_) => {
                tracing::debug!("publish timed out: NATS is not taking messages");
                dropped(
                    &p,
                    "a message for another node was dropped: NATS took none for 1 s",
                );
            }
        }
    }
}

async fn read_inbox(mut inbox: async_nats::Subscriber, node: Arc<ClusterNode>, world: Arc<World>) {
    while let Some(msg) = inbox.next().await {
        node.stats.received.fetch_add(1, Ordering::Relaxed);
        let env = match envelope::decode(&msg.payload) {
            Ok(env) => env,
            Err(e) => {
                malformed(&node, &e.to_string());
                continue;
            }
        };
        let regions = {
            let presence = node.presence();
            if !presence.accepts(env.from, env.epoch) {
                drop(presence);
                // From before a cut (or a node not heard from yet): what it is about has
                // ended.
                node.stats.stale.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            presence.regions_of(env.from)
        };
        for record in env.records {
            apply(&node, &world, env.from, regions, record);
        }
    }
}

/// One record from node `from`, which runs `regions`. Every kind is checked against what
/// that node may speak for (`check.rs`): anything else is counted as refused and dropped,
/// so one confused or hostile node cannot despawn, move, chat as or kick another node's
/// players, or make a second owner.
fn apply(node: &ClusterNode, world: &World, from: u16, regions: u64, record: Record) {
    match record {
        Record::ToRegion { region, frame } => {
            let Some(queue) = world.local_queue(region) else {
                node.stats.unroutable.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let msg = match wire::decode_any(&frame) {
                Ok(msg) => msg,
                Err(e) => return malformed(node, &e.to_string()),
            };
            if let Err(e) = check::job(from, regions, &msg) {
                return refused(node, from, &e);
            }
            // Inputs wait in a lane bounded in bytes and are shed past it; everything else
            // is always admitted (see `shed.rs`).
            let taken = shed::take(
                queue,
                msg.into_job(),
                frame.len(),
                node.config().remote_bytes,
            );
            if taken == shed::Taken::Shed {
                node.stats.remote_shed.fetch_add(1, Ordering::Relaxed);
            }
        }
        Record::ToPlayer { player_id, frames } => {
            if let Err(e) = check::frames(node.id(), player_id, &frames) {
                return refused(node, from, &e);
            }
            if let Some(link) = world.directory().get(player_id) {
                let shown = check::monsters_in(&frames);
                link.send_remote(from, frames, &shown);
            }
        }
        Record::Route {
            player_id,
            region,
            from: handed_by,
            seq,
        } => {
            let checked = check::route(
                node.id(),
                from,
                regions,
                player_id,
                region,
                handed_by,
                world.layout().regions(),
            );
            if let Err(e) = checked {
                return refused(node, from, &e);
            }
            // A player gone meanwhile has nothing to route.
            if let Some(link) = world.directory().get(player_id) {
                // No owner can have applied more inputs than the seat sent: a route from
                // beyond them would pin the player's route for good.
                if seq > link.inputs_sent() {
                    return refused(node, from, &check::Refusal::RouteAhead(seq));
                }
                let route = crate::game::world::Route {
                    to: region,
                    from: handed_by,
                    seq,
                };
                crate::game::world::PlayerLink::route_to(&link, route);
            }
        }
        Record::Moved { player_id, pos } => {
            let link = world.directory().get(player_id);
            let owner = link.as_ref().map(|l| l.route());
            let checked = check::moved(
                node.id(),
                from,
                regions,
                player_id,
                pos,
                owner,
                world.layout(),
            );
            if let Err(e) = checked {
                return refused(node, from, &e);
            }
            if let Some(link) = link {
                crate::game::world::PlayerLink::moved(&link, pos);
            }
        }
    }
}

fn refused(node: &ClusterNode, from: u16, why: &check::Refusal) {
    let n = node.stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
    // 1, 2, 4, 8, ...: a peer sending garbage cannot flood the log.
    if n.is_power_of_two() {
        tracing::warn!(
            from,
            refused_total = n,
            why = %why,
            "refused a cluster record the sending node has no right to"
        );
    }
}

fn malformed(node: &ClusterNode, why: &str) {
    let n = node.stats.malformed.fetch_add(1, Ordering::Relaxed) + 1;
    // 1, 2, 4, 8, ...: a peer sending garbage cannot flood the log.
    if n.is_power_of_two() {
        tracing::warn!(
            malformed_total = n,
            why,
            "refused a malformed cluster message"
        );
    }
}

/// Answers every joining node's question on `world.ids` (see `ids.rs`): this node's id and
/// process, and the highest id of the asker's range its regions know. A question for this
/// node's own id comes from a second process started with it: the answer tells it so.
async fn answer_ids(
    mut questions: async_nats::Subscriber,
    client: async_nats::Client,
    node: Arc<ClusterNode>,
    world: Arc<World>,
) {
    // Questions being answered at once. A joining node asks once; more than a few at a time
    // is not a cluster starting but a flood, and each answer costs every region a scan:
    // past the cap a question is dropped.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(ids::MAX_ANSWERING));
    while let Some(msg) = questions.next().await {
        let (Some(question), Some(reply)) = (ids::Question::decode(&msg.payload), msg.reply) else {
            continue;
        };
        if question.instance == node.instance() {
            continue;
        }
        let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
            tracing::debug!(
                asker = question.node,
                "world.ids question dropped: too many at once"
            );
            continue;
        };
        // Each on its own task: asking the regions may take a while, and two nodes joining
        // at once must both have their answer well within their wait.
        let (client, node, world) = (client.clone(), Arc::clone(&node), Arc::clone(&world));
        tokio::spawn(async move {
            let _permit = permit;
            let highest = if question.node == node.id() {
                node.stats.duplicate_node.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    node = node.id(),
                    "another process asked to join as this node; it is told to stop"
                );
                0
            } else {
                let gateway = question.node;
                tokio::task::spawn_blocking(move || {
                    world.highest_id_of(gateway, ids::ANSWER_WITHIN)
                })
                .await
                .unwrap_or(0)
            };
            let answer = ids::Answer {
                node: node.id(),
                instance: node.instance(),
                highest,
            };
            if client.publish(reply, answer.encode()).await.is_err() {
                node.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

async fn read_chat(mut chat: async_nats::Subscriber, node: Arc<ClusterNode>, world: Arc<World>) {
    while let Some(msg) = chat.next().await {
        // Only one whole S_Chat that decodes (its UTF-16 body included): anything else on
        // the subject is not ours, and a bad frame relayed to every player would close
        // every client's session.
        let one_chat = server_core::frame::parse_header(&msg.payload, usize::from(u16::MAX))
            .ok()
            .flatten()
            .is_some_and(|h| {
                h.size == msg.payload.len() && h.id == <SChat as server_core::Packet>::ID
            });
        if !one_chat || check::client_frames(&msg.payload).is_err() {
            node.stats.chat_refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        world.directory().for_each(|link| {
            let _ = link.session().send(msg.payload.clone());
        });
    }
}

async fn read_heartbeats(
    mut beats: async_nats::Subscriber,
    node: Arc<ClusterNode>,
    world: Arc<World>,
) {
    while let Some(msg) = beats.next().await {
        let Some(hb) = Heartbeat::decode(&msg.payload) else {
            continue;
        };
        if hb.node == node.id() {
            if hb.instance == node.instance() {
                node.saw_own_echo(hb.sent_ms);
                continue;
            }
            // Two processes that started at once, each before the other could answer its
            // question: both count and say so (twice a second at most, with the heartbeat).
            node.stats.duplicate_node.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                node = node.id(),
                "another process runs with this node id: stop one of them"
            );
            continue;
        }
        let players = world.directory().len() as u64;
        let changes = {
            let mut presence = node.presence();
            let changes = presence.observe(&hb, node.epoch(), Instant::now());
            node.update_owners(&presence, players);
            // A node back in a new epoch is accepted from this heartbeat on, but what it
            // sends must reach the regions after their NodeLost for its old epoch: the inbox
            // checks the presence under this lock, so the loss is told while it is held.
            for change in &changes {
                if let Change::Lost {
                    node: other,
                    regions,
                } = *change
                {
                    lose(
                        &node,
                        &world,
                        other,
                        regions,
                        "it lost its NATS connection (a new epoch) or stopped hearing this node",
                    );
                }
            }
            changes
        };
        for change in changes {
            match change {
                Change::Lost { .. } => {}
                Change::Joined {
                    node: other,
                    regions,
                } => {
                    tracing::info!(
                        node = other,
                        regions = format!("{regions:#b}"),
                        "node linked"
                    );
                    world.tell_all(|| RegionJob::Resync);
                }
            }
        }
    }
}

/// Says this node is alive every `heartbeat`, and declares dead the nodes not heard from.
/// Heartbeats go straight to the NATS client, not through the bounded publish queue the
/// regions fill: a node busy relaying must not look dead for want of a free slot there.
async fn heartbeat(client: async_nats::Client, node: Arc<ClusterNode>, world: Arc<World>) {
    let mut ticker = tokio::time::interval(node.config().heartbeat);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let players = world.directory().len() as u64;
        // One lock for both lists (a second `presence()` in the same expression would wait
        // on the first guard, still alive until the statement ends).
        let (sees, gens) = {
            let presence = node.presence();
            (presence.sees(), presence.gens())
        };
        let hb = Heartbeat {
            node: node.id(),
            epoch: node.epoch(),
            regions: node.config().own,
            players,
            sees,
            instance: node.instance(),
            gens,
            sent_ms: node.clock_ms(),
        };
        if client.connection_state() == async_nats::connection::State::Connected {
            let beat = client.publish(Subject::Heartbeat.name(), hb.encode().into());
            if !matches!(tokio::time::timeout(PUBLISH_WAIT, beat).await, Ok(Ok(()))) {
                node.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Half the dead-after time: this node gives its logged-in players up before any
        // other node can decide it is gone and take their accounts over.
        node.check_own_echo();
        let dead = {
            let mut presence = node.presence();
            let dead = presence.expire(Instant::now());
            node.update_owners(&presence, players);
            dead
        };
        let why = format!("no heartbeat for {:?}", node.config().dead_after);
        for (other, regions) in dead {
            lose(&node, &world, other, regions, &why);
        }
        disconnect_orphans(&node, &world);
    }
}

/// Disconnects the local players whose inputs go to a region no live node runs. A node's
/// loss disconnects the players routed to its regions at once (`lose`), but a hand-off
/// sent just as that node was lost moves a player's route there afterwards: without this
/// sweep (every heartbeat) that player would stay connected with nobody applying its
/// inputs.
fn disconnect_orphans(node: &ClusterNode, world: &World) {
    for (player_id, link) in world.directory().all() {
        let region = link.route();
        if node.runs(region) || node.owner_of(region).is_some() {
            continue;
        }
        node.stats.players_orphaned.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            player_id,
            region,
            "disconnecting: its region has no live node"
        );
        link.session()
            .disconnect(CloseReason::ApplicationError(format!(
                "region {region} has no live node: its owner was lost during a hand-off"
            )));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::adapters::cluster::{ClusterConfig, WorldPort};
    use crate::game::world::{Spawn, WorldConfig};

    /// Node 0 of a two-region world, linked with node 1, and its running world.
    fn linked_node() -> (Arc<ClusterNode>, World) {
        let (node, _publishes) = ClusterNode::new(ClusterConfig::new("nats://unused", 0, 0b01));
        let config = WorldConfig {
            regions: 2,
            spawn: Spawn::At { x: -1.0, z: 0.0 },
            ..WorldConfig::default()
        };
        let port: Arc<dyn crate::runtime::world::Cluster> = Arc::new(WorldPort(Arc::clone(&node)));
        let world = World::start_in(
            &config,
            16,
            16,
            Duration::from_millis(50),
            1 << 20,
            &[],
            Some(port),
        )
        .expect("world starts");
        let hb = Heartbeat {
            node: 1,
            epoch: 5,
            regions: 0b10,
            players: 0,
            sees: vec![(0, node.epoch())],
            instance: 9,
            gens: vec![(0, 1)],
            sent_ms: 0,
        };
        let mut presence = node.presence();
        let changes = presence.observe(&hb, node.epoch(), Instant::now());
        assert!(matches!(changes[..], [Change::Joined { node: 1, .. }]));
        node.update_owners(&presence, 0);
        drop(presence);
        (node, world)
    }

    #[test]
    fn a_dropped_message_for_another_node_is_a_cut_and_dropped_chat_is_not() {
        let (node, world) = linked_node();
        let epoch = node.epoch();
        publish_dropped(&node, &world, Subject::Chat, true, "test");
        assert_eq!(node.stats.ordered_dropped.load(Ordering::Relaxed), 0);
        assert_eq!(node.presence().alive(), 1, "a lost chat line cuts nothing");

        publish_dropped(&node, &world, Subject::Node(1), true, "test");
        assert_eq!(node.stats.ordered_dropped.load(Ordering::Relaxed), 1);
        assert_eq!(
            node.stats.nodes_lost.load(Ordering::Relaxed),
            1,
            "node 1 is lost"
        );
        assert_eq!(node.presence().alive(), 0);
        assert_ne!(
            node.epoch(),
            epoch,
            "a new epoch: node 1 will see us as new, and resync"
        );
        assert_eq!(node.owner_of(1), None);
        assert!(node.connected(), "the connection itself was fine");

        // While cut, further drops cut nothing more.
        publish_dropped(&node, &world, Subject::Node(1), true, "test");
        assert_eq!(node.stats.nodes_lost.load(Ordering::Relaxed), 1);
        world.stop_and_join();
    }

    struct Ignore;

    impl server_core::SessionHandler for Ignore {
        fn on_recv(&mut self, _session: &Arc<server_core::Session>, data: &[u8]) -> usize {
            data.len()
        }
    }

    /// A hand-off sent just as its target's node was lost moves the player's route there
    /// after the loss already disconnected everyone routed to it: the heartbeat's sweep
    /// disconnects that player too, instead of leaving it with nobody applying its inputs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_player_routed_to_a_region_no_live_node_runs_is_disconnected() {
        use crate::game::world::{PlayerLink, Route};

        let (node, world) = linked_node();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let connector = server_core::Connector::new(server_core::Config::default());
        let session = connector
            .connect(listener.local_addr().expect("addr"), Ignore)
            .await
            .expect("connect");
        let mut seat = world.seat();
        seat.enter(1, Arc::clone(&session), None, None)
            .expect("enter region 0");
        let link = world.directory().get(1).expect("linked");

        // Handed to region 1 (node 1's, linked): a live owner, nothing to do.
        link.route_to(Route {
            to: 1,
            from: 0,
            seq: 1,
        });
        disconnect_orphans(&node, &world);
        assert!(!session.is_closed());

        // Node 1 is lost while routes to it are still on their way.
        link.route_to(Route {
            to: 0,
            from: 1,
            seq: 2,
        });
        cut(&node, &world, "test");
        link.route_to(Route {
            to: 1,
            from: 0,
            seq: 3,
        });
        assert!(!session.is_closed(), "the loss came before the route");
        disconnect_orphans(&node, &world);
        assert!(session.is_closed(), "the sweep ends the orphan");
        assert_eq!(node.stats.players_orphaned.load(Ordering::Relaxed), 1);
        world.stop_and_join();
        connector.shutdown().await;
    }
}
