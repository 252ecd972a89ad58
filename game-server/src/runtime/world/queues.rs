//! Every region's queue, as the world, each region's runner and each seat look one up.

use std::sync::{Arc, OnceLock};

use crate::game::world::geometry::RegionId;
use crate::game::world::message::RegionJob;
use crate::runtime::job_queue::JobQueue;

/// Region id -> its queue, `None` for a region another process runs. Set once, before the
/// first player enters (nothing can be pushed before `World::start` returns), then read
/// without a lock by every thread that holds a clone.
#[derive(Clone, Default)]
pub(crate) struct RegionQueues(Arc<OnceLock<Vec<Option<JobQueue<RegionJob>>>>>);

impl RegionQueues {
    /// Fills the table; a second call is ignored.
    pub fn set(&self, queues: Vec<Option<JobQueue<RegionJob>>>) {
        let _ = self.0.set(queues);
    }

    /// The queue of `region` if this process runs it.
    pub fn get(&self, region: RegionId) -> Option<&JobQueue<RegionJob>> {
        self.0.get()?.get(usize::from(region))?.as_ref()
    }

    /// Every region in id order: its queue, or `None` where another process runs it.
    pub fn slots(&self) -> impl Iterator<Item = Option<&JobQueue<RegionJob>>> {
        self.0.get().into_iter().flatten().map(Option::as_ref)
    }

    /// The queues of the regions this process runs.
    pub fn local(&self) -> impl Iterator<Item = &JobQueue<RegionJob>> {
        self.slots().flatten()
    }
}
