//! Our frames inside datagrams, without sockets: checking an inbound datagram, packing
//! outbound frames into datagrams, and the per-peer datagram rate.
//!
//! A datagram carries one or more whole `[size][id][body]` frames and never part of one, so
//! each datagram can be checked alone: a datagram whose frames do not add up to exactly its
//! length is malformed as a whole and dropped, never half-delivered.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::error::ProtocolError;
use crate::frame::parse_header;

/// Why an inbound datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// Zero bytes.
    #[error("empty datagram")]
    Empty,
    /// The last frame runs past the end of the datagram (or its header is cut).
    #[error("frame at byte {at} is cut off by the end of the {len}-byte datagram")]
    Truncated {
        /// Where the cut frame starts.
        at: usize,
        /// The datagram's length.
        len: usize,
    },
    /// A frame header is impossible (below 4 bytes, above `max_packet_size`).
    #[error("frame at byte {at}: {error}")]
    Frame {
        /// Where the frame starts.
        at: usize,
        /// What is wrong with its header.
        error: ProtocolError,
    },
}

/// Checks that `datagram` is one or more whole frames, each within `max_packet_size`.
/// Returns how many frames it holds.
pub fn check_datagram(datagram: &[u8], max_packet_size: usize) -> Result<usize, DatagramError> {
    if datagram.is_empty() {
        return Err(DatagramError::Empty);
    }
    let mut at = 0;
    let mut frames = 0;
    while let Some(rest) = datagram.get(at..).filter(|r| !r.is_empty()) {
        match parse_header(rest, max_packet_size) {
            Ok(Some(header)) => {
                at += header.size;
                frames += 1;
            }
            Ok(None) => {
                return Err(DatagramError::Truncated {
                    at,
                    len: datagram.len(),
                })
            }
            Err(error) => return Err(DatagramError::Frame { at, error }),
        }
    }
    Ok(frames)
}

/// Packs queued sends into datagrams of at most `max_datagram` bytes, in order, never
/// splitting a frame. A send may hold several frames (the room's shared broadcast batch):
/// it is cut at its frame boundaries. A frame larger than `max_datagram` goes alone in a
/// datagram of its own size (the IP layer fragments it; `max_datagram` is a target, not a
/// wall).
pub fn pack(sends: &mut Vec<Bytes>, max_datagram: usize, out: &mut Vec<Bytes>) {
    let mut current = BytesMut::new();
    for send in sends.drain(..) {
        for frame in frames_of(send) {
            if !current.is_empty() && current.len() + frame.len() > max_datagram {
                out.push(current.split().freeze());
            }
            if current.is_empty() && frame.len() >= max_datagram {
                out.push(frame);
                continue;
            }
            current.extend_from_slice(&frame);
        }
    }
    if !current.is_empty() {
        out.push(current.freeze());
    }
}

/// The frames of one send, by reference. Sends are our own encoding, but a header that
/// does not fit (a raw `SessionHandler` sending other bytes) keeps the rest as one piece
/// rather than cutting it blindly.
fn frames_of(mut send: Bytes) -> impl Iterator<Item = Bytes> {
    std::iter::from_fn(move || {
        if send.is_empty() {
            return None;
        }
        let size = send
            .get(0..2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .filter(|size| (crate::frame::HEADER_SIZE..=send.len()).contains(size))
            .unwrap_or(send.len());
        Some(send.split_to(size))
    })
}

/// A token bucket of datagrams for one peer: `per_sec` on average, `burst` back to back.
/// Time comes in as an argument, so it is tested without a clock.
#[derive(Debug, Clone)]
pub struct DatagramRate {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl DatagramRate {
    /// A full bucket at `now`.
    pub fn new(per_sec: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        DatagramRate {
            per_sec,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token for one datagram arriving at `now`; false if there is none (drop it).
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn frame(id: u16, body: &[u8]) -> Vec<u8> {
        let mut f = ((4 + body.len()) as u16).to_le_bytes().to_vec();
        f.extend_from_slice(&id.to_le_bytes());
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn whole_frames_pass_and_anything_else_is_named() {
        let mut two = frame(1, b"ab");
        two.extend(frame(2, b""));
        assert_eq!(check_datagram(&two, 1024), Ok(2));
        assert_eq!(check_datagram(&[], 1024), Err(DatagramError::Empty));
        assert_eq!(
            check_datagram(&two[..7], 1024),
            Err(DatagramError::Truncated { at: 6, len: 7 })
        );
        assert_eq!(
            check_datagram(&two[..1], 1024),
            Err(DatagramError::Truncated { at: 0, len: 1 })
        );
        assert!(matches!(
            check_datagram(&[2, 0, 0, 0], 1024),
            Err(DatagramError::Frame {
                at: 0,
                error: ProtocolError::FrameTooSmall { size: 2 }
            })
        ));
        assert!(matches!(
            check_datagram(&frame(1, &[0; 100]), 50),
            Err(DatagramError::Frame {
                error: ProtocolError::FrameTooLarge { .. },
                ..
            })
        ));
    }

    #[test]
    fn the_rate_refills_with_time_up_to_the_burst() {
        let t0 = Instant::now();
        let mut rate = DatagramRate::new(10.0, 3, t0);
        assert!((0..3).all(|_| rate.allow(t0)), "the burst goes through");
        assert!(!rate.allow(t0), "then nothing");
        assert!(
            rate.allow(t0 + Duration::from_millis(100)),
            "10/s: one per 100 ms"
        );
        assert!(!rate.allow(t0 + Duration::from_millis(150)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            (0..10).filter(|_| rate.allow(later)).count(),
            3,
            "capped at the burst"
        );
    }

    proptest! {
        /// Packing keeps every frame whole and in order, each datagram checks out, and no
        /// datagram passes the target unless it is one oversized frame.
        #[test]
        fn packed_datagrams_are_whole_frames_in_order(
            sizes in proptest::collection::vec(0usize..300, 0..60),
            group in 1usize..8,
            max_datagram in 4usize..600,
        ) {
            let frames: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, n)| frame(i as u16, &vec![i as u8; *n]))
                .collect();
            // Sends of `group` frames each, like a broadcast batch.
            let mut queue: Vec<Bytes> = frames.chunks(group).map(|c| Bytes::from(c.concat())).collect();
            let mut out = Vec::new();
            pack(&mut queue, max_datagram, &mut out);
            prop_assert!(queue.is_empty());
            let mut rejoined = Vec::new();
            for d in &out {
                let count = check_datagram(d, u16::MAX as usize);
                prop_assert!(count.is_ok(), "{count:?}");
                prop_assert!(d.len() <= max_datagram || count == Ok(1));
                rejoined.extend_from_slice(d);
            }
            prop_assert_eq!(rejoined, frames.concat());
        }

        /// Any bytes either check as whole frames or are refused; never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = check_datagram(&bytes, 64);
        }
    }
}
