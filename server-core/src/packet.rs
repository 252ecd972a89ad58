//! The `Packet` trait that generated packet structs implement, and its errors.
//!
//! Generated code only describes each packet's fields; framing the packet into a
//! [`SendBuffer`] and checking a received body is done once, here.

use bytes::Bytes;

use crate::error::{DecodeError, EncodeError};
use crate::frame::HEADER_SIZE;
use crate::send_buffer::SendBuffer;
use crate::wire::{Reader, Writer};

/// A packet that can be framed as `[size u16][id u16][body]` and decoded from a body.
pub trait Packet: Sized {
    /// The packet's id on the wire.
    const ID: u16;
    /// The packet's name in the schema (`"C_Move"`).
    const NAME: &'static str;

    /// Exact length of the encoded body, in bytes (without the 4-byte header).
    ///
    /// Returns an error when a string or list is longer than its u16 length prefix allows.
    fn body_len(&self) -> Result<usize, EncodeError>;

    /// Writes the body. `writer` has exactly [`Packet::body_len`] bytes of room.
    fn encode_body(&self, writer: &mut Writer<'_>);

    /// Reads the body's fields from `reader`, which is bounded by the frame.
    fn decode_body(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Length of the whole frame, header included; an error if it passes 65,535 bytes.
    fn frame_len(&self) -> Result<usize, EncodeError> {
        let size = HEADER_SIZE + self.body_len()?;
        if size > usize::from(u16::MAX) {
            return Err(EncodeError::FrameTooLarge {
                packet: Self::NAME,
                size,
            });
        }
        Ok(size)
    }

    /// Writes the whole frame into `dst`, which is exactly [`Packet::frame_len`] bytes.
    /// Returns the bytes written.
    fn write_frame(&self, dst: &mut [u8]) -> usize {
        let size = dst.len();
        // `frame_len` checked the size fits the u16 header.
        dst[0..2].copy_from_slice(&(size as u16).to_le_bytes());
        dst[2..4].copy_from_slice(&Self::ID.to_le_bytes());
        let mut writer = Writer::new(&mut dst[HEADER_SIZE..]);
        self.encode_body(&mut writer);
        debug_assert_eq!(
            writer.remaining(),
            0,
            "{}: body_len disagrees with encode_body",
            Self::NAME
        );
        size
    }

    /// Encodes the whole frame into this thread's [`SendBuffer`] chunk, ready to be sent to
    /// any number of sessions.
    fn encode(&self) -> Result<Bytes, EncodeError> {
        let size = self.frame_len()?;
        Ok(SendBuffer::write(size, |dst| self.write_frame(dst)))
    }

    /// Decodes a packet from its body (the frame without its header). Every byte must be used.
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(body);
        let packet = Self::decode_body(&mut reader)?;
        match reader.remaining() {
            0 => Ok(packet),
            extra => Err(DecodeError::TrailingBytes { extra }),
        }
    }
}
