//! `Online`: the accounts whose characters are in play or not yet saved since they left.
//! Sans-IO plain data behind the server's lock; the login task and the save task drive it.
//!
//! - **One session per account.** [`Online::claim`] gives an account's character to a new
//!   session and hands back the older session's handle, for the caller to close it.
//! - **The newest state wins.** A character stays here after it leaves until its last state
//!   is saved. A login in between takes it from here, not from the database, so it never
//!   loads a row that a save in flight is about to overwrite.
//! - **Nothing is written twice.** Each slot knows the version the database holds; the save
//!   task asks only for what changed since.
//! - **A dropped connection parks its character.** [`Online::park`] keeps the character in
//!   the world with no session, holding what the caller needs to take it back (`P`: its seat
//!   and player id). A login within the grace gets it back from [`Online::claim`], the same
//!   character in the same place; after the grace [`Online::unpark`] hands it to the caller
//!   to leave, and it is saved like any leave.

use std::collections::HashMap;
use std::sync::Arc;

use crate::game::accounts::AccountName;
use crate::game::saves::{LiveCharacter, LiveState};

/// The session that plays a character, and what closes it.
#[derive(Debug, Clone)]
pub struct Owner<H> {
    /// The session's id.
    pub session: u64,
    /// What the caller closes it with when another session takes the character.
    pub handle: H,
}

#[derive(Debug)]
struct Slot<H, P> {
    name: AccountName,
    owner: Option<Owner<H>>,
    /// A parked character: still in the world, no session; its parking's token and what
    /// takes it back.
    parked: Option<(u64, P)>,
    character: Arc<LiveCharacter>,
    /// The highest version the database holds.
    saved: u64,
    /// In a cluster: the generation of this node's claim on the account (0 outside one).
    /// Saves carry it, and only a save under it counts as this character's.
    fence: i64,
    /// A login here is claiming the account anew: the database's generation may already
    /// be past `fence`, so a save refused meanwhile says nothing about this slot.
    claiming: bool,
}

impl<H, P> Slot<H, P> {
    /// Nobody plays it and it is not in the world: only its last save keeps it here.
    fn is_left(&self) -> bool {
        self.owner.is_none() && self.parked.is_none()
    }
}

/// What [`Online::claim`] found.
#[derive(Debug)]
pub enum Claim<H, P> {
    /// The character is here (in play, parked, or saving after a leave): the new session
    /// plays this state; `replaced` is the session that played it until now, if any.
    Found {
        /// The state the new session plays.
        character: Arc<LiveCharacter>,
        /// The older session, to be closed.
        replaced: Option<H>,
        /// A parked character: still in the world, to be taken back rather than entered.
        resumed: Option<P>,
    },
    /// Not here: load it from the database and [`Online::insert`] it.
    Absent,
}

/// A character that changed since its last save.
#[derive(Debug, Clone)]
pub struct Dirty {
    /// Whose.
    pub name: AccountName,
    /// Its state now.
    pub state: LiveState,
    /// When it was made.
    pub created_ms: i64,
    /// True when no session plays it any more (saved at once, not at the checkpoint).
    pub left: bool,
    /// The claim it is played under (see `Slot::fence`).
    pub fence: i64,
}

/// Sessions and parked seats of characters this node no longer holds: the caller closes
/// the sessions and takes the seats out of the game.
pub type Evicted<H, P> = (Option<H>, Option<P>);

/// [`Online::kick`] refused: the account was claimed here again after the generation the
/// asking node read, so its question is stale and the character stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleAsk {
    /// The generation this node holds the account at.
    pub held: i64,
}

/// Accounts in play, parked, or waiting for their last save, by name key.
#[derive(Debug)]
pub struct Online<H, P = ()> {
    slots: HashMap<String, Slot<H, P>>,
    /// Keys released since the save task last looked.
    left: Vec<String>,
    /// Characters whose claim moved on while they played here (see [`Online::fenced`]).
    evicted: Vec<Evicted<H, P>>,
    next_token: u64,
}

impl<H, P> Default for Online<H, P> {
    fn default() -> Self {
        Online {
            slots: HashMap::new(),
            left: Vec::new(),
            evicted: Vec::new(),
            next_token: 1,
        }
    }
}

impl<H: Clone, P> Online<H, P> {
    /// Gives `name`'s character to `session` if it is here. The character continues from
    /// its state now in a fresh [`LiveCharacter`]: the older session's room or region may
    /// still apply a move or two before its leave, and those go to the old one, unseen.
    pub fn claim(&mut self, name: &AccountName, session: u64, handle: H) -> Claim<H, P> {
        let Some(slot) = self.slots.get_mut(name.key()) else {
            return Claim::Absent;
        };
        if let Some((_, resumed)) = slot.parked.take() {
            // Still in the world and nobody else writes to it: the same character, taken
            // back where it stands.
            slot.owner = Some(Owner { session, handle });
            return Claim::Found {
                character: Arc::clone(&slot.character),
                replaced: None,
                resumed: Some(resumed),
            };
        }
        let state = slot.character.state();
        let character = Arc::new(
            LiveCharacter::new(state.pos, state.version, slot.character.created_ms())
                .with_stats(state.stats),
        );
        slot.character = Arc::clone(&character);
        let replaced = slot
            .owner
            .replace(Owner { session, handle })
            .map(|owner| owner.handle);
        Claim::Found {
            character,
            replaced,
            resumed: None,
        }
    }

    /// Puts a character loaded from the database (or new) in play for `session`. `saved` is
    /// the version the database holds (0 for a character it has never seen). The caller
    /// checked [`Online::claim`] first and holds the account against other logins; were the
    /// account here all the same, its older session is handed back like a claim's.
    pub fn insert(
        &mut self,
        name: AccountName,
        session: u64,
        handle: H,
        character: Arc<LiveCharacter>,
        saved: u64,
        fence: i64,
    ) -> Option<H> {
        let key = name.key().to_owned();
        let slot = Slot {
            name,
            owner: Some(Owner { session, handle }),
            parked: None,
            character,
            saved,
            fence,
            claiming: false,
        };
        self.slots
            .insert(key, slot)
            .and_then(|old| old.owner.map(|o| o.handle))
    }

    /// `session` stopped playing `key`'s character (it left, or its connection dropped); false
    /// if another session had taken it, which then goes on playing it.
    pub fn release(&mut self, key: &str, session: u64) -> bool {
        let Some(slot) = self.slots.get_mut(key) else {
            return false;
        };
        if slot.owner.as_ref().is_none_or(|o| o.session != session) {
            return false;
        }
        slot.owner = None;
        self.left.push(key.to_owned());
        true
    }

    /// `session`'s connection dropped: its character stays in the world, parked with
    /// `parked`, until [`Online::claim`] takes it back or [`Online::unpark`] ends it. The
    /// token names this parking to `unpark`. `Err(parked)` if `session` no longer plays the
    /// account (another session took it): the caller lets it leave.
    pub fn park(&mut self, key: &str, session: u64, parked: P) -> Result<u64, P> {
        let Some(slot) = self
            .slots
            .get_mut(key)
            .filter(|s| s.owner.as_ref().is_some_and(|o| o.session == session))
        else {
            return Err(parked);
        };
        let token = self.next_token;
        self.next_token += 1;
        slot.owner = None;
        slot.parked = Some((token, parked));
        Ok(token)
    }

    /// The grace of parking `token` ended: if the character is still parked there, it is
    /// handed back to leave the world, and saved as a leave.
    pub fn unpark(&mut self, key: &str, token: u64) -> Option<P> {
        let slot = self.slots.get_mut(key)?;
        if slot.parked.as_ref().is_none_or(|(t, _)| *t != token) {
            return None;
        }
        let (_, parked) = slot.parked.take()?;
        self.left.push(key.to_owned());
        Some(parked)
    }

    /// Another node of the cluster logs in to `key`, having read the account's claim at
    /// generation `asked`: its session (to close) and its parked seat (to leave the world)
    /// come back, and the character stays only until its last state is saved, as after a
    /// leave. `Ok(None)` if it is not here; `Err` if this node claimed it again after
    /// `asked` (the question is stale: the asker's claim will fail, and this one plays on).
    pub fn kick(&mut self, key: &str, asked: i64) -> Result<Option<Evicted<H, P>>, StaleAsk> {
        let Some(slot) = self.slots.get_mut(key) else {
            return Ok(None);
        };
        if slot.fence > asked {
            return Err(StaleAsk { held: slot.fence });
        }
        let owner = slot.owner.take().map(|o| o.handle);
        let parked = slot.parked.take().map(|(_, p)| p);
        self.left.push(key.to_owned());
        Ok(Some((owner, parked)))
    }

    /// A login here starts claiming `key` in the database (`true`), or has finished
    /// (`false`; then [`Online::set_fence`] if it won). Meanwhile a refused save of the
    /// slot evicts nothing (see `Slot::claiming`).
    pub fn set_claiming(&mut self, key: &str, claiming: bool) {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.claiming = claiming;
        }
    }

    /// This node claimed `key` at generation `fence` (the slot found by [`Online::claim`]
    /// plays under it from now on).
    pub fn set_fence(&mut self, key: &str, fence: i64) {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.fence = fence;
            slot.claiming = false;
        }
    }

    /// Puts `key` back on the list of leaves to save if nobody plays it and it changed
    /// since its last save (a kicked session's moves after its kick): the save task writes
    /// its newest state at once, not at the next checkpoint.
    pub fn requeue_left(&mut self, key: &str) {
        if self.slots.get(key).is_some_and(Slot::is_left) && !self.left.iter().any(|k| k == key) {
            self.left.push(key.to_owned());
        }
    }

    /// This node took `key` from another node: whatever it still holds of the character
    /// is from an earlier claim (a leave it could not save, a session that should have
    /// closed) and older than what that node saved. The slot goes; its session and parked
    /// seat come back for the caller to close and take out of the game.
    pub fn evict(&mut self, key: &str) -> Option<Evicted<H, P>> {
        let slot = self.slots.remove(key)?;
        Some((slot.owner.map(|o| o.handle), slot.parked.map(|(_, p)| p)))
    }

    /// A save of `key` under claim `fence` was refused by the database: another claim holds
    /// the account now. If the character here still plays under that claim, it must stop:
    /// its session and seat go to [`Online::take_evicted`] and the slot goes.
    pub fn fenced(&mut self, key: &str, fence: i64) {
        if self
            .slots
            .get(key)
            .is_some_and(|slot| slot.fence == fence && !slot.claiming)
        {
            if let Some(evicted) = self.evict(key) {
                self.evicted.push(evicted);
            }
        }
    }

    /// Sessions and seats [`Online::fenced`] took away since the last call.
    pub fn take_evicted(&mut self) -> Vec<Evicted<H, P>> {
        std::mem::take(&mut self.evicted)
    }

    /// The sessions playing a character now.
    pub fn playing_sessions(&self) -> Vec<H>
    where
        H: Clone,
    {
        self.slots
            .values()
            .filter_map(|s| s.owner.as_ref().map(|o| o.handle.clone()))
            .collect()
    }

    /// Whether `key` is still held (in play, or left and not yet saved).
    pub fn holds(&self, key: &str) -> bool {
        self.slots.contains_key(key)
    }

    /// The keys released since the last call, each with its state if it changed since its
    /// last save; a released character with nothing to save is dropped here.
    pub fn take_left(&mut self) -> Vec<Dirty> {
        let keys = std::mem::take(&mut self.left);
        let mut dirty = Vec::with_capacity(keys.len());
        for key in keys {
            match self.dirty_of(&key) {
                Some(d) if d.left => dirty.push(d),
                Some(_) => {} // taken again since
                None => self.settle(&key),
            }
        }
        dirty
    }

    /// Every character that changed since its last save.
    pub fn all_dirty(&self) -> Vec<Dirty> {
        self.slots
            .keys()
            .filter_map(|key| self.dirty_of(key))
            .collect()
    }

    fn dirty_of(&self, key: &str) -> Option<Dirty> {
        let slot = self.slots.get(key)?;
        let state = slot.character.state();
        (state.version > slot.saved).then(|| Dirty {
            name: slot.name.clone(),
            state,
            created_ms: slot.character.created_ms(),
            left: slot.is_left(),
            fence: slot.fence,
        })
    }

    /// The database now holds `key`'s character at `version`, saved under claim `fence`.
    /// A save under another claim (an earlier one, still queued when the account came back
    /// here) says nothing of this slot's versions, which count from its own load. A
    /// character nobody plays and with nothing newer to save is done with and dropped.
    pub fn saved(&mut self, key: &str, version: u64, fence: i64) {
        if let Some(slot) = self.slots.get_mut(key).filter(|s| s.fence == fence) {
            slot.saved = slot.saved.max(version);
        }
        self.settle(key);
    }

    /// Drops `key` if nobody plays it, whether or not its last state was saved (a save lost
    /// to a full queue is counted there; the slot must not outlive it unbounded).
    pub fn forget_left(&mut self, key: &str) {
        if self.slots.get(key).is_some_and(Slot::is_left) {
            self.slots.remove(key);
        }
    }

    fn settle(&mut self, key: &str) {
        let done = self
            .slots
            .get(key)
            .is_some_and(|slot| slot.is_left() && slot.character.state().version <= slot.saved);
        if done {
            self.slots.remove(key);
        }
    }

    /// Accounts in play (parked ones included: they are in the world).
    pub fn playing(&self) -> usize {
        self.slots.values().filter(|s| !s.is_left()).count()
    }

    /// Accounts held: in play, or left and not yet saved.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> AccountName {
        AccountName::parse(s).expect("valid name")
    }

    fn new_character(x: f32) -> Arc<LiveCharacter> {
        Arc::new(LiveCharacter::new([x, 0.0, 0.0], 1, 5))
    }

    #[test]
    fn a_kick_from_another_node_hands_back_the_session_and_keeps_the_character_until_saved() {
        let mut online: Online<&str, &str> = Online::default();
        let c = new_character(1.0);
        online.insert(name("Away"), 1, "s1", Arc::clone(&c), 0, 0);
        c.set_pos([2.0, 0.0, 2.0]);
        assert_eq!(online.kick("away", 0), Ok(Some((Some("s1"), None))));
        assert!(online.holds("away"), "kept until its last state is saved");
        assert!(
            !online.release("away", 1),
            "the closing session releases nothing"
        );
        let left = online.take_left();
        assert_eq!(left.len(), 1);
        assert!(left[0].left);
        online.saved("away", left[0].state.version, 0);
        assert!(!online.holds("away"), "saved: let go");
        assert_eq!(online.kick("away", 0), Ok(None), "nothing here any more");

        let c = new_character(1.0);
        online.insert(name("Parked"), 2, "s2", Arc::clone(&c), 0, 0);
        online.park("parked", 2, "seat").expect("plays it");
        assert_eq!(online.kick("parked", 0), Ok(Some((None, Some("seat")))));
        assert_eq!(online.playing(), 0);
    }

    #[test]
    fn a_second_login_takes_the_character_from_where_the_first_left_it() {
        let mut online: Online<&str> = Online::default();
        let first = new_character(1.0);
        assert!(online
            .insert(name("Rookie"), 1, "s1", Arc::clone(&first), 0, 0)
            .is_none());
        first.set_pos([4.0, 0.0, 4.0]);
        let Claim::Found {
            character,
            replaced,
            ..
        } = online.claim(&name("ROOKIE"), 2, "s2")
        else {
            panic!("the account is in play");
        };
        assert_eq!(replaced, Some("s1"));
        assert_eq!(character.state().pos, [4.0, 0.0, 4.0]);
        // The old session's late move goes to its own copy, not the new session's.
        first.set_pos([9.0, 0.0, 9.0]);
        assert_eq!(character.state().pos, [4.0, 0.0, 4.0]);
        // The old session's disconnect does not release the new one's character.
        assert!(!online.release("rookie", 1));
        assert_eq!(online.playing(), 1);
    }

    #[test]
    fn a_character_stays_until_its_last_state_is_saved() {
        let mut online: Online<()> = Online::default();
        let c = new_character(1.0);
        online.insert(name("Ann"), 1, (), Arc::clone(&c), 0, 0);
        c.set_pos([2.0, 0.0, 0.0]);
        assert!(online.release("ann", 1));
        let left = online.take_left();
        assert_eq!(left.len(), 1);
        assert!(left[0].left);
        let version = left[0].state.version;
        // A login before the save lands finds it here, at its last position.
        assert!(matches!(
            online.claim(&name("ann"), 2, ()),
            Claim::Found { .. }
        ));
        assert!(online.release("ann", 2));
        online.saved("ann", version, 0);
        assert!(online.is_empty(), "saved and nobody plays it: dropped");
    }

    #[test]
    fn a_parked_character_is_taken_back_whole_or_leaves_when_its_grace_ends() {
        let mut online: Online<&str, &str> = Online::default();
        let c = new_character(1.0);
        online.insert(name("Dot"), 1, "s1", Arc::clone(&c), 0, 0);
        assert_eq!(
            online.park("dot", 9, "seat"),
            Err("seat"),
            "not its session"
        );
        let token = online.park("dot", 1, "seat").expect("parked");
        assert_eq!(online.playing(), 1, "still in the world");
        assert!(online.take_left().is_empty(), "not a leave");
        assert!(online.all_dirty().iter().all(|d| !d.left));
        let Claim::Found {
            character,
            replaced,
            resumed,
        } = online.claim(&name("Dot"), 2, "s2")
        else {
            panic!("parked characters are found");
        };
        assert!(
            Arc::ptr_eq(&character, &c),
            "the same character, still written"
        );
        assert_eq!((replaced, resumed), (None, Some("seat")));
        assert_eq!(
            online.unpark("dot", token),
            None,
            "taken back: the grace ends nothing"
        );
        // Parked again, and this time the grace runs out.
        let token = online.park("dot", 2, "seat2").expect("parked");
        assert_eq!(
            online.unpark("dot", token + 1),
            None,
            "another parking's token"
        );
        assert_eq!(online.unpark("dot", token), Some("seat2"));
        c.set_pos([3.0, 0.0, 0.0]);
        let left = online.take_left();
        assert_eq!(left.len(), 1);
        assert!(left[0].left);
        online.saved("dot", left[0].state.version, 0);
        assert!(online.is_empty());
    }

    #[test]
    fn a_character_that_did_not_change_is_dropped_at_its_leave_and_not_saved() {
        let mut online: Online<()> = Online::default();
        online.insert(name("Bo"), 1, (), new_character(0.0), 1, 0);
        assert!(online.all_dirty().is_empty());
        online.release("bo", 1);
        assert!(online.take_left().is_empty());
        assert!(online.is_empty());
    }

    #[test]
    fn a_save_of_an_older_version_keeps_the_newer_dirty() {
        let mut online: Online<()> = Online::default();
        let c = new_character(0.0);
        online.insert(name("Cy"), 1, (), Arc::clone(&c), 0, 0);
        let v1 = online.all_dirty()[0].state.version;
        c.set_pos([5.0, 0.0, 0.0]);
        online.release("cy", 1);
        online.saved("cy", v1, 0);
        assert_eq!(online.len(), 1, "the newer state is not saved yet");
        let left = online.take_left();
        assert_eq!(left[0].state.pos, [5.0, 0.0, 0.0]);
        online.saved("cy", left[0].state.version, 0);
        assert!(online.is_empty());
    }

    /// Issue 24's review (H3): the account went to another node and came back while a save
    /// of the earlier claim still waited here. That save counts for nothing in the new
    /// slot, whose versions count from its own load; a question from a node that read an
    /// older claim is refused; and a save the database fenced out stops the character only
    /// if it still plays under that claim.
    #[test]
    fn claims_fence_saves_questions_and_evictions() {
        let mut online: Online<&str, &str> = Online::default();
        let c = new_character(1.0);
        online.insert(name("Kim"), 1, "s1", Arc::clone(&c), 0, 7);
        for x in 2..60 {
            c.set_pos([x as f32, 0.0, 0.0]);
        }
        let dirty = online.all_dirty();
        assert_eq!(dirty[0].fence, 7, "saves carry the claim");
        let old_version = dirty[0].state.version;

        // Taken from another node, then back here under claim 9: the old slot goes.
        assert_eq!(online.evict("kim"), Some((Some("s1"), None)));
        let fresh = new_character(3.0);
        online.insert(name("Kim"), 2, "s2", Arc::clone(&fresh), 0, 9);
        fresh.set_pos([4.0, 0.0, 0.0]);
        online.saved("kim", old_version, 7);
        let dirty = online.all_dirty();
        assert_eq!(
            dirty.len(),
            1,
            "the old claim's save marks nothing saved here"
        );
        assert_eq!((dirty[0].fence, dirty[0].state.pos[0]), (9, 4.0));

        // A node that read claim 8 asks: stale, refused; one that read 9 is answered.
        assert_eq!(online.kick("kim", 8), Err(StaleAsk { held: 9 }));
        assert!(online.holds("kim"));

        // A re-login here is claiming anew: a save refused meanwhile evicts nothing.
        online.set_claiming("kim", true);
        online.fenced("kim", 9);
        assert!(online.take_evicted().is_empty() && online.holds("kim"));
        online.set_fence("kim", 10);
        online.fenced("kim", 9);
        assert!(online.take_evicted().is_empty(), "under claim 10 now");
        online.set_fence("kim", 9);
        // The database refused a save under claim 7: not this slot's, nothing happens.
        online.fenced("kim", 7);
        assert!(online.take_evicted().is_empty());
        // Under claim 9: the session here plays a claim that moved on; it must stop.
        online.fenced("kim", 9);
        assert_eq!(online.take_evicted(), vec![(Some("s2"), None)]);
        assert!(!online.holds("kim"));
        assert_eq!(online.kick("kim", 9), Ok(None));
    }
}
