//! The sign-in endpoint's defences (docs/security.md).
//!
//! * Input is bounded before any work: an address over 254 characters, or a password over
//!   1,024 bytes, is refused at once (no lookup, no hashing, nothing remembered).
//! * Failures are counted per client address and account, and per client address, in a map of at
//!   most [`LoginLimiter::MAX_KEYS`] entries whose keys are bounded too. Past a few free
//!   failures each next attempt waits longer (1 s, 2 s, 4 s … up to 5 minutes) instead of a hard
//!   lock, and only that client waits: someone guessing an Admin's password from elsewhere
//!   cannot lock the Admin out.
//! * Password hashing (Argon2, deliberately slow) runs at most [`LoginLimiter::hashing`] at a
//!   time; a sign-in that finds them all busy gets a transient 429 at once instead of queueing
//!   without limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The longest an email address can be (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest password hashed: a passphrase fits, a megabyte of junk does not.
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Key {
    /// One client address guessing one account (lower-cased, at most 254 characters).
    Account(IpAddr, String),
    /// One client address, whatever accounts it tries.
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

pub struct LoginLimiter {
    failures: Mutex<HashMap<Key, Failures>>,
    hashing: Arc<Semaphore>,
}

impl LoginLimiter {
    /// Failures of one account from one address before attempts are spaced out.
    pub const FREE_PER_ACCOUNT: u32 = 5;
    /// Failures from one address, over all accounts, before its attempts are spaced out.
    pub const FREE_PER_ADDRESS: u32 = 30;
    /// The longest wait between two attempts.
    pub const MAX_DELAY: Duration = Duration::from_secs(300);
    /// A key with no failure for this long is forgotten.
    pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
    /// The most keys remembered (a few MB at most); past it the stalest go first.
    pub const MAX_KEYS: usize = 10_000;

    /// A limiter that hashes at most `hashing_at_once` passwords at a time.
    pub fn new(hashing_at_once: usize) -> LoginLimiter {
        LoginLimiter { failures: Mutex::new(HashMap::new()), hashing: Arc::new(Semaphore::new(hashing_at_once.max(1))) }
    }

    /// How long `client` must still wait before trying `email` again, if at all.
    pub fn wait(&self, client: IpAddr, email: &str, now: Instant) -> Option<Duration> {
        let client = client_key(client);
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let account =
            map.get(&Key::Account(client, email.to_lowercase())).map(|f| left(f, Self::FREE_PER_ACCOUNT, now));
        let address = map.get(&Key::Address(client)).map(|f| left(f, Self::FREE_PER_ADDRESS, now));
        account.into_iter().chain(address).flatten().max()
    }

    /// A wrong password (or an unknown account) from `client`.
    pub fn failed(&self, client: IpAddr, email: &str, now: Instant) {
        let client = client_key(client);
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in [Key::Account(client, email.to_lowercase()), Key::Address(client)] {
            if !map.contains_key(&key) && map.len() >= Self::MAX_KEYS {
                make_room(&mut map, now);
            }
            let f = map.entry(key).or_insert(Failures { count: 0, last: now });
            if now.saturating_duration_since(f.last) > Self::FORGET_AFTER {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
        }
    }

    /// A successful sign-in forgets that client's failures for that account.
    pub fn succeeded(&self, client: IpAddr, email: &str) {
        let client = client_key(client);
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&Key::Account(client, email.to_lowercase()));
    }

    /// A turn at password hashing, or `None` when as many as allowed are running.
    pub fn hashing(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.hashing).try_acquire_owned().ok()
    }

    /// Keys remembered now.
    pub fn keys(&self) -> usize {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The client as the limits count it: an IPv4 address, or an IPv6 address's /64 (one customer
/// line or host gets a whole /64, so counting single IPv6 addresses would count nothing).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The wait still ahead after `f`: none for the first `free` failures, then 1 s, doubling.
fn left(f: &Failures, free: u32, now: Instant) -> Option<Duration> {
    if f.count < free {
        return None;
    }
    let delay = Duration::from_secs(1u64 << (f.count - free).min(16)).min(LoginLimiter::MAX_DELAY);
    (f.last + delay).checked_duration_since(now).filter(|d| !d.is_zero())
}

/// Forgets the keys that have lapsed; if that is not enough, the stalest tenth, so that a flood
/// of new keys costs one sort per thousand of them.
fn make_room(map: &mut HashMap<Key, Failures>, now: Instant) {
    map.retain(|_, f| now.saturating_duration_since(f.last) <= LoginLimiter::FORGET_AFTER);
    if map.len() >= LoginLimiter::MAX_KEYS {
        let mut by_age: Vec<(Instant, Key)> = map.iter().map(|(k, f)| (f.last, k.clone())).collect();
        by_age.sort_unstable_by_key(|(last, _)| *last);
        for (_, key) in by_age.into_iter().take(LoginLimiter::MAX_KEYS / 10) {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));
    const ADMIN: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn attempts_are_spaced_out_growing_and_only_for_the_client_that_failed() {
        let l = LoginLimiter::new(2);
        let t0 = Instant::now();
        for _ in 0..LoginLimiter::FREE_PER_ACCOUNT - 1 {
            l.failed(ATTACKER, "Admin@x.io", t0);
        }
        assert_eq!(l.wait(ATTACKER, "admin@x.io", t0), None, "a few mistakes cost nothing");
        l.failed(ATTACKER, "admin@x.io", t0);
        assert_eq!(l.wait(ATTACKER, "ADMIN@x.io", t0), Some(Duration::from_secs(1)));
        assert_eq!(l.wait(ATTACKER, "admin@x.io", t0 + Duration::from_secs(1)), None, "a wait, not a lock");
        l.failed(ATTACKER, "admin@x.io", t0 + Duration::from_secs(1));
        assert_eq!(l.wait(ATTACKER, "admin@x.io", t0 + Duration::from_secs(1)), Some(Duration::from_secs(2)));
        for i in 0..30 {
            l.failed(ATTACKER, "admin@x.io", t0 + Duration::from_secs(2 + i));
        }
        let capped = l.wait(ATTACKER, "admin@x.io", t0 + Duration::from_secs(31)).unwrap();
        assert_eq!(capped, LoginLimiter::MAX_DELAY, "growing, up to five minutes");
        // The Admin signing in from her own address is not held up at all.
        assert_eq!(l.wait(ADMIN, "admin@x.io", t0 + Duration::from_secs(31)), None);
        l.succeeded(ATTACKER, "admin@x.io");
        // Its 36 failures from that address still space out what it tries next.
        assert_eq!(l.wait(ATTACKER, "admin@x.io", t0 + Duration::from_secs(31)), Some(Duration::from_secs(64)));
    }

    #[test]
    fn one_address_trying_many_accounts_is_spaced_out_too() {
        let l = LoginLimiter::new(2);
        let t0 = Instant::now();
        for i in 0..LoginLimiter::FREE_PER_ADDRESS {
            l.failed(ATTACKER, &format!("user{i}@x.io"), t0);
        }
        assert_eq!(l.wait(ATTACKER, "someone-new@x.io", t0), Some(Duration::from_secs(1)));
        assert_eq!(l.wait(ADMIN, "someone-new@x.io", t0), None);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let l = LoginLimiter::new(2);
        let t0 = Instant::now();
        for i in 0..LoginLimiter::FREE_PER_ACCOUNT {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            l.failed(ip, "admin@x.io", t0);
        }
        let elsewhere_in_it: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(l.wait(elsewhere_in_it, "admin@x.io", t0), Some(Duration::from_secs(1)));
        let another: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(l.wait(another, "admin@x.io", t0), None);
    }

    #[test]
    fn memory_is_bounded_whatever_comes_in() {
        let l = LoginLimiter::new(2);
        let t0 = Instant::now();
        for i in 0..(LoginLimiter::MAX_KEYS as u32 * 2) {
            let client = IpAddr::V4(std::net::Ipv4Addr::from(i));
            l.failed(client, &format!("{i}@x.io"), t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(l.keys() <= LoginLimiter::MAX_KEYS, "{} keys", l.keys());
        // What happens now is still counted: the stalest keys made room for it.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..LoginLimiter::FREE_PER_ACCOUNT {
            l.failed(ADMIN, "late@x.io", later);
        }
        assert_eq!(l.wait(ADMIN, "late@x.io", later), Some(Duration::from_secs(1)));
        assert!(l.keys() <= LoginLimiter::MAX_KEYS);
    }

    #[test]
    fn hashing_turns_are_limited() {
        let l = LoginLimiter::new(2);
        let (a, b) = (l.hashing(), l.hashing());
        assert!(a.is_some() && b.is_some());
        assert!(l.hashing().is_none(), "a third at once is turned away");
        drop(a);
        assert!(l.hashing().is_some());
    }
}
