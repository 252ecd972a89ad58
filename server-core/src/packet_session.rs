//! `PacketSession`: a session that speaks in `[size u16][id u16][body]` frames.

use std::sync::Arc;

use crate::error::CloseReason;
use crate::filter::{deliver, PacketFilter};
use crate::frame::HEADER_SIZE;
use crate::session::{Session, SessionHandler};

/// The callbacks of a framed session, the course's `PacketSession` with `OnRecvPacket`.
///
/// Every type implementing it is a [`SessionHandler`]: its `on_recv` cuts the byte stream into
/// frames, hands each complete one to [`PacketSession::on_recv_packet`], and keeps a partial
/// frame for the next read. A size header below 4 or above the session's
/// [`max_packet_size`](crate::Config::max_packet_size) closes the session with
/// [`CloseReason::ProtocolError`] as soon as its two bytes are in.
pub trait PacketSession: Send + 'static {
    /// The connection is up.
    fn on_connected(&mut self, session: &Arc<Session>) {
        let _ = session;
    }

    /// One complete frame: its packet `id` and its `body` (the frame after the 4-byte header).
    ///
    /// Returning an error closes the session with that reason; later frames of the same read
    /// are not delivered.
    fn on_recv_packet(
        &mut self,
        session: &Arc<Session>,
        id: u16,
        body: &[u8],
    ) -> Result<(), CloseReason>;

    /// `bytes` were written to the socket.
    fn on_send(&mut self, session: &Arc<Session>, bytes: usize) {
        let _ = (session, bytes);
    }

    /// The session is closed; called exactly once, last.
    fn on_disconnected(&mut self, session: &Arc<Session>, reason: &CloseReason) {
        let _ = (session, reason);
    }
}

impl<T: PacketSession> SessionHandler for T {
    fn on_connected(&mut self, session: &Arc<Session>) {
        PacketSession::on_connected(self, session);
    }

    fn on_recv(&mut self, session: &Arc<Session>, data: &[u8]) -> usize {
        let mut filter = PacketFilter::new(session.max_packet_size());
        deliver(&mut filter, session, data, |frame, _| {
            // The filter checked the size, so the 4-byte header is there.
            let id = u16::from_le_bytes([frame[2], frame[3]]);
            self.on_recv_packet(session, id, &frame[HEADER_SIZE..])
        })
    }

    fn on_send(&mut self, session: &Arc<Session>, bytes: usize) {
        PacketSession::on_send(self, session, bytes);
    }

    fn on_disconnected(&mut self, session: &Arc<Session>, reason: &CloseReason) {
        PacketSession::on_disconnected(self, session, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::Config;

    /// Records every frame; no socket involved.
    #[derive(Default)]
    struct Frames(Vec<(u16, Vec<u8>)>);

    impl PacketSession for Frames {
        fn on_recv_packet(
            &mut self,
            _: &Arc<Session>,
            id: u16,
            body: &[u8],
        ) -> Result<(), CloseReason> {
            self.0.push((id, body.to_vec()));
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

    fn frame(id: u16, body: &[u8]) -> Vec<u8> {
        let size = (HEADER_SIZE + body.len()) as u16;
        let mut f = size.to_le_bytes().to_vec();
        f.extend_from_slice(&id.to_le_bytes());
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn delivers_complete_frames_and_keeps_the_partial_one() {
        let session = detached(1024);
        let mut h = Frames::default();
        let mut stream = frame(1, b"ab");
        stream.extend(frame(2, b""));
        stream.extend(&frame(3, b"xyz")[..5]);
        let consumed = SessionHandler::on_recv(&mut h, &session, &stream);
        assert_eq!(
            consumed,
            6 + 4,
            "two whole frames consumed, the partial third kept"
        );
        assert_eq!(h.0, vec![(1, b"ab".to_vec()), (2, vec![])]);
    }

    #[test]
    fn byte_at_a_time_and_a_thousand_at_once_give_the_same_frames() {
        let mut stream = Vec::new();
        for i in 0..1000u16 {
            stream.extend(frame(i, &i.to_le_bytes()));
        }
        let session = detached(1024);
        let mut whole = Frames::default();
        assert_eq!(
            SessionHandler::on_recv(&mut whole, &session, &stream),
            stream.len()
        );

        // Feed one byte more each time, the way a RecvBuffer would offer it.
        let mut trickle = Frames::default();
        let mut start = 0;
        for end in 1..=stream.len() {
            start += SessionHandler::on_recv(&mut trickle, &session, &stream[start..end]);
        }
        assert_eq!(start, stream.len());
        assert_eq!(whole.0.len(), 1000);
        assert_eq!(
            whole.0, trickle.0,
            "fragmentation must not change what is delivered"
        );
    }

    #[test]
    fn malformed_sizes_close_the_session() {
        for (bytes, expected) in [
            (vec![0u8, 0, 1, 0], ProtocolError::FrameTooSmall { size: 0 }),
            (vec![3, 0, 1], ProtocolError::FrameTooSmall { size: 3 }),
            (
                vec![0x01, 0x04],
                ProtocolError::FrameTooLarge {
                    size: 1025,
                    max: 1024,
                },
            ),
        ] {
            let session = detached(1024);
            let mut h = Frames::default();
            let consumed = SessionHandler::on_recv(&mut h, &session, &bytes);
            assert_eq!(consumed, 0);
            assert_eq!(
                session.close_reason(),
                Some(&CloseReason::ProtocolError(expected)),
                "bytes {bytes:?} should close the session with a protocol error"
            );
        }
    }

    #[test]
    fn a_handler_error_closes_and_stops_delivery() {
        struct FailFirst(usize);
        impl PacketSession for FailFirst {
            fn on_recv_packet(
                &mut self,
                _: &Arc<Session>,
                _: u16,
                _: &[u8],
            ) -> Result<(), CloseReason> {
                self.0 += 1;
                Err(CloseReason::ApplicationError("nope".into()))
            }
        }
        let session = detached(1024);
        let mut h = FailFirst(0);
        let mut stream = frame(1, b"");
        stream.extend(frame(2, b""));
        SessionHandler::on_recv(&mut h, &session, &stream);
        assert_eq!(
            h.0, 1,
            "no frame is delivered after the handler closed the session"
        );
        assert_eq!(
            session.close_reason(),
            Some(&CloseReason::ApplicationError("nope".into()))
        );
    }
}
