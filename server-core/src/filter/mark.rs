//! `MarkFilter`: frames between a begin mark and an end mark (e.g. STX ... ETX).

use super::{FilterError, FrameSpan, ReceiveFilter};

/// Frames that start with `begin` and end with the first `end` after it; the payload is
/// what lies between. Bytes at the front that are not the begin mark close the session (a
/// stream out of step cannot be trusted to find its way back), as does a frame that has not
/// ended within `max_len` bytes, marks included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkFilter {
    begin: Vec<u8>,
    end: Vec<u8>,
    max_len: usize,
    /// Bytes after the begin mark already searched for the end mark.
    searched: usize,
}

impl MarkFilter {
    /// Frames `begin` payload `end`, at most `max_len` bytes in all. Empty marks are taken
    /// as STX (0x02) and ETX (0x03).
    pub fn new(begin: &[u8], end: &[u8], max_len: usize) -> Self {
        let begin = if begin.is_empty() {
            vec![0x02]
        } else {
            begin.to_vec()
        };
        let end = if end.is_empty() {
            vec![0x03]
        } else {
            end.to_vec()
        };
        let max_len = max_len.max(begin.len() + end.len());
        MarkFilter {
            begin,
            end,
            max_len,
            searched: 0,
        }
    }
}

impl ReceiveFilter for MarkFilter {
    type Error = FilterError;

    fn max_frame_len(&self) -> usize {
        self.max_len
    }

    fn decode(&mut self, buf: &[u8]) -> Result<Option<FrameSpan>, FilterError> {
        let b = self.begin.len();
        // Check the begin mark as far as it has arrived, so garbage is refused at once.
        let seen = buf.len().min(b);
        if buf[..seen] != self.begin[..seen] {
            return Err(FilterError::MissingBeginMark);
        }
        if buf.len() < b {
            return Ok(None);
        }
        let e = self.end.len();
        let window = &buf[b..buf.len().min(self.max_len)];
        let from = self.searched.saturating_sub(e - 1).min(window.len());
        match window[from..]
            .windows(e)
            .position(|w| w == self.end.as_slice())
        {
            Some(at) => {
                self.searched = 0;
                let payload_end = b + from + at;
                Ok(Some(FrameSpan {
                    len: payload_end + e,
                    payload_start: b,
                    payload_end,
                }))
            }
            None if buf.len() >= self.max_len => {
                Err(FilterError::FrameTooLong { max: self.max_len })
            }
            None => {
                self.searched = window.len();
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::filter::testing::{payloads, same_whole_and_trickled};

    fn stx_etx() -> MarkFilter {
        MarkFilter::new(&[0x02], &[0x03], 32)
    }

    #[test]
    fn payloads_between_the_marks() {
        let stream = [2, b'a', b'b', 3, 2, 3, 2, b'c'];
        let (frames, used) = payloads(&mut stx_etx(), &stream, &[]).expect("frames");
        assert_eq!(frames, vec![b"ab".to_vec(), vec![]]);
        assert_eq!(used, 6, "the unfinished third frame waits");
    }

    #[test]
    fn garbage_before_a_begin_mark_and_endless_frames_are_refused() {
        assert_eq!(stx_etx().decode(b"x"), Err(FilterError::MissingBeginMark));
        let mut f = MarkFilter::new(b"<<", b">>", 8);
        assert_eq!(f.decode(b"<"), Ok(None), "half a begin mark waits");
        assert_eq!(f.decode(b"<x"), Err(FilterError::MissingBeginMark));
        let mut f = MarkFilter::new(b"<<", b">>", 8);
        assert_eq!(f.decode(b"<<1234>"), Ok(None));
        assert_eq!(
            f.decode(b"<<123456"),
            Err(FilterError::FrameTooLong { max: 8 })
        );
    }

    proptest! {
        #[test]
        fn byte_at_a_time_and_all_at_once_agree(
            bodies in proptest::collection::vec(proptest::collection::vec(b'a'..=b'z', 0..20), 0..20),
        ) {
            let mut f = MarkFilter::new(b"<<", b">>", 64);
            let stream: Vec<u8> = bodies.iter().flat_map(|p| [b"<<".as_slice(), p, b">>"].concat()).collect();
            same_whole_and_trickled(|| MarkFilter::new(b"<<", b">>", 64), &stream);
            let (got, used) = payloads(&mut f, &stream, &[]).expect("valid frames");
            prop_assert_eq!(got, bodies);
            prop_assert_eq!(used, stream.len());
        }
    }
}
