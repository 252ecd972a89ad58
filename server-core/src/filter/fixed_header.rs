//! `FixedHeaderFilter`: a fixed-size header that carries the body's length.

use super::{FilterError, FrameSpan, ReceiveFilter};

/// Where the length lies in the header and what it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthField {
    /// Offset of the length field within the header.
    pub offset: usize,
    /// Its width in bytes: 1, 2, 4 or 8 (other widths are taken as 2).
    pub width: usize,
    /// Big-endian (network order) rather than little-endian.
    pub big_endian: bool,
    /// The value counts the header too (the whole frame), not only the body.
    pub includes_header: bool,
}

/// Frames of a `header_len`-byte header followed by a body whose length the header gives at
/// [`LengthField`]; the payload is the whole frame, header included, so the application can
/// read the header's other fields. The length is checked against `max_len` as soon as the
/// header is in.
///
/// The course's framing is `FixedHeaderFilter::new(4, LengthField { offset: 0, width: 2,
/// big_endian: false, includes_header: true }, max)`; [`PacketFilter`](super::PacketFilter)
/// is that, specialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeaderFilter {
    header_len: usize,
    field: LengthField,
    max_len: usize,
}

impl FixedHeaderFilter {
    /// A header of `header_len` bytes (grown to hold the length field if it does not), frames
    /// of at most `max_len` bytes in all.
    pub fn new(header_len: usize, field: LengthField, max_len: usize) -> Self {
        let width = match field.width {
            1 | 2 | 4 | 8 => field.width,
            _ => 2,
        };
        let field = LengthField { width, ..field };
        let header_len = header_len.max(field.offset + width);
        FixedHeaderFilter {
            header_len,
            field,
            max_len: max_len.max(header_len),
        }
    }

    fn read_length(&self, header: &[u8]) -> u64 {
        let bytes = &header[self.field.offset..self.field.offset + self.field.width];
        let mut value = 0u64;
        for i in 0..bytes.len() {
            let byte = if self.field.big_endian {
                bytes[i]
            } else {
                bytes[bytes.len() - 1 - i]
            };
            value = (value << 8) | u64::from(byte);
        }
        value
    }
}

impl ReceiveFilter for FixedHeaderFilter {
    type Error = FilterError;

    fn max_frame_len(&self) -> usize {
        self.max_len
    }

    fn decode(&mut self, buf: &[u8]) -> Result<Option<FrameSpan>, FilterError> {
        let Some(header) = buf.get(..self.header_len) else {
            return Ok(None);
        };
        let value = self.read_length(header);
        let total = if self.field.includes_header {
            if value < self.header_len as u64 {
                return Err(FilterError::LengthTooSmall {
                    len: i128::from(value),
                    header: self.header_len,
                });
            }
            value
        } else {
            value.saturating_add(self.header_len as u64)
        };
        if total > self.max_len as u64 {
            return Err(FilterError::LengthTooLarge {
                len: total,
                max: self.max_len,
            });
        }
        // At most `max_len`, so it fits a usize.
        let total = total as usize;
        Ok((buf.len() >= total).then(|| FrameSpan::whole(total)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::filter::testing::{payloads, same_whole_and_trickled};
    use crate::filter::PacketFilter;

    /// A 6-byte header: 2 bytes of type, a 4-byte big-endian body length.
    fn typed() -> FixedHeaderFilter {
        FixedHeaderFilter::new(
            6,
            LengthField {
                offset: 2,
                width: 4,
                big_endian: true,
                includes_header: false,
            },
            100,
        )
    }

    fn typed_frame(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut f = kind.to_le_bytes().to_vec();
        f.extend((body.len() as u32).to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn the_length_at_its_offset_and_width_cuts_the_frame() {
        let mut stream = typed_frame(7, b"hello");
        stream.extend(typed_frame(8, b""));
        stream.extend(&typed_frame(9, b"later")[..7]);
        let (frames, used) = payloads(&mut typed(), &stream, &[]).expect("frames");
        assert_eq!(frames, vec![typed_frame(7, b"hello"), typed_frame(8, b"")]);
        assert_eq!(used, 11 + 6);
    }

    #[test]
    fn lengths_out_of_bounds_are_refused_once_the_header_is_in() {
        let huge = typed_frame(1, &[0; 200]);
        assert_eq!(typed().decode(&huge[..5]), Ok(None));
        assert_eq!(
            typed().decode(&huge[..6]),
            Err(FilterError::LengthTooLarge { len: 206, max: 100 })
        );
        let mut course = FixedHeaderFilter::new(
            4,
            LengthField {
                offset: 0,
                width: 2,
                big_endian: false,
                includes_header: true,
            },
            100,
        );
        assert_eq!(
            course.decode(&[3, 0, 1, 0]),
            Err(FilterError::LengthTooSmall { len: 3, header: 4 })
        );
    }

    proptest! {
        #[test]
        fn byte_at_a_time_and_all_at_once_agree(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 0..20),
        ) {
            let stream: Vec<u8> = bodies.iter().enumerate().flat_map(|(i, b)| typed_frame(i as u16, b)).collect();
            same_whole_and_trickled(typed, &stream);
            let (got, used) = payloads(&mut typed(), &stream, &[]).expect("valid frames");
            prop_assert_eq!(got.len(), bodies.len());
            prop_assert_eq!(used, stream.len());
        }

        #[test]
        fn configured_as_the_course_it_cuts_what_packet_filter_cuts(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 0..20),
        ) {
            let course = FixedHeaderFilter::new(4, LengthField { offset: 0, width: 2, big_endian: false, includes_header: true }, 64);
            let stream: Vec<u8> = bodies.iter().flat_map(|b| {
                let mut f = ((4 + b.len()) as u16).to_le_bytes().to_vec();
                f.extend([1, 0]);
                f.extend_from_slice(b);
                f
            }).collect();
            let mut course = course;
            prop_assert_eq!(
                payloads(&mut course, &stream, &[]).map_err(|e| e.to_string()),
                payloads(&mut PacketFilter::new(64), &stream, &[]).map_err(|e| e.to_string())
            );
        }
    }
}
