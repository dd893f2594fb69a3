//! The session token lives in the OS keyring (Secret Service, Keychain, Credential Manager),
//! never in a plain file. Without a usable keyring the app still works; it only cannot
//! remember the sign-in across restarts (logged once).

use keyring_core::Entry;

const SERVICE: &str = "app.handoff.desktop";

/// Installs the platform's credential store as the default. Call once at start-up.
pub fn init() {
    #[cfg(target_os = "linux")]
    let store = zbus_secret_service_keyring_store::Store::new();
    #[cfg(target_os = "macos")]
    let store = apple_native_keyring_store::keychain::Store::new();
    #[cfg(target_os = "windows")]
    let store = windows_native_keyring_store::Store::new();
    match store {
        Ok(store) => keyring_core::set_default_store(store),
        Err(e) => tracing::warn!(error = %e, "no OS keyring: sign-ins will not be remembered"),
    }
}

fn entry(server: &str) -> Option<Entry> {
    Entry::new(SERVICE, server).map_err(|e| tracing::warn!(error = %e, "keyring entry unavailable")).ok()
}

pub fn store_token(server: &str, token: &str) {
    if let Some(Err(e)) = entry(server).map(|e| e.set_password(token)) {
        tracing::warn!(error = %e, "token not saved to the OS keyring: you will sign in again next time");
    }
}

pub fn load_token(server: &str) -> Option<String> {
    entry(server)?.get_password().ok()
}

pub fn delete_token(server: &str) {
    if let Some(entry) = entry(server) {
        let _ = entry.delete_credential();
    }
}
