//! Received bytes to frames, with the hot frame taken by a loop of its own. Shared by the
//! room bots (`bot.rs`) and the world bots (`world/bot.rs`).
//!
//! Every move of every player reaches every bot that sees it, so `S_BroadcastMove` is most
//! of what a bot reads. Its frame is always 20 bytes with the header `[20, 0, 6, 0]` (4-byte
//! header, 16-byte body), which the framing accepts whenever the packet size limit is 20 or
//! more and whose body always decodes; so a run of them is taken four words at a time, with
//! no `Result`, no decoded packet moved through a dispatch and no float compare, and decides
//! exactly as the filter and the decoder would (each bot's proptest holds them together).
//! Any other frame, or a move frame of any other size, goes through `PacketFilter`.

use server_core::filter::{PacketFilter, ReceiveFilter};
use server_core::frame::HEADER_SIZE;
use server_core::{CloseReason, Packet};

use crate::packets::SBroadcastMove;

/// Bytes of an `S_BroadcastMove` frame: the header and four 4-byte fields.
pub(crate) const MOVE_FRAME_LEN: usize = HEADER_SIZE + 16;

/// The header of every `S_BroadcastMove` frame, `[size u16][id u16]`, read as one
/// little-endian word.
pub(crate) const MOVE_HEADER: u32 = MOVE_FRAME_LEN as u32 | (SBroadcastMove::ID as u32) << 16;

/// What a bot does with the frames [`take_frames`] finds.
pub(crate) trait FrameReceiver {
    /// One `S_BroadcastMove` from the fast loop: player id, and x, y, z as their bits.
    fn move_frame(&mut self, player_id: i32, x: u32, y: u32, z: u32);

    /// Any other frame: its packet id and body. An error closes the session with it.
    fn other_frame(&mut self, id: u16, body: &[u8]) -> Result<(), CloseReason>;
}

/// Takes the whole frames at the front of `data`; returns the bytes used and, if a frame
/// was malformed or refused, why to close.
pub(crate) fn take_frames<R: FrameReceiver>(
    receiver: &mut R,
    data: &[u8],
    max_packet_size: usize,
) -> (usize, Option<CloseReason>) {
    let fast = max_packet_size >= MOVE_FRAME_LEN;
    take(receiver, data, max_packet_size, fast)
}

/// [`take_frames`] with the move loop turned off: the filter and the decoder for every
/// frame. What the bots' proptests hold the fast loop against.
#[cfg(test)]
pub(crate) fn take_frames_slowly<R: FrameReceiver>(
    receiver: &mut R,
    data: &[u8],
    max_packet_size: usize,
) -> (usize, Option<CloseReason>) {
    take(receiver, data, max_packet_size, false)
}

fn take<R: FrameReceiver>(
    receiver: &mut R,
    data: &[u8],
    max_packet_size: usize,
    fast: bool,
) -> (usize, Option<CloseReason>) {
    let mut framing = PacketFilter::new(max_packet_size);
    let mut used = 0;
    loop {
        if fast {
            used += take_moves(receiver, &data[used..]);
        }
        let rest = &data[used..];
        match framing.decode(rest) {
            Ok(Some(span)) => {
                let Some(frame) = rest.get(..span.len) else {
                    // PacketFilter never claims more than it was given; if it did, close
                    // rather than wait for bytes that are already here.
                    let bug = format!("PacketFilter claimed {} of {} bytes", span.len, rest.len());
                    return (used, Some(CloseReason::ApplicationError(bug)));
                };
                used += span.len;
                // The filter checked the size, so the 4-byte header is there.
                let id = u16::from_le_bytes([frame[2], frame[3]]);
                if let Err(reason) = receiver.other_frame(id, &frame[HEADER_SIZE..]) {
                    return (used, Some(reason));
                }
            }
            Ok(None) => return (used, None),
            Err(e) => return (used, Some(CloseReason::ProtocolError(e))),
        }
    }
}

/// The run of whole `S_BroadcastMove` frames at the front of `data`; returns its length.
#[inline]
fn take_moves<R: FrameReceiver>(receiver: &mut R, data: &[u8]) -> usize {
    let mut used = 0;
    for frame in data.chunks_exact(MOVE_FRAME_LEN) {
        let word = |at: usize| {
            u32::from_le_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]])
        };
        if word(0) != MOVE_HEADER {
            break;
        }
        receiver.move_frame(word(4) as i32, word(8), word(12), word(16));
        used += MOVE_FRAME_LEN;
    }
    used
}
