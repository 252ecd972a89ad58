//! `Seat`: where a session's player sits, the course's one room or a region of the world.
//! The session pushes the same three things either way (enter, inputs, leave); the seat
//! turns them into the jobs of its mode.

use std::sync::Arc;

use server_core::Session;

use crate::game::room::RoomJob;
use crate::game::saves::LiveCharacter;
use crate::game::world::PlayerInput;
use crate::runtime::job_queue::{JobQueue, QueueFull};
use crate::runtime::world::{World, WorldLink, WorldSeat};

/// What the server runs: one room (the course's default) or a world of regions.
pub(crate) enum Game {
    Room(JobQueue<RoomJob<Arc<Session>>>),
    World(Arc<World>),
}

impl Game {
    pub fn seat(&self) -> Seat {
        match self {
            Game::Room(queue) => Seat::Room(queue.clone()),
            Game::World(world) => Seat::World(Box::new(world.seat())),
        }
    }

    /// The room's queue; `None` in world mode (UDP moves are room-mode only).
    pub fn room(&self) -> Option<&JobQueue<RoomJob<Arc<Session>>>> {
        match self {
            Game::Room(queue) => Some(queue),
            Game::World(_) => None,
        }
    }
}

/// One session's seat.
pub(crate) enum Seat {
    Room(JobQueue<RoomJob<Arc<Session>>>),
    World(Box<WorldSeat>),
}

impl Seat {
    /// Asks to let the player in: at `pos` (finite) or where the mode puts newcomers, and
    /// for a logged-in character with its state for the save task. The reason when it is
    /// refused (too many entries pending, or in a cluster the spawn region's process
    /// unreachable).
    pub fn enter(
        &mut self,
        player_id: i32,
        session: &Arc<Session>,
        pos: Option<[f32; 3]>,
        character: Option<Arc<LiveCharacter>>,
    ) -> Result<(), String> {
        match self {
            Seat::Room(room) => {
                let outbox = Arc::clone(session);
                let job = match character {
                    None => RoomJob::Enter { player_id, outbox },
                    Some(character) => RoomJob::EnterAt {
                        player_id,
                        outbox,
                        pos: pos.unwrap_or([0.0; 3]),
                        character,
                    },
                };
                room.try_push_control(job)
                    .map_err(|_| "room is full of pending entries".to_owned())
            }
            Seat::World(seat) => seat
                .enter(player_id, Arc::clone(session), pos, character)
                .map_err(|e| e.to_string()),
        }
    }

    /// Whether an enter at `pos` (or where the mode puts newcomers) can be taken now: always
    /// in the room; in the world, if the region's node is alive.
    pub fn can_enter(&self, player_id: i32, pos: Option<[f32; 3]>) -> bool {
        match self {
            Seat::Room(_) => true,
            Seat::World(seat) => seat.can_enter(player_id, pos),
        }
    }

    /// Takes a parked player (its connection dropped, its character still in the game) back
    /// over `session`: the others see nothing. In world mode, the new link, whose player
    /// list the caller may watch for (`WorldLink::listed`).
    pub fn rebind(
        &mut self,
        player_id: i32,
        session: &Arc<Session>,
    ) -> Result<Option<Arc<WorldLink>>, String> {
        match self {
            Seat::Room(room) => room
                .try_push_control(RoomJob::Rebind {
                    player_id,
                    outbox: Arc::clone(session),
                })
                .map(|()| None)
                .map_err(|_| "room is full of pending entries".to_owned()),
            Seat::World(seat) => seat.rebind(Arc::clone(session)).map(Some),
        }
    }

    /// Pushes an input; refused when the player's room or region is full.
    pub fn input(&mut self, player_id: i32, input: PlayerInput) -> Result<(), QueueFull<()>> {
        match self {
            Seat::Room(room) => {
                let job = match input {
                    PlayerInput::Move { pos } => RoomJob::Move { player_id, pos },
                    PlayerInput::Chat { message } => RoomJob::Chat { player_id, message },
                    // Only a cluster's bridge makes the first, and only a world's rejoin the
                    // second (the room takes a player back with `RoomJob::Rebind`).
                    PlayerInput::Skipped | PlayerInput::Rejoin => return Ok(()),
                };
                room.try_push(job).map_err(|_| QueueFull(()))
            }
            Seat::World(seat) => seat.input(input),
        }
    }

    /// Takes the player out (always admitted); false if the game already stopped.
    pub fn leave(&mut self, player_id: i32) -> bool {
        match self {
            Seat::Room(room) => room.push_follow_up(RoomJob::Leave { player_id }).is_ok(),
            Seat::World(seat) => seat.leave(),
        }
    }

    /// The session is gone.
    pub fn forget(&mut self) {
        if let Seat::World(seat) = self {
            seat.forget();
        }
    }
}
