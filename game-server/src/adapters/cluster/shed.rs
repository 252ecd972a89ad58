//! What a region takes from other nodes, and what it sheds when it is too far behind.
//!
//! Jobs from other nodes cannot be refused back to their sender (it has moved on), so
//! before this they were all always-admitted follow-ups: a slow region with many players on
//! other nodes grew its queue without bound, unseen. Now a region's inputs from other
//! nodes (moves and chat, from a gateway or forwarded by another region) wait in a lane
//! bounded in bytes (`ClusterConfig::remote_bytes`); past it an input is shed and counted,
//! and a marker with its sequence number takes its place (`PlayerInput::Skipped`: one small
//! job, no payload), so the owner goes on with the player's next input at once instead of
//! holding them for the missing one. The markers themselves are follow-ups: bounded by the
//! gateways' rate limits, not by bytes. Enters, leaves, hand-offs, ghosts and the rest are never shed:
//! losing one would lose a player or leave a ghost.

use crate::game::world::message::{PlayerInput, RegionJob, RegionMsg};
use crate::runtime::job_queue::{JobQueue, QueueFull};

/// What became of a job from another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Queued as it came.
    Queued,
    /// An input shed for a full lane; its marker is queued.
    Shed,
    /// The region has stopped.
    Stopped,
}

/// Queues `job` (which came as `bytes` of frame) for its region: an input in the remote
/// lane of at most `cap` bytes, anything else as a follow-up.
pub fn take(queue: &JobQueue<RegionJob>, job: RegionJob, bytes: usize, cap: usize) -> Taken {
    if !sheddable(&job) {
        return match queue.push_follow_up(job) {
            Ok(()) => Taken::Queued,
            Err(_) => Taken::Stopped,
        };
    }
    match queue.try_push_remote(job, bytes, cap) {
        Ok(()) => Taken::Queued,
        Err(QueueFull(job)) => match queue.push_follow_up(skipped(job)) {
            Ok(()) => Taken::Shed,
            Err(_) => Taken::Stopped,
        },
    }
}

fn sheddable(job: &RegionJob) -> bool {
    let input = match job {
        RegionJob::Input { input, .. } | RegionJob::Peer(RegionMsg::ForwardInput { input, .. }) => {
            input
        }
        _ => return false,
    };
    !matches!(input, PlayerInput::Skipped)
}

/// The same input, as a marker that keeps only its sequence number.
fn skipped(job: RegionJob) -> RegionJob {
    match job {
        RegionJob::Input { player_id, seq, .. } => RegionJob::Input {
            player_id,
            seq,
            input: PlayerInput::Skipped,
        },
        RegionJob::Peer(RegionMsg::ForwardInput {
            from,
            player_id,
            seq,
            ..
        }) => RegionJob::Peer(RegionMsg::ForwardInput {
            from,
            player_id,
            seq,
            input: PlayerInput::Skipped,
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::runtime::job_queue::JobRunner;

    /// Records what it runs; blocks on its first job until released.
    struct Stalled {
        gate: Option<mpsc::Receiver<()>>,
        ran: mpsc::Sender<String>,
    }

    impl JobRunner for Stalled {
        type Job = RegionJob;

        fn run(&mut self, job: RegionJob) {
            if let Some(gate) = self.gate.take() {
                let _ = gate.recv();
            }
            let _ = self.ran.send(format!("{job:?}"));
        }
    }

    fn input(seq: u64, message: &str) -> RegionJob {
        RegionJob::Input {
            player_id: 7,
            seq,
            input: PlayerInput::Chat {
                message: message.to_owned(),
            },
        }
    }

    #[test]
    fn past_the_byte_cap_inputs_are_shed_for_markers_and_the_rest_always_queued() {
        let (release, gate) = mpsc::channel();
        let (ran, runs) = mpsc::channel();
        let runner = Stalled {
            gate: Some(gate),
            ran,
        };
        let (queue, thread) =
            JobQueue::spawn("shed-test", 16, 16, None, runner).expect("thread starts");
        // The first job stalls the region; the lane then holds 100 bytes.
        assert_eq!(
            take(&queue, RegionJob::Leave { player_id: 1 }, 10, 100),
            Taken::Queued
        );
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(take(&queue, input(0, "a"), 60, 100), Taken::Queued);
        assert_eq!(
            take(&queue, input(1, "b"), 60, 100),
            Taken::Shed,
            "60 + 60 > 100"
        );
        assert_eq!(
            take(&queue, input(2, "c"), 40, 100),
            Taken::Queued,
            "60 + 40 fit"
        );
        assert_eq!(queue.stats().remote_bytes(), 100);
        let gone = RegionJob::Peer(RegionMsg::PlayerGone {
            from: 0,
            player_id: 9,
        });
        assert_eq!(take(&queue, gone, 5000, 100), Taken::Queued, "never shed");
        assert_eq!(queue.stats().depth(), 4, "every kind counts in the depth");

        release.send(()).expect("release");
        let order: Vec<String> = (0..5)
            .map(|_| runs.recv_timeout(Duration::from_secs(5)).expect("ran"))
            .collect();
        assert!(order[0].contains("Leave"));
        assert!(order[1].contains("seq: 0") && order[1].contains("\"a\""));
        assert!(
            order[2].contains("seq: 1") && order[2].contains("Skipped"),
            "the shed input's marker, in its place: {}",
            order[2]
        );
        assert!(order[3].contains("seq: 2") && order[3].contains("\"c\""));
        assert!(order[4].contains("PlayerGone"));
        assert_eq!(queue.stats().remote_bytes(), 0);
        assert_eq!(queue.stats().depth(), 0);
        queue.stop();
        thread.join();
    }
}
