//! `FixedSizeFilter`: every frame has the same length.

use std::convert::Infallible;

use super::{FrameSpan, ReceiveFilter};
use crate::error::ProtocolError;

/// Frames of exactly `size` bytes, the payload being all of each. Nothing a peer sends can
/// be malformed, so it never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedSizeFilter {
    size: usize,
}

impl FixedSizeFilter {
    /// Frames of `size` bytes (at least 1).
    pub fn new(size: usize) -> Self {
        FixedSizeFilter { size: size.max(1) }
    }
}

/// A filter that never fails reports nothing.
impl From<Infallible> for ProtocolError {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

impl ReceiveFilter for FixedSizeFilter {
    type Error = Infallible;

    fn max_frame_len(&self) -> usize {
        self.size
    }

    fn decode(&mut self, buf: &[u8]) -> Result<Option<FrameSpan>, Infallible> {
        Ok((buf.len() >= self.size).then(|| FrameSpan::whole(self.size)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::filter::testing::{payloads, same_whole_and_trickled};

    #[test]
    fn cuts_every_size_bytes_and_keeps_the_rest() {
        let (frames, used) =
            payloads(&mut FixedSizeFilter::new(3), b"abcdefgh", &[]).expect("frames");
        assert_eq!(frames, vec![b"abc".to_vec(), b"def".to_vec()]);
        assert_eq!(used, 6, "the two bytes of a third frame wait");
    }

    proptest! {
        #[test]
        fn byte_at_a_time_and_all_at_once_agree(
            size in 1usize..9,
            stream in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            same_whole_and_trickled(|| FixedSizeFilter::new(size), &stream);
            let (frames, used) = payloads(&mut FixedSizeFilter::new(size), &stream, &[]).expect("never fails");
            prop_assert_eq!(frames.len(), stream.len() / size);
            prop_assert_eq!(used, stream.len() / size * size);
        }
    }
}
