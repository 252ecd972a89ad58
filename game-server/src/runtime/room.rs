//! The course's room on its job queue's thread: the room's rules (`crate::game::room`) run
//! one job at a time, and flush on every tick.

use std::time::Instant;

use crate::game::outbox::Outbox;
use crate::game::room::{GameRoom, RoomJob};
use crate::runtime::job_queue::JobRunner;

impl<O: Outbox> JobRunner for GameRoom<O> {
    type Job = RoomJob<O>;

    fn run(&mut self, job: RoomJob<O>) {
        GameRoom::run(self, job);
    }

    fn tick(&mut self, _now: Instant) {
        GameRoom::tick(self);
    }
}
