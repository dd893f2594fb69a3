//! The operator's kit through the real binary, as an admin types it: `create-admin`,
//! `reset-password`, `backup` while the server runs, `restore` (a new epoch), the data folder's
//! lock, and the settings file layered under variables and flags.
#![cfg(unix)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

const DEADLINE: Duration = Duration::from_secs(20);
const BIN: &str = env!("CARGO_BIN_EXE_handoff-server");

/// Runs a subcommand to its end: (exit code, stdout, stderr).
async fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("HANDOFF_ADMIN_PASSWORD").env_remove("HANDOFF_ADMIN_EMAIL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(DEADLINE, cmd.output()).await.expect("finishes").expect("runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// The password a subcommand printed on its last line.
fn printed_password(stdout: &str) -> String {
    stdout.trim_end().lines().last().expect("a password line").trim().to_string()
}

struct Server {
    child: Child,
    url: String,
    /// Everything it logged on stderr.
    log: tokio::sync::mpsc::UnboundedReceiver<String>,
}

async fn serve(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").args(["--listen", "127.0.0.1:0"]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).spawn().expect("starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("handoff-server listening on ") {
                return url.to_string();
            }
        }
        panic!("the server ended before it listened");
    })
    .await
    .expect("listening in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (tx, log) = tokio::sync::mpsc::unbounded_channel();
    let mut errors = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = errors.next_line().await {
            println!("server: {line}");
            let _ = tx.send(line);
        }
    });
    Server { child, url, log }
}

impl Server {
    /// SIGTERM, as systemd stops it; waits for exit 0.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running") as i32;
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(DEADLINE, self.child.wait()).await.expect("stops").unwrap();
        assert!(exit.success(), "{exit}");
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn login(http: &reqwest::Client, url: &str, email: &str, password: &str) -> (u16, Value) {
    call(
        http,
        reqwest::Method::POST,
        &format!("{url}/api/v1/auth/login"),
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

async fn epoch(data_dir: &Path) -> String {
    use sqlx::{ConnectOptions, Connection};
    let mut conn =
        sqlx::sqlite::SqliteConnectOptions::new().filename(data_dir.join("handoff.db")).connect().await.unwrap();
    let epoch = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'epoch'").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    epoch
}

#[tokio::test]
async fn an_admin_creates_resets_backs_up_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let http = reqwest::Client::new();

    // create-admin with no password: a temporary one, to be changed at the first sign-in.
    let (code, out, err) =
        run(&["create-admin", "--email", "owner@ops.local", "--name", "Olga", "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    let temporary = printed_password(&out);
    let server = serve(&["--data-dir", data_arg], &[]).await;
    let (status, body) = login(&http, &server.url, "owner@ops.local", &temporary).await;
    assert_eq!((status, &body["user"]["must_change_password"]), (200, &json!(true)), "{body}");
    assert_eq!(body["user"]["role"], "admin");
    let token = body["token"].as_str().unwrap().to_string();
    let change = json!({"current_password": temporary, "new_password": "the owner's own passphrase"});
    let (status, _) =
        call(&http, reqwest::Method::POST, &format!("{}/api/v1/me/password", server.url), Some(&token), Some(change))
            .await;
    assert_eq!(status, 204);

    // While it runs, the data folder is its own: nothing else may change it.
    let (code, _, err) = run(&["reset-password", "--email", "owner@ops.local", "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 1);
    assert!(err.contains("in use by a running handoff-server"), "{err}");
    let (code, _, err) = run(&["serve", "--listen", "127.0.0.1:0", "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 1, "a second server on the same data is refused");
    assert!(err.contains("in use"), "{err}");

    // An online backup, then more work the backup does not have.
    let users = format!("{}/api/v1/users", server.url);
    let new_user =
        |email: &str| json!({"email": email, "name": "Someone", "password": "long enough pw", "role": "agent"});
    assert_eq!(
        call(&http, reqwest::Method::POST, &users, Some(&token), Some(new_user("before@ops.local"))).await.0,
        201
    );
    let backup = dir.path().join("backup.db");
    let (code, out, err) = run(&["backup", backup.to_str().unwrap(), "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("integrity checked"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600, "a backup is private");
    let (code, _, err) = run(&["backup", backup.to_str().unwrap(), "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 1, "a backup never overwrites");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        call(&http, reqwest::Method::POST, &users, Some(&token), Some(new_user("after@ops.local"))).await.0,
        201
    );
    server.stop().await;

    // reset-password on the stopped server.
    let (code, out, err) = run(&["reset-password", "--email", "owner@ops.local", "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    let reset = printed_password(&out);
    let (code, _, err) = run(&["reset-password", "--email", "nobody@ops.local", "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 1);
    assert!(err.contains("nobody has the email"), "{err}");
    let before_restore = epoch(&data).await;

    // restore: the backup's data, under a new epoch; the replaced database kept.
    let (code, out, err) = run(&["restore", backup.to_str().unwrap(), "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("every app resyncs"), "{out}");
    let after_restore = epoch(&data).await;
    assert_ne!(before_restore, after_restore, "a restored database has a new epoch");
    assert!(std::fs::read_dir(&data).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("before-restore")));
    let server = serve(&["--data-dir", data_arg], &[]).await;
    // The backup predates the reset: the owner's own password works again, the reset one does not.
    assert_eq!(login(&http, &server.url, "owner@ops.local", &reset).await.0, 401);
    let (status, body) = login(&http, &server.url, "owner@ops.local", "the owner's own passphrase").await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    let users = format!("{}/api/v1/users", server.url);
    let (_, list) = call(&http, reqwest::Method::GET, &users, Some(token), None).await;
    let emails: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|u| u["email"].as_str()).collect();
    assert!(emails.contains(&"before@ops.local") && !emails.contains(&"after@ops.local"), "{emails:?}");
    server.stop().await;

    let (code, _, err) =
        run(&["restore", dir.path().join("nothing.db").to_str().unwrap(), "--data-dir", data_arg], &[]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a usable Handoff backup"), "{err}");
}

/// On PostgreSQL (the test command's PostgreSQL run) the kit works beside running nodes: there is
/// no data-folder lock on a shared database, `reset-password` takes effect on a running node,
/// backups are PostgreSQL's own (the subcommands say so), and `new-epoch` follows a restore.
#[tokio::test]
async fn on_postgres_the_kit_runs_beside_the_nodes() {
    let Some(base) = std::env::var("HANDOFF_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        println!("not a PostgreSQL run: the SQLite kit is tested by an_admin_creates_resets_backs_up_and_restores");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let handoff_server::Database::Postgres(url) = handoff_server::store::test_database(&base, &data) else {
        unreachable!()
    };
    let on_pg = ["--database", url.as_str(), "--data-dir", data.to_str().unwrap()];
    let with = |args: &[&str]| -> Vec<String> { args.iter().chain(on_pg.iter()).map(|a| a.to_string()).collect() };
    let run_with = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, &[]).await
    };
    let http = reqwest::Client::new();

    let (code, out, err) = run_with(with(&["create-admin", "--email", "owner@ops.local"])).await;
    assert_eq!(code, 0, "{out}{err}");
    let temporary = printed_password(&out);
    let server = serve(&on_pg, &[]).await;
    let (status, body) = login(&http, &server.url, "owner@ops.local", &temporary).await;
    assert_eq!((status, &body["user"]["must_change_password"]), (200, &json!(true)), "{body}");

    // No lock on a shared database: reset-password runs beside the node, which obeys it at once.
    let (code, out, err) = run_with(with(&["reset-password", "--email", "owner@ops.local"])).await;
    assert_eq!(code, 0, "{out}{err}");
    let reset = printed_password(&out);
    assert_eq!(login(&http, &server.url, "owner@ops.local", &temporary).await.0, 401);
    assert_eq!(login(&http, &server.url, "owner@ops.local", &reset).await.0, 200);

    // Backups are PostgreSQL's own, and the subcommands say which tools to use.
    let backup = dir.path().join("backup.db");
    let (code, _, err) = run_with(with(&["backup", backup.to_str().unwrap()])).await;
    assert_eq!(code, 1);
    assert!(err.contains("pg_dump") && !backup.exists(), "{err}");
    let (code, _, err) = run_with(with(&["restore", backup.to_str().unwrap()])).await;
    assert_eq!(code, 1);
    assert!(err.contains("pg_restore") && err.contains("new-epoch"), "{err}");
    server.stop().await;

    // After a restore with pg_restore: a new epoch, so every app resyncs.
    let before = pg_epoch(&url).await;
    let (code, out, err) = run_with(with(&["new-epoch"])).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("every app resyncs"), "{out}");
    assert_ne!(pg_epoch(&url).await, before);
}

async fn pg_epoch(url: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let epoch = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'epoch'").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    epoch
}

#[tokio::test]
async fn settings_come_from_the_file_then_variables_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("handoff-server.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9001\"\nws_per_user = 7\nsession_idle_timeout = \"30m\"\nlog_format = \"json\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let env = [("HANDOFF_WS_PER_USER", "9"), ("HANDOFF_ADMIN_EMAIL", "a@b.c"), ("HANDOFF_ADMIN_PASSWORD", "12345678")];
    let (code, out, err) =
        run(&["serve", "--config", config, "--listen", "127.0.0.1:9002", "--print-config"], &env).await;
    assert_eq!(code, 0, "{err}");
    let shown: toml::Value = toml::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(shown["listen"].as_str(), Some("127.0.0.1:9002"), "a flag beats the file");
    assert_eq!(shown["ws_per_user"].as_integer(), Some(9), "a variable beats the file");
    assert_eq!(shown["session_idle_timeout"].as_str(), Some("30m"), "the file beats the default");
    assert_eq!(shown["log_format"].as_str(), Some("json"));
    assert_eq!(shown["admin_password"].as_str(), Some("(set)"), "secrets are not printed (and digits are text)");
    assert_eq!(shown["session_max_age"].as_str(), Some("90d"), "the default");

    std::fs::write(&file, "listn = \"127.0.0.1:9001\"\n").unwrap();
    let (code, _, err) = run(&["serve", "--config", config, "--print-config"], &[]).await;
    assert_eq!(code, 1);
    assert!(err.contains("listn"), "an unknown key is named: {err}");
    let (code, _, err) = run(&["serve", "--config", "/nonexistent.toml", "--print-config"], &[]).await;
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");

    // A real server from a file: JSON logs with an access line per request, never the query.
    let data = dir.path().join("data");
    std::fs::write(&file, format!("data_dir = {:?}\nlog_format = \"json\"\n", data.to_str().unwrap())).unwrap();
    let mut server = serve(&["--config", config], &[("RUST_LOG", "info")]).await;
    let http = reqwest::Client::new();
    let (status, _) =
        call(&http, reqwest::Method::GET, &format!("{}/readyz?secret=hunter2", server.url), None, None).await;
    assert_eq!(status, 200);
    let access = tokio::time::timeout(DEADLINE, async {
        loop {
            let line = server.log.recv().await.expect("the server logs");
            let Ok(entry) = serde_json::from_str::<Value>(&line) else { panic!("not JSON: {line}") };
            if entry["target"] == "handoff_server::access" {
                return (entry, line);
            }
        }
    })
    .await
    .expect("an access line");
    assert_eq!(access.0["fields"]["status"], 200, "{}", access.1);
    assert_eq!(access.0["span"]["path"], "/readyz", "{}", access.1);
    assert!(!access.1.contains("hunter2"), "the query string is never logged: {}", access.1);
    server.stop().await;
}
