//! The operator's settings: built-in defaults, then a TOML file (`--config FILE`), then
//! `HANDOFF_*` environment variables, then command-line flags; each layer overrides the one
//! before it. Every setting is documented in `deploy/handoff-server.toml` (a test parses that
//! file, so it cannot drift from this one) and in docs/deploy.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::{Clock, Config, Database, Durability};

/// Every setting, with its default. The field names are the TOML keys; the variables are the
/// names in capitals after `HANDOFF_` (`session_idle_timeout` is `HANDOFF_SESSION_IDLE_TIMEOUT`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the database (`handoff.db`) and linked numbers' sessions live. Default: the OS
    /// data folder (`~/.local/share/handoff`).
    pub data_dir: Option<PathBuf>,
    /// The database: unset for `handoff.db` in the data folder, an SQLite file's path, or a
    /// `postgres://` URL (several nodes on one PostgreSQL: docs/deploy.md).
    #[serde(deserialize_with = "text::option")]
    pub database: Option<String>,
    /// Address and port to listen on (behind a reverse proxy: a loopback address).
    pub listen: SocketAddr,
    /// Several nodes on one PostgreSQL: where the other nodes reach this one (default
    /// `http://<listen>`; needed when `listen` is `0.0.0.0`).
    #[serde(deserialize_with = "text::option")]
    pub node_url: Option<String>,
    /// Seed demo users, a simulated WhatsApp number and a trickle of customer messages.
    pub demo: bool,
    /// With `admin_password`: the first Admin, created on an empty database.
    #[serde(deserialize_with = "text::option")]
    pub admin_email: Option<String>,
    #[serde(deserialize_with = "text::option")]
    pub admin_password: Option<String>,
    /// `full`: an acknowledged change survives power loss; `normal`: a crash of the server.
    pub durability: Durability,
    /// With a token, `GET /metrics` needs it as a Bearer token.
    #[serde(deserialize_with = "text::option")]
    pub metrics_token: Option<String>,
    /// `text` for people, `json` (one object per line) for a log collector.
    pub log_format: LogFormat,
    /// What is logged: a tracing filter (`RUST_LOG`, when set, wins).
    #[serde(deserialize_with = "text::string")]
    pub log_level: String,
    /// One line per HTTP request: method, path (never the query), status, latency.
    pub access_log: bool,
    /// A session unused this long ends (the app asks for the password again).
    #[serde(with = "span")]
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, however much it is used.
    #[serde(with = "span")]
    pub session_max_age: Duration,
    /// Live WebSocket connections one account may hold.
    pub ws_per_user: usize,
    /// Passwords hashed at once at sign-in (default: two per core).
    pub login_hashing_at_once: Option<usize>,
    /// How long a write waits for a lock someone else holds on the database.
    #[serde(with = "span")]
    pub busy_timeout: Duration,
    /// Outbound webhooks may go to loopback, private and link-local addresses (a receiver on
    /// this machine or the office network). Off by default: an Admin's webhook cannot make the
    /// server reach what only it can reach (docs/security.md).
    pub webhooks_to_private_addresses: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The default [`Settings::session_idle_timeout`]: two weeks (a holiday signs you out).
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(14 * 24 * 3600);
/// The default [`Settings::session_max_age`]: 90 days.
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            data_dir: None,
            database: None,
            node_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8750)),
            demo: false,
            admin_email: None,
            admin_password: None,
            durability: Durability::Full,
            metrics_token: None,
            log_format: LogFormat::Text,
            log_level: "info,sqlx=warn".into(),
            access_log: true,
            session_idle_timeout: SESSION_IDLE_TIMEOUT,
            session_max_age: SESSION_MAX_AGE,
            ws_per_user: crate::WS_PER_USER,
            login_hashing_at_once: None,
            busy_timeout: crate::BUSY_TIMEOUT,
            webhooks_to_private_addresses: false,
        }
    }
}

/// The settings' names, which are also the only `HANDOFF_*` variables read (others, such as the
/// app's `HANDOFF_CA_FILE`, may be set in the same environment).
const KEYS: &[&str] = &[
    "data_dir",
    "database",
    "node_url",
    "listen",
    "demo",
    "admin_email",
    "admin_password",
    "durability",
    "metrics_token",
    "log_format",
    "log_level",
    "access_log",
    "session_idle_timeout",
    "session_max_age",
    "ws_per_user",
    "login_hashing_at_once",
    "busy_timeout",
    "webhooks_to_private_addresses",
];

impl Settings {
    /// Defaults, then `file`, then the environment, then `flags` (a serializable struct whose
    /// unset fields are skipped).
    pub fn load(file: Option<&Path>, flags: impl Serialize) -> Result<Settings, String> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(format!("config file {} not found", file.display()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("HANDOFF_").only(KEYS))
            .merge(Serialized::defaults(flags))
            .extract()
            .map_err(|e| e.to_string())?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), String> {
        if self.admin_email.is_some() != self.admin_password.is_some() {
            return Err(
                "set both admin_email and admin_password (HANDOFF_ADMIN_EMAIL, HANDOFF_ADMIN_PASSWORD), or neither"
                    .into(),
            );
        }
        if self.session_idle_timeout < Duration::from_secs(60) || self.session_max_age < Duration::from_secs(60) {
            return Err("session_idle_timeout and session_max_age are at least 1m".into());
        }
        if self.ws_per_user == 0 || self.login_hashing_at_once == Some(0) {
            return Err("ws_per_user and login_hashing_at_once are at least 1".into());
        }
        Ok(())
    }

    /// The data folder: the setting, or `handoff` in the OS data folder.
    pub fn data_dir(&self) -> Result<PathBuf, String> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => Ok(dirs::data_dir().ok_or("no OS data folder: set data_dir")?.join("handoff")),
        }
    }

    /// The database these settings name.
    pub fn database(&self) -> Result<Database, String> {
        Database::from_setting(self.database.as_deref(), &self.data_dir()?)
    }

    /// The server's configuration from these settings.
    pub fn config(&self) -> Result<Config, String> {
        let mut config = Config::new(self.data_dir()?, self.listen);
        config.database = self.database()?;
        config.node_url = self.node_url.clone().filter(|u| !u.is_empty());
        config.demo = self.demo;
        config.bootstrap_admin = self.admin_email.clone().zip(self.admin_password.clone());
        config.simulator_receipts = true;
        config.clock = Clock::System;
        config.durability = self.durability;
        config.metrics_token = self.metrics_token.clone().filter(|t| !t.is_empty());
        config.ws_per_user = self.ws_per_user;
        config.busy_timeout = self.busy_timeout;
        config.access_log = self.access_log;
        config.webhooks_to_private_addresses = self.webhooks_to_private_addresses;
        config.session_idle = self.session_idle_timeout;
        config.session_max_age = self.session_max_age;
        if let Some(n) = self.login_hashing_at_once {
            config.login_hashing_at_once = n;
        }
        Ok(config)
    }

    /// The effective settings as TOML, secrets replaced by `"(set)"`.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        for secret in [&mut shown.admin_password, &mut shown.metrics_token] {
            if secret.is_some() {
                *secret = Some("(set)".into());
            }
        }
        if let Ok(database @ Database::Postgres(_)) = self.database() {
            shown.database = Some(database.describe()); // without its password
        }
        toml::to_string(&shown).expect("settings serialize")
    }
}

/// Durations as operators write them: read by humantime ("14d", "30m", "1h 30m"), written in
/// the largest unit that is exact ("90d", not "2months 29days 2h 52m 48s").
mod span {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let secs = d.as_secs();
        let text = [(86_400, "d"), (3600, "h"), (60, "m")]
            .iter()
            .find(|(unit, _)| secs > 0 && secs.is_multiple_of(*unit))
            .map_or_else(|| format!("{secs}s"), |(unit, name)| format!("{}{name}", secs / unit));
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        humantime_serde::deserialize(d)
    }
}

/// A text setting from a variable may look like a number or a boolean to figment
/// (`HANDOFF_ADMIN_PASSWORD=12345678`): it is taken as the text it was written as.
mod text {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Unsigned(u64),
        Signed(i64),
        Float(f64),
        Flag(bool),
    }

    impl From<Scalar> for String {
        fn from(s: Scalar) -> String {
            match s {
                Scalar::Text(t) => t,
                Scalar::Unsigned(n) => n.to_string(),
                Scalar::Signed(n) => n.to_string(),
                Scalar::Float(n) => n.to_string(),
                Scalar::Flag(b) => b.to_string(),
            }
        }
    }

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Scalar::deserialize(d).map(String::from)
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Option::<Scalar>::deserialize(d).map(|s| s.map(String::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example file in `deploy/` names every setting with its default value: it parses, and
    /// gives exactly the defaults.
    #[test]
    fn the_example_file_is_every_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/handoff-server.toml");
        let text = std::fs::read_to_string(&path).expect("deploy/handoff-server.toml");
        // Every setting is shown commented out (`# key = value`): take those lines as set.
        let all: String = text
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .filter(|l| KEYS.iter().any(|k| l.starts_with(&format!("{k} = "))))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed: Settings = Figment::from(Toml::string(&all)).extract().expect("the example parses");
        // The example shows these with sample values (they have no default).
        let expected = Settings {
            data_dir: parsed.data_dir.clone(),
            database: parsed.database.clone(),
            node_url: parsed.node_url.clone(),
            admin_email: parsed.admin_email.clone(),
            admin_password: parsed.admin_password.clone(),
            metrics_token: parsed.metrics_token.clone(),
            login_hashing_at_once: parsed.login_hashing_at_once,
            ..Settings::default()
        };
        assert_eq!(parsed, expected);
        for key in KEYS {
            assert!(all.lines().any(|l| l.starts_with(&format!("{key} = "))), "{key} is not in the example");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_name() {
        let err = Figment::from(Toml::string("listn = \"0.0.0.0:1\"")).extract::<Settings>().unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
        let err = Figment::from(Toml::string("session_idle_timeout = \"soon\"")).extract::<Settings>().unwrap_err();
        assert!(err.to_string().contains("session_idle_timeout"), "{err}");
    }
}
