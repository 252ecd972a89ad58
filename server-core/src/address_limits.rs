//! Per-source-address limits on connections: how many one address may hold open, and how
//! fast it may open new ones. Sans-IO: the listener feeds it addresses and the time.
//!
//! Without them a client looping connect, send, close starts each new connection with full
//! rate-limit buckets and makes the game pay for a whole arrival (a player list, enter and
//! leave broadcasts) per handshake; and one address can take every one of `max_connections`.
//! A connection over either limit is closed as soon as it is accepted, like one over
//! `max_connections`, and counted.
//!
//! IPv6 addresses are grouped by their /64 prefix, since one host is usually given a whole
//! /64 and can pick any address in it; IPv4-mapped IPv6 addresses count as their IPv4
//! address. Loopback is exempt by default: local load tests open thousands of connections
//! from 127.0.0.1, and a proxy on the same host would make every player look like one address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Limits on the connections from one source address (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct AddressLimits {
    /// Sessions one address may have open at once. Default 128 (a LAN party or an internet
    /// cafe behind one NAT address still fits).
    pub max_open: usize,
    /// New connections one address may open per second, on average. Default 5.
    pub connects_per_sec: f64,
    /// New connections one address may open back to back after a quiet spell. Default 20.
    pub connect_burst: u32,
    /// Leave loopback addresses unlimited. Default true.
    pub exempt_loopback: bool,
    /// Addresses remembered at once. An address is remembered while it has sessions open
    /// or its connect budget is refilling (a few seconds), so this only fills when that many
    /// distinct addresses connect within seconds; past it, connections from addresses not
    /// yet remembered are refused (the ones already remembered keep working). Default
    /// 100,000 (a few MiB).
    pub max_tracked: usize,
}

impl Default for AddressLimits {
    fn default() -> Self {
        AddressLimits {
            max_open: 128,
            connects_per_sec: 5.0,
            connect_burst: 20,
            exempt_loopback: true,
            max_tracked: 100_000,
        }
    }
}

/// Why a connection was refused by its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The address has `max_open` sessions open.
    OpenCap,
    /// The address opens connections faster than `connects_per_sec` allows.
    ConnectRate,
    /// `max_tracked` addresses are remembered and this is a new one.
    TableFull,
}

impl Refusal {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refusal::OpenCap => "too many connections open from this address",
            Refusal::ConnectRate => "connecting too fast from this address",
            Refusal::TableFull => "too many addresses tracked",
        }
    }
}

/// The key an address is counted under, or `None` for an exempt address.
fn key(limits: &AddressLimits, ip: IpAddr) -> Option<IpAddr> {
    let ip = ip.to_canonical();
    if limits.exempt_loopback && ip.is_loopback() {
        return None;
    }
    Some(match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    })
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    open: usize,
    tokens: f64,
    last: Instant,
}

impl Entry {
    fn refill(&mut self, limits: &AddressLimits, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + elapsed * limits.connects_per_sec).min(f64::from(limits.connect_burst));
    }

    /// Nothing open and a full budget: forgetting it changes nothing.
    fn idle(&self, limits: &AddressLimits, now: Instant) -> bool {
        let mut e = *self;
        e.refill(limits, now);
        e.open == 0 && e.tokens >= f64::from(limits.connect_burst)
    }
}

/// The open sessions and connect budgets of the addresses seen lately.
#[derive(Debug)]
pub(crate) struct AddressTable {
    limits: AddressLimits,
    entries: HashMap<IpAddr, Entry>,
    /// Size at which idle entries are swept out next; doubles with what survives a sweep,
    /// so sweeping costs O(1) per admission on average. At most `max_tracked`.
    sweep_at: usize,
    /// When the last sweep ran. A full table is swept at most once a second, so new
    /// addresses arriving at a full table cannot make every accept a full scan.
    last_sweep: Option<Instant>,
}

/// Proof that an address was admitted; hand it back to [`AddressTable::release`] when the
/// session ends. Exempt addresses get one too, which releases nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admitted(Option<IpAddr>);

impl AddressTable {
    const FIRST_SWEEP: usize = 1024;

    pub(crate) fn new(limits: AddressLimits) -> Self {
        AddressTable {
            sweep_at: Self::FIRST_SWEEP.min(limits.max_tracked),
            limits,
            entries: HashMap::new(),
            last_sweep: None,
        }
    }

    /// Counts a new connection from `ip` at `now`, or says why it is refused.
    pub(crate) fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<Admitted, Refusal> {
        let Some(key) = key(&self.limits, ip) else {
            return Ok(Admitted(None));
        };
        if !self.entries.contains_key(&key) {
            let full = self.entries.len() >= self.limits.max_tracked;
            let swept_lately = self
                .last_sweep
                .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1));
            if self.entries.len() >= self.sweep_at && !(full && swept_lately) {
                self.sweep(now);
            }
            if self.entries.len() >= self.limits.max_tracked {
                return Err(Refusal::TableFull);
            }
        }
        let limits = &self.limits;
        let entry = self.entries.entry(key).or_insert(Entry {
            open: 0,
            tokens: f64::from(limits.connect_burst),
            last: now,
        });
        entry.refill(limits, now);
        if entry.open >= limits.max_open {
            return Err(Refusal::OpenCap);
        }
        if entry.tokens < 1.0 {
            return Err(Refusal::ConnectRate);
        }
        entry.tokens -= 1.0;
        entry.open += 1;
        Ok(Admitted(Some(key)))
    }

    /// A session admitted earlier has ended.
    pub(crate) fn release(&mut self, admitted: Admitted) {
        if let Some(entry) = admitted.0.and_then(|key| self.entries.get_mut(&key)) {
            entry.open = entry.open.saturating_sub(1);
        }
    }

    /// Addresses remembered now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.entries.len()
    }

    fn sweep(&mut self, now: Instant) {
        let limits = &self.limits;
        self.entries.retain(|_, e| !e.idle(limits, now));
        self.last_sweep = Some(now);
        self.sweep_at = (self.entries.len() * 2)
            .max(Self::FIRST_SWEEP)
            .min(self.limits.max_tracked);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn limits() -> AddressLimits {
        AddressLimits {
            max_open: 3,
            connects_per_sec: 2.0,
            connect_burst: 4,
            exempt_loopback: true,
            max_tracked: 10,
        }
    }

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn a_reconnect_loop_gets_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut table = AddressTable::new(limits());
        let mut admitted = 0;
        // Connect and close at once, 100 times in the same instant.
        for _ in 0..100 {
            if let Ok(a) = table.admit(v4(1), t0) {
                admitted += 1;
                table.release(a);
            }
        }
        assert_eq!(admitted, 4, "the burst, and not one more");
        assert_eq!(table.admit(v4(1), t0), Err(Refusal::ConnectRate));
        // Another address is not affected.
        assert!(table.admit(v4(2), t0).is_ok());
        // One second later: two more.
        let later = t0 + Duration::from_secs(1);
        let mut more = 0;
        for _ in 0..10 {
            if let Ok(a) = table.admit(v4(1), later) {
                more += 1;
                table.release(a);
            }
        }
        assert_eq!(more, 2);
    }

    #[test]
    fn open_sessions_are_capped_and_freed_when_they_end() {
        let t0 = Instant::now();
        let mut table = AddressTable::new(AddressLimits {
            connect_burst: 100,
            ..limits()
        });
        let held: Vec<_> = (0..3).map(|_| table.admit(v4(1), t0)).collect();
        assert!(held.iter().all(Result::is_ok));
        assert_eq!(table.admit(v4(1), t0), Err(Refusal::OpenCap));
        if let Some(Ok(first)) = held.first() {
            table.release(*first);
        }
        assert!(table.admit(v4(1), t0).is_ok(), "a slot freed by a close");
    }

    #[test]
    fn loopback_is_exempt_unless_asked_and_ipv6_counts_by_prefix() {
        let t0 = Instant::now();
        let mut table = AddressTable::new(limits());
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!((0..100).all(|_| table.admit(lo, t0).is_ok()));
        assert_eq!(table.tracked(), 0, "exempt addresses are not remembered");

        let mut strict = AddressTable::new(AddressLimits {
            exempt_loopback: false,
            ..limits()
        });
        assert_eq!((0..100).filter(|_| strict.admit(lo, t0).is_ok()).count(), 3);

        // Two addresses of one /64 share a budget; another /64 has its own.
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("an address");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("an address");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("an address");
        let mut table = AddressTable::new(limits());
        for ip in [a, b, a] {
            assert!(table.admit(ip, t0).is_ok());
        }
        assert_eq!(table.admit(b, t0), Err(Refusal::OpenCap));
        assert!(table.admit(c, t0).is_ok());
        // An IPv4-mapped address is its IPv4 address.
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("an address");
        for _ in 0..3 {
            assert!(table.admit(mapped, t0).is_ok());
        }
        assert_eq!(table.admit(v4(7), t0), Err(Refusal::OpenCap));
    }

    #[test]
    fn the_table_forgets_idle_addresses_and_refuses_new_ones_when_full() {
        let t0 = Instant::now();
        let mut table = AddressTable::new(limits());
        // Ten addresses that connect and stay: the table is full.
        for i in 0..10 {
            assert!(table.admit(v4(i), t0).is_ok());
        }
        assert_eq!(table.admit(v4(200), t0), Err(Refusal::TableFull));
        assert!(
            table.admit(v4(3), t0).is_ok(),
            "a known address still works"
        );

        // Ten that connected and left, long ago: swept out to make room.
        let mut table = AddressTable::new(limits());
        for i in 0..10 {
            if let Ok(a) = table.admit(v4(i), t0) {
                table.release(a);
            }
        }
        let later = t0 + Duration::from_secs(10);
        assert!(table.admit(v4(200), later).is_ok());
        assert_eq!(table.tracked(), 1, "the idle ones were forgotten");
    }

    proptest::proptest! {
        #[test]
        fn open_never_exceeds_the_cap_and_admissions_never_exceed_the_budget(
            steps in proptest::collection::vec((0u8..4, proptest::bool::ANY, 0u64..500), 1..300),
        ) {
            let l = limits();
            let t0 = Instant::now();
            let mut now = t0;
            let mut table = AddressTable::new(l.clone());
            let mut held: Vec<Vec<Admitted>> = vec![Vec::new(); 4];
            let mut admitted = [0u64; 4];
            for (who, close, dt_ms) in steps {
                now += Duration::from_millis(dt_ms);
                let who = usize::from(who);
                if close {
                    if let Some(a) = held[who].pop() {
                        table.release(a);
                    }
                } else if let Ok(a) = table.admit(v4(who as u8), now) {
                    held[who].push(a);
                    admitted[who] += 1;
                }
                proptest::prop_assert!(held[who].len() <= l.max_open);
                let budget = f64::from(l.connect_burst)
                    + now.duration_since(t0).as_secs_f64() * l.connects_per_sec;
                proptest::prop_assert!(admitted[who] as f64 <= budget + 1e-9);
            }
        }
    }
}
