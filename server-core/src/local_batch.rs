//! Frames a session sends to itself from inside its own `on_recv`, gathered without locks.
//!
//! Replying to the peer that just spoke (an echo, a pong, an error) is the commonest send of
//! all, and it happens on the session's own task. Taking the send queue's mutex once per reply
//! costs two atomic operations per frame; instead, while the I/O task runs `on_recv`, sends to
//! that same session land in this thread-local batch, and the task moves the whole batch into
//! the queue under one lock when `on_recv` returns. Sends to any other session, and sends from
//! any other place, take the normal path. The batch never outlives the synchronous `on_recv`
//! call, so no borrow of it can span an `.await`.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// Room the staging buffer grows by, so a run of small replies does not reallocate per frame.
const STAGE_CHUNK: usize = 16 * 1024;

thread_local! {
    // `const` so each access is a plain thread-local load, with no lazy-init check: this is
    // touched once per reply frame.
    static BATCH: RefCell<LocalBatch> = const {
        RefCell::new(LocalBatch {
            session: 0,
            frames: Vec::new(),
            staged: None,
            bytes: 0,
        })
    };
}

struct LocalBatch {
    /// The session whose `on_recv` is running on this thread; 0 for none (ids start at 1).
    session: u64,
    frames: Vec<Bytes>,
    /// Frames written in place by [`write`], not yet cut into a `Bytes`: one handle per run
    /// of them instead of one per frame. Cutting splits the run off and keeps the rest of the
    /// allocation, which `reserve` takes back whole once the runs written out are dropped, so
    /// a steady stream of replies allocates nothing. (`Option` only so the thread-local can
    /// be `const`.)
    staged: Option<BytesMut>,
    /// Bytes in `frames` and `staged`.
    bytes: usize,
}

impl LocalBatch {
    fn cut_staged(&mut self) {
        if let Some(staged) = self.staged.as_mut().filter(|s| !s.is_empty()) {
            let run = staged.split().freeze();
            self.frames.push(run);
        }
    }
}

/// What [`push`] did with a frame.
pub(crate) enum Pushed {
    /// Batched.
    Batched,
    /// Batching it would pass `limit`: the caller closes the session. Carries the bytes the
    /// batch would have held.
    OverLimit(usize),
    /// Not this thread's open batch; the caller uses the locked queue.
    NotOpen(Bytes),
}

/// Opens the batch for `session` on this thread.
#[inline]
pub(crate) fn open(session: u64) {
    BATCH.with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            b.session = session;
        }
    });
}

/// Adds `frame` to the batch if it is open for `session`.
#[inline]
pub(crate) fn push(session: u64, frame: Bytes, limit: usize) -> Pushed {
    BATCH.with(|b| {
        // `try_borrow_mut` rather than a panic if someone were to send from inside `close`'s
        // callback: that send simply takes the locked path.
        let Ok(mut b) = b.try_borrow_mut() else {
            return Pushed::NotOpen(frame);
        };
        if b.session != session {
            return Pushed::NotOpen(frame);
        }
        let bytes = b.bytes + frame.len();
        if bytes > limit {
            return Pushed::OverLimit(bytes);
        }
        b.bytes = bytes;
        b.cut_staged();
        b.frames.push(frame);
        Pushed::Batched
    })
}

/// What [`write`] did.
pub(crate) enum Written<F> {
    /// Written into the batch.
    Batched,
    /// It would pass the limit; the caller closes the session.
    OverLimit(usize),
    /// Not this thread's open batch; `fill` is handed back.
    NotOpen(F),
}

/// Writes a frame of at most `reserve` bytes straight into the batch if it is open for
/// `session`: no `Bytes` handle and no reference count per frame.
#[inline]
pub(crate) fn write<F>(session: u64, reserve: usize, limit: usize, fill: F) -> Written<F>
where
    F: FnOnce(&mut [u8]) -> usize,
{
    BATCH.with(|b| {
        let Ok(mut b) = b.try_borrow_mut() else {
            return Written::NotOpen(fill);
        };
        if b.session != session {
            return Written::NotOpen(fill);
        }
        if b.bytes + reserve > limit {
            return Written::OverLimit(b.bytes + reserve);
        }
        let staged = b.staged.get_or_insert_with(BytesMut::new);
        let start = staged.len();
        if staged.capacity() - start < reserve {
            staged.reserve(reserve.max(STAGE_CHUNK));
        }
        staged.resize(start + reserve, 0);
        let used = fill(&mut staged[start..]);
        assert!(
            used <= reserve,
            "send_with: {used} bytes used but only {reserve} reserved"
        );
        staged.truncate(start + used);
        b.bytes += used;
        Written::Batched
    })
}

/// Closes the batch and hands its frames and byte count to `take` (which must leave the
/// vector empty to keep its allocation for next time).
pub(crate) fn close(take: impl FnOnce(&mut Vec<Bytes>, usize)) {
    BATCH.with(|b| {
        let Ok(mut b) = b.try_borrow_mut() else {
            return;
        };
        b.session = 0;
        b.cut_staged();
        let bytes = std::mem::take(&mut b.bytes);
        if !b.frames.is_empty() {
            take(&mut b.frames, bytes);
            b.frames.clear();
        }
    });
}
