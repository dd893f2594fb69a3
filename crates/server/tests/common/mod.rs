//! A real server on a loopback port and a small HTTP client for it, shared by the API tests.

#![allow(dead_code)] // each test binary uses its own part

use handoff_proto::{Conversation, Device, Message, User};
use handoff_server::{Config, ServerHandle};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery";

pub struct Api {
    pub server: ServerHandle,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// How long any awaited answer may take.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

impl Api {
    pub async fn start() -> Api {
        Api::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path());
        config.bootstrap_admin = Some(("admin@test.local".into(), PASSWORD.into()));
        configure(&mut config);
        let server = handoff_server::start(config).await.unwrap();
        Api { server, http: reqwest::Client::new(), _dir: dir }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_with(method, path, token, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.server.url()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn login(&self, email: &str) -> String {
        let (status, body) = self
            .send(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": email, "password": PASSWORD})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn user(&self, admin: &str, email: &str, role: &str) -> (User, String) {
        let body =
            json!({"email": email, "name": email.split('@').next().unwrap(), "password": PASSWORD, "role": role});
        let (status, user) = self.send(Method::POST, "/api/v1/users", Some(admin), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        (serde_json::from_value(user).unwrap(), self.login(email).await)
    }

    /// The last seq of the event log: unchanged means nothing was written.
    pub async fn head(&self, token: &str) -> i64 {
        self.send(Method::GET, "/api/v1/sync?since=0&limit=1", Some(token), None).await.1["head_seq"].as_i64().unwrap()
    }

    /// A linked simulator device and one conversation with a customer message.
    pub async fn conversation(&self, admin: &str) -> (Device, Conversation) {
        let (_, device) = self
            .send(Method::POST, "/api/v1/devices", Some(admin), Some(json!({"name": "Line", "kind": "simulator"})))
            .await;
        let device: Device = serde_json::from_value(device).unwrap();
        self.send(Method::POST, &format!("/api/v1/devices/{}/simulator/link", device.id), Some(admin), None).await;
        let (status, msg) = self
            .send(
                Method::POST,
                &format!("/api/v1/devices/{}/simulator/inbound", device.id),
                Some(admin),
                Some(json!({"from": "+4915112345678", "name": "Lena", "body": "Hello"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{msg}");
        let msg: Message = serde_json::from_value(msg).unwrap();
        let (_, c) =
            self.send(Method::GET, &format!("/api/v1/conversations/{}", msg.conversation_id), Some(admin), None).await;
        (device, serde_json::from_value(c).unwrap())
    }
}

pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}
