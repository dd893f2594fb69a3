//! Saves a token, reads it back, replaces it and forgets it, through the app's own keyring code,
//! and prints how long each took. `tests/keyring-check.sh` runs it against a real Secret Service
//! (gnome-keyring, unlocked, on a private D-Bus). Exits 1 if the keyring did not give back what
//! was saved.
//!
//! `keyring-check --frozen-service` (Linux) first becomes a Secret Service that takes calls and
//! never answers. Saving must return at once, and reading must give up after its wait, with
//! nothing: the app signs in and starts whatever the keyring does.

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
        std::process::exit(if ok { 0 } else { 1 });
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
    std::process::exit(i32::from(failed));
}
