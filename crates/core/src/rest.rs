//! The HTTP calls the core makes: sign-in, re-reading a conversation after a refusal, and
//! [`json`] for the rest (accounts, Admin).

use handoff_proto::{Conversation, ConversationId, ErrorBody, LoginRequest, User, Workspace, WorkspaceId};
use reqwest::StatusCode;

use crate::{CoreError, CoreResult};

fn unreachable(server: &str, e: reqwest::Error) -> CoreError {
    tracing::debug!(error = %e, server, "request failed");
    match crate::tls::failure(&e) {
        Some(detail) => CoreError::Tls { server: server.to_string(), detail },
        None => CoreError::Unreachable(server.to_string()),
    }
}

async fn server_error(resp: reqwest::Response) -> CoreError {
    let status = resp.status();
    match resp.json::<ErrorBody>().await {
        Ok(body) => CoreError::Server(body.error.message),
        Err(_) => CoreError::Server(format!("the server answered {status}")),
    }
}

/// A 401: the session ran out ([`CoreError::SessionExpired`]: the password carries on) or is
/// gone (signed out, revoked, the user deactivated).
async fn unauthorized(resp: reqwest::Response) -> CoreError {
    match resp.json::<ErrorBody>().await {
        Ok(body) if body.error.code == "session_expired" => CoreError::SessionExpired,
        Ok(body) if body.error.code == "access_removed" => CoreError::AccessRemoved,
        _ => CoreError::NotSignedIn,
    }
}

/// What the desktop app says it is (`User-Agent`): the server shows it in the session list, so
/// people recognise "Handoff-Desktop/0.1.0 (windows)" as their laptop.
pub fn user_agent() -> String {
    format!("Handoff-Desktop/{} ({})", env!("CARGO_PKG_VERSION"), std::env::consts::OS)
}

/// What the app takes from a sign-in's answer (`LoginResponse`): read leniently, so that a server
/// from before workspaces (no `workspace` in its answer) still signs the app in.
#[derive(serde::Deserialize)]
pub struct SignedIn {
    pub token: String,
    pub user: User,
    #[serde(default)]
    pub workspace: Option<Workspace>,
    /// Every workspace of the account on this server (empty from a server from before them).
    #[serde(default)]
    pub workspaces: Vec<handoff_proto::WorkspaceEntry>,
}

/// Signs in to `workspace` (the account's oldest when `None`).
pub async fn login(
    http: &reqwest::Client,
    server: &str,
    email: &str,
    password: &str,
    workspace: Option<WorkspaceId>,
) -> CoreResult<SignedIn> {
    let request =
        LoginRequest { email: email.trim().to_string(), password: password.to_string(), workspace_id: workspace };
    let resp = http
        .post(format!("{server}/api/v1/auth/login"))
        .json(&request)
        .send()
        .await
        .map_err(|e| unreachable(server, e))?;
    match resp.status() {
        StatusCode::OK => resp.json().await.map_err(|e| CoreError::Server(e.to_string())),
        StatusCode::UNAUTHORIZED => Err(CoreError::WrongCredentials),
        _ => Err(server_error(resp).await),
    }
}

pub async fn me(http: &reqwest::Client, server: &str, token: &str) -> CoreResult<User> {
    let resp =
        http.get(format!("{server}/api/v1/me")).bearer_auth(token).send().await.map_err(|e| unreachable(server, e))?;
    match resp.status() {
        StatusCode::OK => resp.json().await.map_err(|e| CoreError::Server(e.to_string())),
        StatusCode::UNAUTHORIZED => Err(unauthorized(resp).await),
        _ => Err(server_error(resp).await),
    }
}

pub async fn logout(http: &reqwest::Client, server: &str, token: &str) -> CoreResult<()> {
    let resp = http
        .post(format!("{server}/api/v1/auth/logout"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| unreachable(server, e))?;
    if resp.status().is_success() || resp.status() == StatusCode::UNAUTHORIZED {
        Ok(())
    } else {
        Err(server_error(resp).await)
    }
}

pub async fn conversation(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    id: ConversationId,
) -> CoreResult<Conversation> {
    let resp = http
        .get(format!("{server}/api/v1/conversations/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| unreachable(server, e))?;
    if resp.status() == StatusCode::OK {
        resp.json().await.map_err(|e| CoreError::Server(e.to_string()))
    } else {
        Err(server_error(resp).await)
    }
}

/// Any authenticated JSON call: `body` goes out as JSON, the answer comes back decoded
/// (`()` for 204). A refusal becomes [`CoreError::Server`] with the server's sentence.
pub async fn json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&B>,
) -> CoreResult<T> {
    let mut req = http.request(method, format!("{server}{path}")).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.map_err(|e| unreachable(server, e))?;
    match resp.status() {
        StatusCode::UNAUTHORIZED => Err(unauthorized(resp).await),
        StatusCode::NO_CONTENT => serde_json::from_str("null").map_err(|e| CoreError::Server(e.to_string())),
        s if s.is_success() => resp.json().await.map_err(|e| CoreError::Server(e.to_string())),
        _ => Err(server_error(resp).await),
    }
}

/// An authenticated download written as it arrives: each chunk goes to `sink`, and `progress`
/// hears the bytes so far and the whole size when the server said it.
pub async fn download(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    path: &str,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    mut progress: impl FnMut(u64, Option<u64>),
) -> CoreResult<u64> {
    let request = http.get(format!("{server}{path}")).bearer_auth(token).timeout(std::time::Duration::from_secs(600));
    let mut resp = request.send().await.map_err(|e| unreachable(server, e))?;
    match resp.status() {
        StatusCode::UNAUTHORIZED => return Err(unauthorized(resp).await),
        s if !s.is_success() => return Err(server_error(resp).await),
        _ => {}
    }
    let total = resp.content_length();
    let mut done = 0u64;
    progress(0, total);
    while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(server, e))? {
        sink(&chunk).map_err(|e| CoreError::Disk(format!("the download could not be written: {e}")))?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    Ok(done)
}

/// An authenticated download: the answer's bytes (a refusal becomes the server's sentence).
/// Files take longer than the client's usual 15 s: up to 100 MiB fetched from WhatsApp first.
pub async fn bytes(http: &reqwest::Client, server: &str, token: &str, path: &str) -> CoreResult<Vec<u8>> {
    let request = http.get(format!("{server}{path}")).bearer_auth(token).timeout(std::time::Duration::from_secs(300));
    let resp = request.send().await.map_err(|e| unreachable(server, e))?;
    match resp.status() {
        StatusCode::UNAUTHORIZED => Err(unauthorized(resp).await),
        s if s.is_success() => Ok(resp.bytes().await.map_err(|e| unreachable(server, e))?.to_vec()),
        _ => Err(server_error(resp).await),
    }
}
