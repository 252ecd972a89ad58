//! `Filtered`: a [`ReceiveFilter`] and a [`FrameHandler`] together make a session handler.

use std::sync::Arc;

use crate::error::CloseReason;
use crate::filter::{deliver, ReceiveFilter};
use crate::session::{Session, SessionHandler};

/// The callbacks of a session framed by any [`ReceiveFilter`]: what
/// [`PacketSession`](crate::PacketSession) is for the course's framing.
pub trait FrameHandler: Send + 'static {
    /// The connection is up.
    fn on_connected(&mut self, session: &Arc<Session>) {
        let _ = session;
    }

    /// One frame's payload (what the filter says it is: a line without its terminator, the
    /// bytes between the marks, a whole fixed-header frame, ...). An error closes the session
    /// with that reason; later frames of the same read are not delivered.
    fn on_frame(&mut self, session: &Arc<Session>, payload: &[u8]) -> Result<(), CloseReason>;

    /// `bytes` were written to the socket.
    fn on_send(&mut self, session: &Arc<Session>, bytes: usize) {
        let _ = (session, bytes);
    }

    /// The session is closed; called exactly once, last.
    fn on_disconnected(&mut self, session: &Arc<Session>, reason: &CloseReason) {
        let _ = (session, reason);
    }
}

/// A session handler that frames the stream with `F` and hands each payload to `H`.
#[derive(Debug)]
pub struct Filtered<F, H> {
    filter: F,
    handler: H,
}

impl<F: ReceiveFilter, H: FrameHandler> Filtered<F, H> {
    /// `handler`'s frames, cut by `filter`.
    pub fn new(filter: F, handler: H) -> Self {
        Filtered { filter, handler }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }
}

impl<F: ReceiveFilter, H: FrameHandler> SessionHandler for Filtered<F, H> {
    fn on_connected(&mut self, session: &Arc<Session>) {
        // A frame longer than the receive buffer could never complete: the session would
        // wait forever. Refuse the pairing at once, loudly, instead.
        if self.filter.max_frame_len() > session.max_packet_size() {
            session.disconnect(CloseReason::ApplicationError(format!(
                "receive filter allows {}-byte frames but the receive buffer holds {} \
                 (raise Config::max_packet_size)",
                self.filter.max_frame_len(),
                session.max_packet_size()
            )));
            return;
        }
        self.handler.on_connected(session);
    }

    fn on_recv(&mut self, session: &Arc<Session>, data: &[u8]) -> usize {
        let handler = &mut self.handler;
        deliver(&mut self.filter, session, data, |frame, span| {
            handler.on_frame(session, &frame[span.payload_start..span.payload_end])
        })
    }

    fn on_send(&mut self, session: &Arc<Session>, bytes: usize) {
        self.handler.on_send(session, bytes);
    }

    fn on_disconnected(&mut self, session: &Arc<Session>, reason: &CloseReason) {
        self.handler.on_disconnected(session, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::filter::{FilterError, TerminatorFilter};
    use crate::Config;

    #[derive(Default)]
    struct Lines(Vec<String>);

    impl FrameHandler for Lines {
        fn on_frame(&mut self, _: &Arc<Session>, payload: &[u8]) -> Result<(), CloseReason> {
            self.0.push(String::from_utf8_lossy(payload).into_owned());
            Ok(())
        }
    }

    fn detached(max_packet_size: usize) -> Arc<Session> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
        let config = Config {
            max_packet_size,
            ..Config::default()
        };
        Arc::new(Session::new(addr, addr, &config))
    }

    #[test]
    fn lines_reach_the_handler_and_an_endless_one_closes_the_session() {
        let session = detached(1024);
        let mut h = Filtered::new(TerminatorFilter::crlf(16), Lines::default());
        let consumed = h.on_recv(&session, b"hello\r\nworld\r\npart");
        assert_eq!(consumed, 14);
        assert_eq!(h.handler().0, ["hello", "world"]);
        h.on_recv(&session, b"part that goes on and on");
        assert_eq!(
            session.close_reason(),
            Some(&CloseReason::ProtocolError(ProtocolError::Filter(
                FilterError::FrameTooLong { max: 16 }
            )))
        );
    }

    #[test]
    fn a_filter_longer_than_the_receive_buffer_is_refused_on_connect() {
        let session = detached(64);
        let mut h = Filtered::new(TerminatorFilter::crlf(1000), Lines::default());
        h.on_connected(&session);
        assert!(matches!(
            session.close_reason(),
            Some(CloseReason::ApplicationError(why)) if why.contains("max_packet_size")
        ));
    }
}
