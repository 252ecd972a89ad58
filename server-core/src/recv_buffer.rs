//! `RecvBuffer`: one byte buffer with a read cursor and a write cursor.
//!
//! The socket writes at the write cursor, the parser consumes at the read cursor, and a
//! partial frame simply stays between the two until the rest arrives. Unlike the course's
//! fixed 64 KiB buffer, ours starts empty and grows on demand up to a cap, so an idle
//! session costs no buffer at all.

/// An impossible cursor move: a bug in the caller, reported instead of corrupting the buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecvBufferError {
    /// `on_write(n)` with more bytes than the free space.
    #[error("cannot mark {count} bytes written: only {free} free")]
    WriteOverflow {
        /// The count asked for.
        count: usize,
        /// Free bytes after the write cursor.
        free: usize,
    },
    /// `on_read(n)` with more bytes than the buffered data.
    #[error("cannot mark {count} bytes read: only {data} buffered")]
    ReadOverflow {
        /// The count asked for.
        count: usize,
        /// Bytes between the cursors.
        data: usize,
    },
    /// Growing would pass the buffer's cap.
    #[error("buffer cannot hold {needed} bytes: capacity is capped at {max}")]
    CapacityExceeded {
        /// The capacity asked for.
        needed: usize,
        /// The cap.
        max: usize,
    },
}

/// Receive buffer with read/write cursors. Invariant: `read <= write <= buf.len()`.
#[derive(Debug)]
pub struct RecvBuffer {
    buf: Vec<u8>,
    read: usize,
    write: usize,
    max_capacity: usize,
}

impl RecvBuffer {
    /// An empty buffer that will never grow past `max_capacity` bytes. It allocates nothing
    /// until [`RecvBuffer::reserve`] asks for room.
    pub fn new(max_capacity: usize) -> Self {
        RecvBuffer {
            buf: Vec::new(),
            read: 0,
            write: 0,
            max_capacity,
        }
    }

    /// Bytes received and not yet consumed.
    pub fn data_size(&self) -> usize {
        self.write - self.read
    }

    /// Bytes of room after the write cursor.
    pub fn free_size(&self) -> usize {
        self.buf.len() - self.write
    }

    /// The cap the buffer never grows past.
    pub fn max_capacity(&self) -> usize {
        self.max_capacity
    }

    /// Current allocation, in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The received, unconsumed bytes.
    pub fn read_segment(&self) -> &[u8] {
        &self.buf[self.read..self.write]
    }

    /// The room the next socket read may fill.
    pub fn write_segment(&mut self) -> &mut [u8] {
        &mut self.buf[self.write..]
    }

    /// Marks `count` bytes of the write segment as filled.
    pub fn on_write(&mut self, count: usize) -> Result<(), RecvBufferError> {
        let free = self.free_size();
        if count > free {
            return Err(RecvBufferError::WriteOverflow { count, free });
        }
        self.write += count;
        Ok(())
    }

    /// Marks `count` bytes of the read segment as consumed.
    pub fn on_read(&mut self, count: usize) -> Result<(), RecvBufferError> {
        let data = self.data_size();
        if count > data {
            return Err(RecvBufferError::ReadOverflow { count, data });
        }
        self.read += count;
        Ok(())
    }

    /// Makes room at the end. When the buffer is empty the cursors go back to the start for
    /// free; leftover bytes are moved to the front only when the free space has fallen below
    /// a quarter of the buffer, so a stream of small frames does not pay a copy per read.
    pub fn clean(&mut self) {
        if self.read == self.write {
            self.read = 0;
            self.write = 0;
        } else if self.read > 0 && self.free_size() < self.buf.len() / 4 {
            self.buf.copy_within(self.read..self.write, 0);
            self.write -= self.read;
            self.read = 0;
        }
    }

    /// Ensures at least `min_free` bytes of write room, first by compacting and then by
    /// growing (doubling, at least to `initial`), never past the cap.
    pub fn reserve(&mut self, min_free: usize, initial: usize) -> Result<(), RecvBufferError> {
        if self.free_size() >= min_free {
            return Ok(());
        }
        if self.read > 0 {
            self.buf.copy_within(self.read..self.write, 0);
            self.write -= self.read;
            self.read = 0;
            if self.free_size() >= min_free {
                return Ok(());
            }
        }
        let needed = self.write + min_free;
        if needed > self.max_capacity {
            return Err(RecvBufferError::CapacityExceeded {
                needed,
                max: self.max_capacity,
            });
        }
        let new_len = needed
            .max(initial)
            .max(self.buf.len() * 2)
            .min(self.max_capacity);
        self.buf.resize(new_len, 0);
        Ok(())
    }

    /// Gives the allocation back when nothing is buffered, so a session that went quiet
    /// stops holding memory.
    pub fn release_if_empty(&mut self) {
        if self.read == self.write {
            self.buf = Vec::new();
            self.read = 0;
            self.write = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn impossible_counts_are_refused() {
        let mut b = RecvBuffer::new(64);
        b.reserve(8, 8).expect("room for 8 bytes");
        assert_eq!(
            b.on_write(9),
            Err(RecvBufferError::WriteOverflow { count: 9, free: 8 })
        );
        b.on_write(3).expect("3 of 8 bytes fit");
        assert_eq!(
            b.on_read(4),
            Err(RecvBufferError::ReadOverflow { count: 4, data: 3 })
        );
        assert_eq!(b.data_size(), 3, "refused calls must not move the cursors");
    }

    #[test]
    fn grows_only_up_to_the_cap() {
        let mut b = RecvBuffer::new(100);
        assert_eq!(
            b.capacity(),
            0,
            "nothing allocated before the first reserve"
        );
        b.reserve(10, 16).expect("fits");
        assert_eq!(b.capacity(), 16);
        b.on_write(16).expect("fill");
        b.reserve(60, 16).expect("fits under the cap");
        assert!(b.capacity() >= 76 && b.capacity() <= 100);
        assert!(matches!(
            b.reserve(200, 16),
            Err(RecvBufferError::CapacityExceeded { .. })
        ));
    }

    #[test]
    fn clean_resets_an_empty_buffer_without_copying() {
        let mut b = RecvBuffer::new(64);
        b.reserve(16, 16).expect("room");
        b.write_segment()[..4].copy_from_slice(b"abcd");
        b.on_write(4).expect("4 written");
        b.on_read(4).expect("4 read");
        b.clean();
        assert_eq!((b.data_size(), b.free_size()), (0, 16));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(Vec<u8>),
        Read(usize),
        Clean,
        Release,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Write),
            (0usize..50).prop_map(Op::Read),
            Just(Op::Clean),
            Just(Op::Release),
        ]
    }

    proptest! {
        /// The buffer behaves like a plain FIFO of bytes, whatever the order of operations.
        #[test]
        fn behaves_like_a_fifo(ops in proptest::collection::vec(op(), 1..200)) {
            let mut buf = RecvBuffer::new(128);
            let mut model: std::collections::VecDeque<u8> = Default::default();
            for op in ops {
                match op {
                    Op::Write(bytes) => {
                        let fits = buf.reserve(bytes.len(), 16).is_ok();
                        prop_assert_eq!(fits, model.len() + bytes.len() <= 128);
                        if fits {
                            buf.write_segment()[..bytes.len()].copy_from_slice(&bytes);
                            buf.on_write(bytes.len()).expect("reserved room");
                            model.extend(bytes);
                        }
                    }
                    Op::Read(n) => {
                        let ok = buf.on_read(n).is_ok();
                        prop_assert_eq!(ok, n <= model.len());
                        if ok {
                            model.drain(..n);
                        }
                    }
                    Op::Clean => buf.clean(),
                    Op::Release => buf.release_if_empty(),
                }
                let expected: Vec<u8> = model.iter().copied().collect();
                prop_assert_eq!(buf.read_segment(), &expected[..]);
                prop_assert!(buf.capacity() <= 128);
            }
        }
    }
}
