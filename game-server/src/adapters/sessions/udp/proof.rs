//! Address validation: a UDP source address can be forged, so before any move goes to an
//! address it must prove it receives what is sent there, as QUIC's address validation does.
//! A `C_UdpBind` with a good token is answered with `S_UdpChallenge { cookie }`, a random
//! number only a receiver at that address learns; the bind takes effect when `C_UdpProve`
//! echoes it. Until then the address is sent nothing but challenges, and at most
//! [`AMPLIFICATION`] times the bytes it sent: a forged bind cannot turn the server into an
//! amplifier aimed at the forged address. No sockets here.

/// Most bytes an unproven address is sent, per byte received from it.
pub(crate) const AMPLIFICATION: u64 = 3;

/// Unproven binds one player's ticket may have open at once, each from another address.
/// A client has one, two while its NAT moves; more are forged sources filling the table.
pub(crate) const MAX_UNPROVEN_PER_TICKET: usize = 4;

/// Bytes to and from one address that has not proved it receives.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Budget {
    received: u64,
    sent: u64,
}

impl Budget {
    /// `bytes` arrived from the address.
    pub fn received(&mut self, bytes: usize) {
        self.received = self.received.saturating_add(bytes as u64);
    }

    /// Whether `bytes` more may be sent to the address; if so they are counted as sent.
    pub fn try_send(&mut self, bytes: usize) -> bool {
        let after = self.sent.saturating_add(bytes as u64);
        if after > self.received.saturating_mul(AMPLIFICATION) {
            return false;
        }
        self.sent = after;
        true
    }

    /// Bytes sent so far.
    #[cfg(test)]
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unproven_address_gets_at_most_three_times_what_it_sent() {
        let mut b = Budget::default();
        assert!(!b.try_send(1), "nothing before anything arrived");
        b.received(17); // one C_UdpBind
        assert!(b.try_send(16), "one S_UdpChallenge");
        assert!(b.try_send(16));
        assert!(b.try_send(16));
        assert!(!b.try_send(16), "a fourth is past 3 x 17 bytes");
        assert_eq!(b.sent(), 48);
        b.received(17);
        assert!(b.try_send(16), "a resent bind buys one more");
    }
}
