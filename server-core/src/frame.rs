//! The frame header, `[size u16][id u16]`, parsed without any I/O.

use crate::error::ProtocolError;

/// Bytes in a frame header: `size` then `id`, both u16 little-endian.
pub const HEADER_SIZE: usize = 4;

/// A complete frame found at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The whole frame's length, header included.
    pub size: usize,
    /// The packet id.
    pub id: u16,
}

/// Looks at the front of `buf` for a frame.
///
/// Returns `Ok(None)` while the header, or the body it announces, has not fully arrived:
/// that is waiting, not an error. A size below the header's own 4 bytes, or above
/// `max_packet_size`, is a protocol error as soon as the 2 size bytes are in, so a hostile
/// header is refused without waiting for a body that may never come.
pub fn parse_header(
    buf: &[u8],
    max_packet_size: usize,
) -> Result<Option<FrameHeader>, ProtocolError> {
    let Some(size_bytes) = buf.get(0..2) else {
        return Ok(None);
    };
    let size16 = u16::from_le_bytes([size_bytes[0], size_bytes[1]]);
    let size = usize::from(size16);
    if size < HEADER_SIZE {
        return Err(ProtocolError::FrameTooSmall { size: size16 });
    }
    if size > max_packet_size {
        return Err(ProtocolError::FrameTooLarge {
            size: size16,
            max: max_packet_size,
        });
    }
    if buf.len() < size {
        return Ok(None);
    }
    let id = u16::from_le_bytes([buf[2], buf[3]]);
    Ok(Some(FrameHeader { size, id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_header_and_body() {
        assert_eq!(parse_header(&[], 100), Ok(None));
        assert_eq!(parse_header(&[8], 100), Ok(None));
        assert_eq!(parse_header(&[8, 0, 5], 100), Ok(None));
        assert_eq!(parse_header(&[8, 0, 5, 0, 1, 2, 3], 100), Ok(None));
        assert_eq!(
            parse_header(&[8, 0, 5, 0, 1, 2, 3, 4, 9], 100),
            Ok(Some(FrameHeader { size: 8, id: 5 }))
        );
    }

    #[test]
    fn header_only_frame_is_valid() {
        assert_eq!(
            parse_header(&[4, 0, 2, 0], 100),
            Ok(Some(FrameHeader { size: 4, id: 2 }))
        );
    }

    #[test]
    fn refuses_sizes_below_the_header() {
        for size in 0..4u8 {
            assert_eq!(
                parse_header(&[size, 0], 100),
                Err(ProtocolError::FrameTooSmall { size: size.into() }),
                "size {size} must be refused as soon as it is read"
            );
        }
    }

    #[test]
    fn refuses_sizes_above_the_maximum() {
        assert_eq!(
            parse_header(&[0xff, 0xff], 4096),
            Err(ProtocolError::FrameTooLarge {
                size: 0xffff,
                max: 4096
            })
        );
    }
}
