//! `PacketFilter`: the course's `[size u16][id u16][body]` framing as a receive filter.

use super::{FrameSpan, ReceiveFilter};
use crate::error::ProtocolError;
use crate::frame::parse_header;

/// Frames of `[size u16 LE, the whole frame][id u16 LE][body]`. The payload is the whole
/// frame, header included (what the course's `OnRecvPacket` receives). A size below 4 or
/// above the maximum is refused as soon as its two bytes are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketFilter {
    max_packet_size: usize,
}

impl PacketFilter {
    /// Frames of at most `max_packet_size` bytes, header included (at most 65,535).
    pub fn new(max_packet_size: usize) -> Self {
        PacketFilter { max_packet_size }
    }
}

impl ReceiveFilter for PacketFilter {
    type Error = ProtocolError;

    fn max_frame_len(&self) -> usize {
        self.max_packet_size
    }

    #[inline]
    fn decode(&mut self, buf: &[u8]) -> Result<Option<FrameSpan>, ProtocolError> {
        Ok(parse_header(buf, self.max_packet_size)?.map(|h| FrameSpan::whole(h.size)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::filter::testing::{payloads, same_whole_and_trickled};

    fn frame(id: u16, body: &[u8]) -> Vec<u8> {
        let mut f = ((4 + body.len()) as u16).to_le_bytes().to_vec();
        f.extend_from_slice(&id.to_le_bytes());
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn whole_frames_with_their_header_and_sizes_checked_early() {
        let mut stream = frame(1, b"ab");
        stream.extend(frame(2, b""));
        let (frames, used) = payloads(&mut PacketFilter::new(100), &stream, &[]).expect("frames");
        assert_eq!(frames, vec![frame(1, b"ab"), frame(2, b"")]);
        assert_eq!(used, stream.len());
        assert_eq!(
            PacketFilter::new(100).decode(&[3, 0]),
            Err(ProtocolError::FrameTooSmall { size: 3 })
        );
        assert_eq!(
            PacketFilter::new(100).decode(&[101, 0]),
            Err(ProtocolError::FrameTooLarge {
                size: 101,
                max: 100
            })
        );
    }

    proptest! {
        #[test]
        fn byte_at_a_time_and_all_at_once_agree(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..30),
        ) {
            let stream: Vec<u8> = bodies.iter().enumerate().flat_map(|(i, b)| frame(i as u16, b)).collect();
            same_whole_and_trickled(|| PacketFilter::new(64), &stream);
            let (frames, _) = payloads(&mut PacketFilter::new(64), &stream, &[]).expect("valid frames");
            prop_assert_eq!(frames.len(), bodies.len());
        }
    }
}
