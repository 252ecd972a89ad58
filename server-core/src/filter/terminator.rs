//! `TerminatorFilter`: frames that end with a terminator, such as text lines ending in `\r\n`.

use super::{FilterError, FrameSpan, ReceiveFilter};

/// Frames ending with `terminator`; the payload is the frame without it. A frame that has
/// not ended within `max_len` bytes (terminator included) closes the session, so a peer
/// cannot make the server buffer an endless line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminatorFilter {
    terminator: Vec<u8>,
    max_len: usize,
    /// Bytes at the front already searched without finding the terminator, so bytes that
    /// trickle in are not searched again (a line sent a byte at a time stays O(n)).
    searched: usize,
}

impl TerminatorFilter {
    /// Frames ending in `terminator` (not empty; an empty one is taken as `\n`), of at most
    /// `max_len` bytes with it.
    pub fn new(terminator: &[u8], max_len: usize) -> Self {
        let terminator = if terminator.is_empty() {
            b"\n".to_vec()
        } else {
            terminator.to_vec()
        };
        let max_len = max_len.max(terminator.len());
        TerminatorFilter {
            terminator,
            max_len,
            searched: 0,
        }
    }

    /// Text lines ending in `\r\n`, of at most `max_len` bytes.
    pub fn crlf(max_len: usize) -> Self {
        Self::new(b"\r\n", max_len)
    }
}

impl ReceiveFilter for TerminatorFilter {
    type Error = FilterError;

    fn max_frame_len(&self) -> usize {
        self.max_len
    }

    fn decode(&mut self, buf: &[u8]) -> Result<Option<FrameSpan>, FilterError> {
        let t = self.terminator.len();
        let window = &buf[..buf.len().min(self.max_len)];
        // A terminator may straddle what was searched and what is new.
        let from = self.searched.saturating_sub(t - 1).min(window.len());
        let found = window[from..]
            .windows(t)
            .position(|w| w == self.terminator.as_slice());
        match found {
            Some(at) => {
                self.searched = 0;
                let end = from + at;
                Ok(Some(FrameSpan {
                    len: end + t,
                    payload_start: 0,
                    payload_end: end,
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
    use crate::error::ProtocolError;
    use crate::filter::testing::{payloads, same_whole_and_trickled};

    #[test]
    fn lines_without_their_terminator() {
        let (lines, used) = payloads(
            &mut TerminatorFilter::crlf(100),
            b"hi\r\n\r\nthere\r\npart",
            &[],
        )
        .expect("lines");
        assert_eq!(lines, vec![b"hi".to_vec(), b"".to_vec(), b"there".to_vec()]);
        assert_eq!(used, 13, "the unfinished line waits");
    }

    #[test]
    fn a_terminator_split_across_reads_is_found() {
        let mut f = TerminatorFilter::crlf(100);
        assert_eq!(f.decode(b"abc\r"), Ok(None));
        assert_eq!(
            f.decode(b"abc\r\n"),
            Ok(Some(FrameSpan {
                len: 5,
                payload_start: 0,
                payload_end: 3
            }))
        );
    }

    #[test]
    fn a_line_longer_than_the_maximum_is_refused() {
        let mut f = TerminatorFilter::crlf(8);
        assert_eq!(f.decode(b"1234567"), Ok(None));
        assert_eq!(
            f.decode(b"12345678"),
            Err(FilterError::FrameTooLong { max: 8 })
        );
        // Exactly the maximum, terminator included, is fine.
        let mut f = TerminatorFilter::crlf(8);
        assert_eq!(
            f.decode(b"123456\r\n").map(|s| s.map(|s| s.len)),
            Ok(Some(8))
        );
        let e: ProtocolError = FilterError::FrameTooLong { max: 8 }.into();
        assert!(e.to_string().contains("maximum of 8"));
    }

    proptest! {
        #[test]
        fn byte_at_a_time_and_all_at_once_agree(
            lines in proptest::collection::vec(proptest::collection::vec(b'a'..=b'z', 0..20), 0..20),
            tail in proptest::collection::vec(any::<u8>(), 0..30),
        ) {
            let mut stream: Vec<u8> = lines.iter().flat_map(|l| [l.as_slice(), b"\r\n"].concat()).collect();
            stream.extend(&tail);
            same_whole_and_trickled(|| TerminatorFilter::crlf(64), &stream);
            let (got, _) = payloads(&mut TerminatorFilter::crlf(64), &stream, &[])
                .unwrap_or_default();
            prop_assert!(got.len() >= lines.len());
            prop_assert_eq!(&got[..lines.len()], &lines[..]);
        }
    }
}
