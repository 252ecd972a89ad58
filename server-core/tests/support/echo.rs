//! What the socket tests of server-core share: a frame builder, and a session that echoes
//! every frame and reports how it closed.

#![allow(dead_code)] // each test file uses its own subset

use std::sync::Arc;
use std::time::Duration;

use server_core::{CloseReason, PacketSession, SendBuffer, Session};
use tokio::sync::mpsc;

/// How long a test waits for something that should happen well within a second.
pub const WAIT: Duration = Duration::from_secs(10);

/// A `[size][id][body]` frame built by hand.
pub fn frame(id: u16, body: &[u8]) -> Vec<u8> {
    let mut f = ((4 + body.len()) as u16).to_le_bytes().to_vec();
    f.extend_from_slice(&id.to_le_bytes());
    f.extend_from_slice(body);
    f
}

/// Echoes every frame back and reports each session's close reason.
pub struct Echo {
    pub closed: mpsc::UnboundedSender<CloseReason>,
}

impl PacketSession for Echo {
    fn on_recv_packet(
        &mut self,
        session: &Arc<Session>,
        id: u16,
        body: &[u8],
    ) -> Result<(), CloseReason> {
        let _ = session.send(SendBuffer::copy_from_slice(&frame(id, body)));
        Ok(())
    }

    fn on_disconnected(&mut self, _: &Arc<Session>, reason: &CloseReason) {
        let _ = self.closed.send(reason.clone());
    }
}
