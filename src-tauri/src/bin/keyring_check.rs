//! Saves a token, reads it back, replaces it and forgets it, through the app's own keyring code,
//! and prints how long each took. `tests/keyring-check.sh` runs it against a real Secret Service
//! (gnome-keyring, unlocked, on a private D-Bus). Exits 1 if the keyring did not give back what
//! was saved.
//!
//! It does the same with a cache's key: made on first use and kept in the keyring, the same one
//! read back, a new one after it is forgotten.
//!
//! `keyring-check --frozen-service` (Linux) first becomes a Secret Service that takes calls and
//! never answers. Saving must return at once, and reading must give up after its wait, with
//! nothing: the app signs in and starts whatever the keyring does. A new cache then opens plain
//! (encrypted at a later start); a cache already encrypted with a key the keyring keeps is
//! refused rather than made unreadable by a new key.

use std::time::{Duration, Instant};

use handoff_desktop::secrets;

const SERVER: &str = "http://127.0.0.1:8750";

/// A Secret Service that accepts every session and never answers.
#[cfg(target_os = "linux")]
struct Frozen;

#[cfg(target_os = "linux")]
#[zbus::interface(name = "org.freedesktop.Secret.Service")]
impl Frozen {
    async fn open_session(
        &self,
        _algorithm: String,
        _input: zbus::OwnedVariant,
    ) -> (zbus::OwnedVariant, zbus::OwnedObjectPath) {
        std::future::pending().await
    }
}

fn ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

#[tokio::main]
async fn main() {
    #[cfg(target_os = "linux")]
    if std::env::args().any(|a| a == "--frozen-service") {
        let _service = zbus::connection::Builder::session()
            .name("org.freedesktop.secrets")
            .serve_at("/org/freedesktop/secrets", Frozen)
            .build()
            .await
            .expect("a frozen Secret Service on the session bus");
        secrets::init();
        let started = Instant::now();
        secrets::store_token(SERVER, "token-1");
        let saved_in = ms(started);
        println!("save returned after {saved_in} ms");
        let wait = Duration::from_secs(2);
        let started = Instant::now();
        let loaded = secrets::load_token(SERVER, wait).await;
        let gave_up_in = ms(started);
        println!("read gave up after {gave_up_in} ms with {loaded:?}");
        // "No answer", not "no token": the app then keeps the sign-in for its next start.
        let ok = saved_in < 100 && loaded == secrets::Loaded::NoAnswer && (2000..3000).contains(&gave_up_in);
        let keys_ok = frozen_cache_keys(wait).await;
        std::process::exit(if ok && keys_ok { 0 } else { 1 });
    }
    secrets::init();
    let wait = Duration::from_secs(10);
    let mut failed = false;
    let mut check = |what: &str, got: secrets::Loaded, want: Option<&str>, started: Instant| {
        let want = want.map_or(secrets::Loaded::Missing, |t| secrets::Loaded::Token(t.to_string()));
        let verdict = if got == want { "ok" } else { "WRONG" };
        failed |= got != want;
        println!("{what}: {got:?} in {} ms ({verdict})", ms(started));
    };
    let started = Instant::now();
    secrets::store_token(SERVER, "token-1");
    println!("save returned after {} ms", ms(started));
    check("read back", secrets::load_token(SERVER, wait).await, Some("token-1"), started);
    let started = Instant::now();
    secrets::store_token(SERVER, "token-2");
    check("read after a second sign-in", secrets::load_token(SERVER, wait).await, Some("token-2"), started);
    let started = Instant::now();
    check("another server's", secrets::load_token("http://other.example:8750", wait).await, None, started);
    let started = Instant::now();
    secrets::delete_token(SERVER);
    check("read after signing out", secrets::load_token(SERVER, wait).await, None, started);
    failed |= !cache_keys(wait).await;
    std::process::exit(i32::from(failed));
}

/// A scratch cache path of this run.
fn scratch_cache() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("keyring-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir.join("cache.db")
}

/// A cache's key with a working keyring: made and kept there, read back the same, a new one
/// once forgotten.
async fn cache_keys(wait: Duration) -> bool {
    let path = scratch_cache();
    let started = Instant::now();
    let first = secrets::cache_key_within(&path, false, wait).await;
    let again = secrets::cache_key_within(&path, false, wait).await;
    println!("a cache's key made and read back in {} ms", ms(started));
    secrets::forget_cache_key(&path);
    let after = secrets::cache_key_within(&path, false, wait).await;
    // An encrypted cache whose key the keyring no longer has: not opened at a start, given a new
    // key when the person signs in.
    secrets::forget_cache_key(&path);
    std::fs::write(&path, noise()).expect("a scratch cache");
    let at_start = secrets::cache_key_within(&path, false, wait).await;
    let signing_in = secrets::cache_key_within(&path, true, wait).await;
    secrets::forget_cache_key(&path);
    let _ = std::fs::remove_dir_all(path.parent().expect("a folder"));
    let kept = matches!((&first, &again, &after), (Ok(Some(a)), Ok(Some(b)), Ok(Some(c))) if a == b && a != c);
    let lost = at_start.as_ref().is_err_and(|e| e.contains("no longer has")) && matches!(signing_in, Ok(Some(_)));
    println!(
        "cache key: the same read back {}, a new one once forgotten {}; a lost key: at a start {at_start:?}, \
         signing in a new one {} ({})",
        matches!(&first, Ok(Some(_))) && first == again,
        matches!(&after, Ok(Some(_))) && after != first,
        matches!(signing_in, Ok(Some(_))),
        if kept && lost { "ok" } else { "WRONG" }
    );
    kept && lost
}

/// What an encrypted file looks like: bytes with no pattern (and no SQLite header).
fn noise() -> Vec<u8> {
    (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

/// A cache's key when the keyring never answers: a new cache opens plain (no key the keyring
/// may not have kept); a cache encrypted before is refused with a reason, not given a new key.
async fn frozen_cache_keys(wait: Duration) -> bool {
    let path = scratch_cache();
    let started = Instant::now();
    let new = secrets::cache_key_within(&path, false, wait).await;
    let gave_up_in = ms(started);
    // An encrypted cache (random bytes, as its first page is) whose key only the keyring has.
    std::fs::write(&path, noise()).expect("a scratch cache");
    let refused = secrets::cache_key_within(&path, false, wait).await;
    let _ = std::fs::remove_dir_all(path.parent().expect("a folder"));
    println!("a new cache after {gave_up_in} ms: {new:?} (plain this time); an encrypted cache: {refused:?}");
    matches!(new, Ok(None)) && refused.is_err_and(|e| e.contains("Unlock the keyring"))
}
