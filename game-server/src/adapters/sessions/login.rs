//! Logins: the [`Accounts`] service every session shares, a session's [`Lobby`] (its door
//! and its seat until it plays), and the tasks that finish a login or a guest's grace.
//!
//! A login runs on its own tokio task, never on the game's threads: argon2 on the blocking
//! pool (at most [`Accounts::hashers`] at once; a login that waits longer than
//! [`HASH_QUEUE_WAIT`] for one is refused as `Unavailable`), the database behind a timeout
//! ([`DB_TIMEOUT`]; past it the login is refused as `Unavailable`, never left hanging). Only
//! then is the character let in, with `S_Login` queued before its enter job, so the client
//! reads its result before the room's or region's first packet.
//!
//! A login by token (`C_LoginToken`) skips argon2: the token is checked against the account's
//! stored hash in constant time, then used up in one database statement, so of two logins
//! presenting it only one passes. Every login that passes gets a new token in its `S_Login`.
//!
//! Logins of one account are taken one at a time (a lock per account, from a fixed set of
//! stripes), so two of them never both load it from the database: the second finds the
//! first's character in [`Online`] and takes it over, closing the first session.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use server_core::{CloseReason, Session};
use tokio::sync::Semaphore;

use crate::adapters::db::{
    now_ms, ClaimGen, Claimed, Consent, NodeLease, Saver, Store, StoreError,
};
use crate::game::accounts::{
    check_password, hash_password, verify_password, AccountName, Claim, Door, IssuedToken,
    LoginMode, LoginResult, LoginStats, Online, PresentedToken, Step, StoredToken, Throttle,
    ThrottleConfig, TokenError,
};
use crate::game::packets::{CLogin, CLoginToken, SLogin};
use crate::game::rate_limit::Rate;
use crate::game::saves::{LiveCharacter, Place};
use crate::runtime::claims::{Answering, NodeClaims, ReleaseError, ReleaseHere};
use crate::runtime::seat::Seat;
use crate::runtime::world::WorldLink;

/// Longest wait for a database answer during a login.
pub const DB_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for a free hasher; past it the login is refused as `Unavailable`.
pub const HASH_QUEUE_WAIT: Duration = Duration::from_secs(3);
/// What `S_Login.retryAfterMs` suggests when the server is busy or the database away.
const RETRY_UNAVAILABLE: Duration = Duration::from_secs(2);
/// Longest wait for an answer to be written before the close that follows it.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Longest a cluster claim may take, all of it: the read, the other node's answer (at most
/// 9 s) and the write.
const CLAIM_DEADLINE: Duration = Duration::from_secs(16);
/// Longest a login waits for its turn behind other logins of the same account (or of one
/// that shares its lock).
const TURN_WAIT: Duration = Duration::from_secs(10);
/// A world connection that took its character back gets its player list by then, or is
/// closed.
const REJOIN_DEADLINE: Duration = Duration::from_secs(10);
/// In `--login required` mode, a connection not logged in by then is closed.
pub const LOGIN_DEADLINE: Duration = Duration::from_secs(10);
/// Failed logins one account may have: 5 back to back, then one per 10 s.
pub const ACCOUNT_FAILURES: Rate = Rate {
    per_sec: 0.1,
    burst: 5.0,
};
/// Failed logins one address may have: 20 back to back, then one per 2 s.
pub const ADDRESS_FAILURES: Rate = Rate {
    per_sec: 0.5,
    burst: 20.0,
};
/// Keys each throttle holds at most (see `Throttle`: it fails open for a newcomer beyond).
const THROTTLE_KEYS: usize = 100_000;
/// Account locks; logins of accounts that share one wait for each other, briefly.
const STRIPES: usize = 64;
/// How long a release asked by another node waits for a login of the account in progress
/// here. Shorter than the asking node's wait, so two nodes that each log the account in and
/// ask the other both answer, refusing, rather than both time out.
const RELEASE_LOCK_WAIT: Duration = Duration::from_secs(2);

/// What the server needs to take logins.
pub(crate) struct Accounts {
    pub mode: LoginMode,
    /// Silence that makes a guest (optional mode).
    pub guest_grace: Duration,
    /// How long a dropped connection's character stays parked in the game; `None` for a
    /// leave at once.
    pub reconnect_grace: Option<Duration>,
    /// How long a login token stays good.
    token_ttl: Duration,
    pub place: Place,
    store: Store,
    pub online: Arc<Mutex<Online<Arc<Session>, Parked>>>,
    pub saver: Saver,
    by_account: Mutex<Throttle<String>>,
    by_address: Mutex<Throttle<IpAddr>>,
    /// Loopback addresses skip `by_address` (as they skip the connection limits).
    exempt_loopback: bool,
    hashers: Semaphore,
    stripes: Vec<tokio::sync::Mutex<()>>,
    /// Which stripe an account takes: keyed per process, so two accounts that share a
    /// stripe on one node do not share one on every node (two nodes each holding one while
    /// asking the other to let the second go would both wait).
    stripe_keys: std::hash::RandomState,
    pub stats: Arc<LoginStats>,
    /// In a cluster: the other nodes, for one session per account across them.
    cluster: Option<Arc<dyn NodeClaims>>,
    /// In a cluster: this node's lease (see `adapters/db/lease.rs`).
    lease: Option<Arc<NodeLease>>,
}

/// A login that passed: the character to let in.
struct Granted {
    name: AccountName,
    character: Arc<LiveCharacter>,
    /// Where it stands; `None` for a new character in the world (its spawn point).
    pos: Option<[f32; 3]>,
    /// A parked character, still in the game: taken back rather than entered.
    resumed: Option<Parked>,
    /// The account's new login token, for `S_Login` (empty if it could not be stored).
    token: String,
}

/// What a login presents.
pub(crate) enum Credentials {
    /// `C_Login`: a name and a password, perhaps creating the account.
    Password(CLogin),
    /// `C_LoginToken`: a name and the token of an earlier login.
    Token(CLoginToken),
}

/// Credentials that are well formed, by what checks them.
enum Proof<'a> {
    Create(&'a str),
    Password(&'a str),
    Token(PresentedToken),
}

impl Credentials {
    fn name(&self) -> &str {
        match self {
            Credentials::Password(p) => &p.name,
            Credentials::Token(t) => &t.name,
        }
    }
}

/// A character whose connection dropped, still in the game: what takes it back.
pub(crate) struct Parked {
    /// Its player id, kept by the connection that takes it back.
    pub player_id: i32,
    /// Its seat, entered.
    pub seat: Seat,
}

/// A refused login: the result and, for a limit, when to try again.
type Refused = (LoginResult, Option<Duration>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How the logins of one server behave.
pub(crate) struct LoginSettings {
    pub mode: LoginMode,
    pub guest_grace: Duration,
    pub reconnect_grace: Option<Duration>,
    pub token_ttl: Duration,
    pub exempt_loopback: bool,
    pub place: Place,
    /// In a cluster: the other nodes.
    pub cluster: Option<Arc<dyn NodeClaims>>,
    /// In a cluster: this node's lease in the shared database (renewed by its own task).
    pub lease: Option<Arc<NodeLease>>,
}

impl Accounts {
    pub fn new(
        settings: LoginSettings,
        store: Store,
        online: Arc<Mutex<Online<Arc<Session>, Parked>>>,
        saver: Saver,
    ) -> Self {
        let LoginSettings {
            mode,
            guest_grace,
            reconnect_grace,
            token_ttl,
            exempt_loopback,
            place,
            cluster,
            lease,
        } = settings;
        // argon2 takes ~20 MiB and a core for tens of ms: as many at once as there are cores.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let throttle = |rate| ThrottleConfig {
            rate,
            max_tracked: THROTTLE_KEYS,
        };
        Accounts {
            mode,
            guest_grace,
            reconnect_grace,
            token_ttl,
            place,
            store,
            online,
            saver,
            by_account: Mutex::new(Throttle::new(throttle(ACCOUNT_FAILURES))),
            by_address: Mutex::new(Throttle::new(throttle(ADDRESS_FAILURES))),
            exempt_loopback,
            hashers: Semaphore::new(cores),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            stripe_keys: std::hash::RandomState::new(),
            stats: Arc::default(),
            cluster,
            lease,
        }
    }

    /// The lock that logins of account `key` take turns on.
    fn stripe(&self, key: &str) -> &tokio::sync::Mutex<()> {
        &self.stripes[self.stripe_keys.hash_one(key) as usize % STRIPES]
    }

    /// In a cluster: claims the account for this node, and has the node that held it let
    /// it go first (see `runtime/claims.rs`). Under the account's lock. The claim's
    /// generation (0 outside a cluster), and whether another node held it.
    async fn claim_in_cluster(&self, name: &AccountName) -> Result<(ClaimGen, bool), Refused> {
        let Some(cluster) = &self.cluster else {
            return Ok((0, false));
        };
        let unavailable = (LoginResult::Unavailable, Some(RETRY_UNAVAILABLE));
        if !self.may_play() {
            tracing::debug!(
                account = name.shown(),
                "login refused: this node is off the bus or its lease ran out"
            );
            return Err(unavailable);
        }
        let key = name.key().to_owned();
        let ask = |node: u16, gen: ClaimGen| async move {
            match cluster.release(node, key, gen).await {
                Ok(()) => Consent::Given,
                // Nobody answers for that node: not running, cut from the bus, or stalled.
                // The database decides: taken over only if its lease has run out, and then
                // it has stopped its players itself.
                Err(
                    ReleaseError::NotRunning(_)
                    | ReleaseError::Timeout(_)
                    | ReleaseError::NoLease(_),
                ) => Consent::Silent,
                Err(e) => {
                    tracing::warn!(account = name.shown(), error = %e, "login refused");
                    Consent::Refused
                }
            }
        };
        let claim = self
            .store
            .claim_account(name, cluster.node(), now_ms(), ask);
        // Bounded as a whole: no transaction is open while the other node is asked, so a
        // claim dropped here leaves nothing behind.
        match tokio::time::timeout(CLAIM_DEADLINE, claim).await {
            Ok(Ok(Claimed::Yes { gen, from })) => Ok((gen, from.is_some())),
            Ok(Ok(Claimed::Refused)) => {
                tracing::debug!(
                    account = name.shown(),
                    "login refused: the node holding it did not let it go (or its lease runs)"
                );
                Err(unavailable)
            }
            Ok(Err(e)) => {
                tracing::warn!(account = name.shown(), error = %e, "login refused: claim");
                Err(unavailable)
            }
            Err(_) => {
                tracing::warn!(account = name.shown(), "login refused: claim took too long");
                Err(unavailable)
            }
        }
    }

    /// Whether this node's logged-in players may play now: always, except in a cluster
    /// whose bus this node no longer hears itself on, where another node may take their
    /// accounts over (see `ClusterNode::on_bus`). Asked per input of a logged-in player.
    pub fn may_play(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.on_bus())
            && self.lease.as_ref().is_none_or(|l| l.fresh())
    }

    /// How many times this node's lease has run out (0 outside a cluster).
    fn lease_epoch(&self) -> u64 {
        self.lease.as_ref().map_or(0, |l| l.epoch())
    }

    /// Closes the database's connections (at shutdown, after the last save and the lease).
    pub async fn close_store(&self) {
        self.store.close().await;
    }

    /// Waits (at most `wait`) until this node holds its lease, in a cluster: a node takes
    /// logins only then. False if it still does not.
    pub async fn hold_lease(&self, wait: Duration) -> bool {
        let Some(lease) = &self.lease else {
            return true;
        };
        let deadline = Instant::now() + wait;
        while !lease.fresh() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Closes the sessions and takes out of the game the seats of characters whose saves
    /// the database refused (another claim holds their accounts: `Online::fenced`).
    pub fn close_evicted(&self) {
        let evicted = lock(&self.online).take_evicted();
        for (session, parked) in evicted {
            self.stats.replaced.fetch_add(1, Ordering::Relaxed);
            drop_stale(session, parked, "another node holds this account now");
        }
    }

    /// Closes every logged-in session here (this node was cut from the cluster's bus: another
    /// node may take any of these characters over now); their characters leave and are
    /// saved as after any leave.
    pub fn close_all(&self, why: &str) {
        let playing = lock(&self.online).playing_sessions();
        for session in playing {
            session.disconnect(CloseReason::ApplicationError(why.to_owned()));
        }
    }

    /// Lets account `key`'s character go for a login on another node (see `claims.rs`).
    async fn let_go(&self, key: &str, asked: ClaimGen) -> Result<(), String> {
        let _one_at_a_time = tokio::time::timeout(RELEASE_LOCK_WAIT, self.stripe(key).lock())
            .await
            .map_err(|_| "a login of the account is in progress here".to_owned())?;
        let kicked = lock(&self.online).kick(key, asked).map_err(|stale| {
            format!(
                "claimed here again since (generation {} > {asked})",
                stale.held
            )
        })?;
        let Some((playing, parked)) = kicked else {
            return Ok(()); // not here (any more): nothing to close or save
        };
        if let Some(session) = playing {
            self.stats.replaced.fetch_add(1, Ordering::Relaxed);
            // Once its own S_Login (perhaps still queued) is written, as for a replace here.
            close_when_sent(
                session,
                CloseReason::ApplicationError("logged in on another node".into()),
            );
        }
        if let Some(mut parked) = parked {
            parked.seat.leave(parked.player_id);
            parked.seat.forget();
        }
        self.saver.wake();
        let deadline = Instant::now() + DB_TIMEOUT;
        let mut polls = 0u32;
        while lock(&self.online).holds(key) {
            if Instant::now() >= deadline {
                return Err("its last state was not saved in time".to_owned());
            }
            polls += 1;
            if polls % 10 == 0 {
                // Moves the closing session applied after the kick: saved now, not at the
                // next checkpoint.
                lock(&self.online).requeue_left(key);
                self.saver.wake();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Checks a login and claims its character for `session`; the older session of the
    /// account, if any, is closed. The account's lock comes back with the grant: the caller
    /// answers and lets the character in before the next login of the account may claim it,
    /// so every login that passed is told so before a newer one can close it.
    async fn check(
        &self,
        session: &Arc<Session>,
        credentials: &Credentials,
    ) -> Result<(Granted, tokio::sync::MutexGuard<'_, ()>), Refused> {
        let name =
            AccountName::parse(credentials.name()).map_err(|_| (LoginResult::BadName, None))?;
        let proof = match credentials {
            Credentials::Password(packet) => {
                check_password(&packet.password).map_err(|_| (LoginResult::BadPassword, None))?;
                if packet.create {
                    Proof::Create(&packet.password)
                } else {
                    Proof::Password(&packet.password)
                }
            }
            Credentials::Token(packet) => Proof::Token(
                PresentedToken::parse(&packet.token).map_err(|_| (LoginResult::BadToken, None))?,
            ),
        };
        let address = session.peer_addr().ip();
        let now = Instant::now();
        let key = name.key().to_owned();
        // Each attempt takes a token of both throttles before its password is checked (so
        // parallel guesses cannot all pass on one), and gives them back unless it failed.
        lock(&self.by_account)
            .begin(&key, now)
            .map_err(|wait| (LoginResult::Throttled, Some(wait)))?;
        // Loopback is exempt when the connection limits exempt it: local load tests, and a
        // proxy on the same host through which every player shares one address.
        let by_address = !(self.exempt_loopback && address.is_loopback());
        if by_address {
            if let Err(wait) = lock(&self.by_address).begin(&address, now) {
                lock(&self.by_account).refund(&key);
                return Err((LoginResult::Throttled, Some(wait)));
            }
        }
        // A token login's token, used up: given back if the login fails after this.
        let mut used_token = None;
        let checked = match &proof {
            Proof::Create(password) => self.create(&name, password).await,
            Proof::Password(password) => self.verify(&name, password).await,
            Proof::Token(token) => self.redeem(&name, token).await.map(|(name, used)| {
                used_token = Some(used);
                name
            }),
        };
        let name = match checked {
            Ok(name) => {
                lock(&self.by_account).succeeded(&key);
                if by_address {
                    lock(&self.by_address).refund(&address);
                }
                name
            }
            Err(refused @ (LoginResult::WrongCredentials | LoginResult::BadToken, _)) => {
                return Err(refused)
            }
            Err(refused) => {
                lock(&self.by_account).refund(&key);
                if by_address {
                    lock(&self.by_address).refund(&address);
                }
                return Err(refused);
            }
        };

        // One login of this account at a time from here: claim, or load and insert. The
        // turn is waited for at most TURN_WAIT: each login before it is bounded, but a queue
        // of them is not.
        let Ok(one_at_a_time) =
            tokio::time::timeout(TURN_WAIT, self.stripe(name.key()).lock()).await
        else {
            self.give_token_back(&name, used_token).await;
            return Err((LoginResult::Unavailable, Some(RETRY_UNAVAILABLE)));
        };
        if session.is_closed() {
            // Given up while it waited its turn: it must not take the account from anyone.
            self.give_token_back(&name, used_token).await;
            return Err((LoginResult::NotNow, None));
        }
        // The lease's epoch before the claim: if the lease runs out before this login is in
        // (its sessions were closed meanwhile), the login is undone below.
        let epoch = self.lease_epoch();
        lock(&self.online).set_claiming(name.key(), true);
        let fence = match self.claim_in_cluster(&name).await {
            // Taken from another node: what this node may still hold of the character from
            // an earlier claim (a leave it could not save while cut off, a session that
            // should have closed) is older than what that node saved. It goes, and the
            // character is loaded.
            Ok((fence, true)) => {
                let stale = lock(&self.online).evict(name.key());
                if let Some((session, parked)) = stale {
                    drop_stale(session, parked, "logged in again on another node");
                }
                fence
            }
            Ok((fence, false)) => fence,
            Err(refused) => {
                lock(&self.online).set_claiming(name.key(), false);
                self.give_token_back(&name, used_token).await;
                return Err(refused);
            }
        };
        let claimed = {
            let mut online = lock(&self.online);
            let claimed = online.claim(&name, session.id(), Arc::clone(session));
            online.set_fence(name.key(), fence);
            claimed
        };
        let (character, pos, resumed) = match claimed {
            Claim::Found {
                character,
                replaced,
                resumed,
            } => {
                if let Some(older) = replaced {
                    self.stats.replaced.fetch_add(1, Ordering::Relaxed);
                    replace(older);
                }
                let pos = character.state().pos;
                (character, Some(pos), resumed)
            }
            Claim::Absent => {
                let saved = match db(self.store.character(&name)).await {
                    Ok(saved) => saved,
                    Err(refused) => {
                        self.give_token_back(&name, used_token).await;
                        return Err(refused);
                    }
                };
                let (character, pos) = match saved {
                    Some(record) if record.pos.iter().all(|c| c.is_finite()) => (
                        LiveCharacter::new(record.pos, 0, record.created_ms)
                            .with_stats(record.stats),
                        Some(record.pos),
                    ),
                    saved => {
                        if saved.is_some() {
                            tracing::warn!(
                                account = name.shown(),
                                "saved position not finite; starting over"
                            );
                        }
                        // New: dirty from the start (version 1, nothing saved), so the first
                        // checkpoint writes it.
                        let start = match self.place {
                            Place::Room => Some([0.0; 3]),
                            Place::World => None,
                        };
                        (
                            LiveCharacter::new(start.unwrap_or([0.0; 3]), 1, now_ms()),
                            start,
                        )
                    }
                };
                if !self.may_play() {
                    // Cut from the bus, or the lease ran out, while it loaded: another node
                    // may take it over now.
                    self.give_token_back(&name, used_token).await;
                    return Err((LoginResult::Unavailable, Some(RETRY_UNAVAILABLE)));
                }
                let character = Arc::new(character);
                let older = lock(&self.online).insert(
                    name.clone(),
                    session.id(),
                    Arc::clone(session),
                    Arc::clone(&character),
                    0,
                    fence,
                );
                if let Some(older) = older {
                    // Cannot happen while logins of one account take turns; close it anyway
                    // rather than let two sessions play one character.
                    replace(older);
                }
                (character, pos, None)
            }
        };
        if !self.may_play() || self.lease_epoch() != epoch {
            // The lease ran out (and `close_all` ran) while this login was on its way: it
            // was not covered all along, so it is undone like any leave.
            if lock(&self.online).release(name.key(), session.id()) {
                self.saver.wake();
            }
            if let Some(mut parked) = resumed {
                parked.seat.leave(parked.player_id);
                parked.seat.forget();
            }
            self.give_token_back(&name, used_token).await;
            return Err((LoginResult::Unavailable, Some(RETRY_UNAVAILABLE)));
        }
        // The next login's token; a client told none (the write failed) logs in with its
        // password next time.
        let now = now_ms();
        let ttl = i64::try_from(self.token_ttl.as_millis()).unwrap_or(i64::MAX);
        let issued = IssuedToken::new(now, ttl);
        let token = match db(self.store.touch_login(&name, now, &issued.stored)).await {
            Ok(()) => issued.sent,
            Err(_) => {
                tracing::debug!(account = name.shown(), "login token not stored; none sent");
                String::new()
            }
        };
        Ok((
            Granted {
                name,
                character,
                pos,
                resumed,
                token,
            },
            one_at_a_time,
        ))
    }

    async fn create(&self, name: &AccountName, password: &str) -> Result<AccountName, Refused> {
        // A taken name is answered before any hashing: a client that creates on first use
        // and logs in on "taken" then costs one hash per login, not two. (The insert below
        // still decides a race between two creates.)
        if db(self.store.account(name)).await?.is_some() {
            return Err((LoginResult::NameTaken, None));
        }
        let password = password.to_owned();
        let hash = self.hash(move || hash_password(&password)).await?;
        if db(self.store.create_account(name, &hash, now_ms())).await? {
            Ok(name.clone())
        } else {
            Err((LoginResult::NameTaken, None))
        }
    }

    async fn verify(&self, name: &AccountName, password: &str) -> Result<AccountName, Refused> {
        let row = db(self.store.account(name)).await?;
        // An unknown name costs a hash too, so the time taken does not tell it apart.
        let stored = row
            .as_ref()
            .map_or_else(|| dummy_hash().to_owned(), |r| r.password_hash.clone());
        let password = password.to_owned();
        let matches = self
            .hash(move || verify_password(&password, &stored))
            .await?;
        match row {
            Some(row) if matches => AccountName::parse(&row.name).map_err(|_| {
                tracing::error!(name = row.name, "stored account name breaks the rules");
                (LoginResult::Unavailable, Some(RETRY_UNAVAILABLE))
            }),
            // Its tokens of both throttles stay taken.
            _ => Err((LoginResult::WrongCredentials, None)),
        }
    }

    /// Checks `token` against the account's and uses it up.
    async fn redeem(
        &self,
        name: &AccountName,
        token: &PresentedToken,
    ) -> Result<(AccountName, StoredToken), Refused> {
        let row = db(self.store.account(name)).await?;
        let checked = token.check(row.as_ref().and_then(|r| r.token.as_ref()), now_ms());
        let (row, stored) = match (checked, row) {
            (Ok(()), Some(row)) => {
                let Some(stored) = row.token.clone() else {
                    return Err((LoginResult::BadToken, None));
                };
                (row, stored)
            }
            (Err(TokenError::Expired), _) => {
                tracing::debug!(account = name.shown(), "login token expired");
                return Err((LoginResult::BadToken, None));
            }
            // Its tokens of both throttles stay taken, as for a wrong password.
            _ => return Err((LoginResult::BadToken, None)),
        };
        // Another login may have used it since the read: one statement decides.
        if !db(self.store.use_token(name, &token.hash())).await? {
            return Err((LoginResult::BadToken, None));
        }
        let name = AccountName::parse(&row.name).map_err(|_| {
            tracing::error!(name = row.name, "stored account name breaks the rules");
            (LoginResult::Unavailable, Some(RETRY_UNAVAILABLE))
        })?;
        Ok((name, stored))
    }

    /// A token login that was refused after its token was used up (the database or another
    /// node away): the token is the account's again, so the client's retry with it works.
    async fn give_token_back(&self, name: &AccountName, used: Option<StoredToken>) {
        let Some(used) = used else {
            return;
        };
        if db(self.store.restore_token(name, &used)).await.is_err() {
            tracing::debug!(account = name.shown(), "used token not given back");
        }
    }

    /// Runs argon2 on the blocking pool once a hasher is free.
    async fn hash<T, E>(
        &self,
        work: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<T, Refused>
    where
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let busy = (LoginResult::Unavailable, Some(RETRY_UNAVAILABLE));
        let _permit = tokio::time::timeout(HASH_QUEUE_WAIT, self.hashers.acquire())
            .await
            .map_err(|_| busy)?
            .map_err(|_| busy)?;
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "password hash failed");
                Err(busy)
            }
            Err(_) => Err(busy),
        }
    }

    /// A session that played a character stopped: its last state is saved now.
    pub fn release(&self, key: &str, session: u64) {
        if lock(&self.online).release(key, session) {
            self.saver.wake();
        }
    }

    /// A session that played a character lost its connection: the character stays in the
    /// game, parked, for the reconnect grace; a login within it takes it back, else it
    /// leaves then and is saved. `Err` gives the seat back when there is no grace or the
    /// session no longer plays the account: the caller lets it leave at once.
    pub fn park(self: &Arc<Self>, key: &str, session: u64, parked: Parked) -> Result<(), Parked> {
        let Some(grace) = self.reconnect_grace else {
            return Err(parked);
        };
        let token = lock(&self.online).park(key, session, parked)?;
        self.stats.parked.fetch_add(1, Ordering::Relaxed);
        let accounts = Arc::clone(self);
        let key = key.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let expired = lock(&accounts.online).unpark(&key, token);
            if let Some(mut parked) = expired {
                accounts.stats.expired.fetch_add(1, Ordering::Relaxed);
                parked.seat.leave(parked.player_id);
                parked.seat.forget();
                accounts.saver.wake();
            }
        });
        Ok(())
    }
}

impl ReleaseHere for Accounts {
    fn answering(&self) -> Answering {
        match &self.lease {
            None => Answering::Yes,
            Some(lease) if lease.usurped() => Answering::Silent,
            Some(lease) if !lease.fresh() => Answering::NoLease,
            Some(_) => Answering::Yes,
        }
    }

    fn release_here(
        self: Arc<Self>,
        key: String,
        asked: ClaimGen,
    ) -> futures_util::future::BoxFuture<'static, Result<(), String>> {
        Box::pin(async move { self.let_go(&key, asked).await })
    }
}

/// Closes a session of a character this node no longer holds, and takes its parked seat
/// (if any) out of the game. Its leave saves nothing: its slot is gone.
fn drop_stale(session: Option<Arc<Session>>, parked: Option<Parked>, why: &str) {
    if let Some(session) = session {
        session.disconnect(CloseReason::ApplicationError(why.to_owned()));
    }
    if let Some(mut parked) = parked {
        parked.seat.leave(parked.player_id);
        parked.seat.forget();
    }
}

/// Closes a session whose account logged in elsewhere, once what it was sent (its own
/// `S_Login`, perhaps still queued) is written.
fn replace(older: Arc<Session>) {
    close_when_sent(
        older,
        CloseReason::ApplicationError("logged in elsewhere".into()),
    );
}

/// A database call behind [`DB_TIMEOUT`]; a failure refuses the login as `Unavailable`.
async fn db<T>(
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, Refused> {
    let unavailable = (LoginResult::Unavailable, Some(RETRY_UNAVAILABLE));
    match tokio::time::timeout(DB_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "login refused: database error");
            Err(unavailable)
        }
        Err(_) => {
            tracing::warn!("login refused: database did not answer in time");
            Err(unavailable)
        }
    }
}

/// A hash of nothing anyone can type, made once, verified against for unknown names.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("\u{0}no account has this password\u{0}")
            .unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned())
    })
}

/// One connection's way in, shared by its session and its login or grace task.
pub(crate) struct Lobby {
    pub door: Door,
    /// The seat, until the session takes it back to play.
    pub seat: Option<Seat>,
    /// The account this connection plays, once its login passed.
    pub account: Option<String>,
    /// The player id of a parked character this connection took back (its own id is then
    /// not used): the session adopts it with the seat.
    pub player_id: Option<i32>,
}

/// Sends a refusal's `S_Login`.
pub(crate) fn answer(
    session: &Session,
    result: LoginResult,
    player_id: i32,
    retry: Option<Duration>,
) {
    send_answer(session, result, player_id, retry, String::new());
}

/// Sends the `S_Login` of a login that passed, with the account's next token.
fn welcome(session: &Session, player_id: i32, token: String) {
    send_answer(session, LoginResult::Ok, player_id, None, token);
}

fn send_answer(
    session: &Session,
    result: LoginResult,
    player_id: i32,
    retry: Option<Duration>,
    token: String,
) {
    let packet = SLogin {
        result: result.code(),
        player_id,
        retry_after_ms: retry.map_or(0, |d| i32::try_from(d.as_millis()).unwrap_or(i32::MAX)),
        token,
    };
    // A send that fails means the session is closing: nothing to tell.
    let _ = session.send_packet(&packet);
}

/// Closes `session` once what it has queued is written (at most [`CLOSE_LINGER`] later), so
/// the answer that says why reaches the client before the close does.
pub(crate) fn close_when_sent(session: Arc<Session>, reason: CloseReason) {
    tokio::spawn(async move {
        let deadline = Instant::now() + CLOSE_LINGER;
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if session.queued_bytes() == 0 || Instant::now() >= deadline {
                break;
            }
        }
        session.disconnect(reason);
    });
}

/// Closes a world connection that took its character back but got no player list within
/// [`REJOIN_DEADLINE`]: its owner region never answered the rejoin (it should within a
/// tick), and a client left without a view would stand frozen.
fn watch_rejoin(link: Arc<WorldLink>, session: Arc<Session>) {
    tokio::spawn(async move {
        tokio::time::sleep(REJOIN_DEADLINE).await;
        if !link.listed() && !session.is_closed() {
            tracing::warn!(
                session = session.id(),
                "rejoin not answered by the region; closing"
            );
            session.disconnect(CloseReason::ApplicationError(
                "the world did not take the character back in time".into(),
            ));
        }
    });
}

/// After the grace (optional mode), a connection that said nothing plays as a guest; after
/// the deadline (required mode), one not logged in is closed.
pub(crate) fn start_timer(
    accounts: &Accounts,
    lobby: Arc<Mutex<Lobby>>,
    session: Arc<Session>,
    player_id: i32,
) {
    let wait = match accounts.mode {
        LoginMode::Required => LOGIN_DEADLINE,
        _ => accounts.guest_grace,
    };
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let mut lobby = lock(&lobby);
        match lobby.door.timer() {
            Step::Guest => {
                let entered = match lobby.seat.as_mut() {
                    Some(seat) => seat.enter(player_id, &session, None, None),
                    None => Err("no seat".to_owned()),
                };
                if let Err(reason) = entered {
                    lobby.door.close();
                    session.disconnect(CloseReason::ApplicationError(reason));
                }
            }
            Step::Close => {
                session.disconnect(CloseReason::ApplicationError(
                    "not logged in within 10 s (--login required)".into(),
                ));
            }
            _ => {}
        }
    });
}

/// Checks a login on its own task; on success lets the character in.
pub(crate) fn start_login(
    accounts: Arc<Accounts>,
    lobby: Arc<Mutex<Lobby>>,
    session: Arc<Session>,
    player_id: i32,
    credentials: Credentials,
) {
    tokio::spawn(async move {
        let result = accounts.check(&session, &credentials).await;
        let mut lobby = lock(&lobby);
        match result {
            Ok((granted, _account_lock)) => {
                let key = granted.name.key().to_owned();
                let enterable = granted.resumed.is_some()
                    || lobby
                        .seat
                        .as_ref()
                        .is_none_or(|seat| seat.can_enter(player_id, granted.pos));
                if !enterable {
                    // Its region's node is not alive (a cluster): refused before anything is
                    // answered, rather than told 0 and closed by a refused enter.
                    lobby.door.checked(false);
                    drop(lobby);
                    accounts.release(&key, session.id());
                    accounts.stats.count(LoginResult::Unavailable);
                    answer(
                        &session,
                        LoginResult::Unavailable,
                        0,
                        Some(RETRY_UNAVAILABLE),
                    );
                    return;
                }
                if !lobby.door.checked(true) {
                    // Closed while it was checked: give the character back to be saved
                    // (a parked one leaves the game first).
                    drop(lobby);
                    if let Some(mut parked) = granted.resumed {
                        parked.seat.leave(parked.player_id);
                        parked.seat.forget();
                    }
                    accounts.release(&key, session.id());
                    return;
                }
                accounts.stats.count(LoginResult::Ok);
                if let Some(parked) = granted.resumed {
                    resume(&accounts, &mut lobby, &session, key, parked, granted.token);
                    return;
                }
                welcome(&session, player_id, granted.token);
                let entered = match lobby.seat.as_mut() {
                    Some(seat) => {
                        seat.enter(player_id, &session, granted.pos, Some(granted.character))
                    }
                    None => Err("no seat".to_owned()),
                };
                match entered {
                    Ok(()) => lobby.account = Some(key),
                    Err(reason) => {
                        lobby.door.close();
                        drop(lobby);
                        accounts.release(&key, session.id());
                        session.disconnect(CloseReason::ApplicationError(reason));
                    }
                }
            }
            Err((result, retry)) => {
                accounts.stats.count(result);
                if lobby.door.checked(false) || !session.is_closed() {
                    answer(&session, result, 0, retry);
                }
            }
        }
    });
}

/// A login took a parked character back: same player id, same place, no leave or enter for
/// the others. The session adopts the seat and the id from the lobby.
fn resume(
    accounts: &Accounts,
    lobby: &mut Lobby,
    session: &Arc<Session>,
    key: String,
    parked: Parked,
    token: String,
) {
    let Parked {
        player_id,
        mut seat,
    } = parked;
    welcome(session, player_id, token);
    match seat.rebind(player_id, session) {
        Ok(link) => {
            if let Some(link) = link {
                watch_rejoin(link, Arc::clone(session));
            }
            accounts.stats.resumed.fetch_add(1, Ordering::Relaxed);
            lobby.seat = Some(seat);
            lobby.player_id = Some(player_id);
            lobby.account = Some(key);
        }
        Err(reason) => {
            seat.leave(player_id);
            seat.forget();
            lobby.door.close();
            accounts.release(&key, session.id());
            session.disconnect(CloseReason::ApplicationError(reason));
        }
    }
}
