//! Administration and live team information: users, teams, routing rules, API keys, webhooks,
//! the audit log and agents' load. These need the server (an Admin changes the system of record directly),
//! so they fail with "not reachable" while offline; the inbox itself never waits on them.

use std::io::Write;
use std::path::Path;

use handoff_proto::{
    AgentLoad, ApiKey, ApiKeyId, AuditEntry, ConversationId, CreateApiKeyRequest, CreateDeviceRequest,
    CreateRoutingRuleRequest, CreateTeamRequest, CreateUserRequest, CreatedApiKey, CreatedDevice, Device, DeviceId,
    Page, PatchTeamRequest, PatchUserRequest, QrResponse, ResetPasswordResponse, RoutingRule, RoutingTestRequest,
    RoutingTestResponse, RuleId, Team, TeamId, TeamMembersRequest, User, UserId,
};
use handoff_proto::{
    CreateWebhookRequest, CreatedWebhook, DeliveryId, PatchWebhookRequest, Webhook, WebhookDelivery, WebhookId,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{rest, Client, CoreError, CoreResult};

/// Filters of the audit log, as `GET /api/v1/audit` takes them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AuditFilter {
    pub actor: Option<UserId>,
    pub conversation: Option<ConversationId>,
    pub action: Option<String>,
}

impl AuditFilter {
    fn query(&self, cursor: Option<&str>, limit: u32) -> String {
        let mut q = format!("/api/v1/audit?limit={limit}");
        if let Some(a) = self.actor {
            q.push_str(&format!("&actor={a}"));
        }
        if let Some(c) = self.conversation {
            q.push_str(&format!("&conversation={c}"));
        }
        if let Some(action) = self.action.as_deref().filter(|a| !a.is_empty()) {
            let encoded: String = action
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            q.push_str(&format!("&action={encoded}"));
        }
        if let Some(c) = cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        q
    }
}

impl Client {
    pub(crate) async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> CoreResult<T> {
        let s = self.inner.session()?;
        rest::json(&self.inner.http, &s.server, &s.token, method, path, body).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> CoreResult<T> {
        self.call::<(), T>(Method::GET, path, None).await
    }

    /// Every agent, online now or not, with their open load (for the assign menu and the dashboard).
    pub async fn agents(&self) -> CoreResult<Vec<AgentLoad>> {
        Ok(self.get::<Page<AgentLoad>>("/api/v1/agents").await?.items)
    }

    pub async fn create_user(&self, req: CreateUserRequest) -> CoreResult<User> {
        self.call(Method::POST, "/api/v1/users", Some(&req)).await
    }

    pub async fn patch_user(&self, id: UserId, req: PatchUserRequest) -> CoreResult<User> {
        self.call(Method::PATCH, &format!("/api/v1/users/{id}"), Some(&req)).await
    }

    /// Gives someone a temporary password (returned once, for the Admin to pass on): every
    /// session of theirs ends, and their next sign-in may only choose a new password.
    pub async fn reset_password(&self, id: UserId) -> CoreResult<String> {
        let path = format!("/api/v1/users/{id}/reset-password");
        let answer: ResetPasswordResponse = self.call::<(), _>(Method::POST, &path, None).await?;
        Ok(answer.temporary_password)
    }

    pub async fn create_team(&self, req: CreateTeamRequest) -> CoreResult<Team> {
        self.call(Method::POST, "/api/v1/teams", Some(&req)).await
    }

    pub async fn patch_team(&self, id: TeamId, req: PatchTeamRequest) -> CoreResult<Team> {
        self.call(Method::PATCH, &format!("/api/v1/teams/{id}"), Some(&req)).await
    }

    pub async fn set_team_members(&self, id: TeamId, user_ids: Vec<UserId>) -> CoreResult<Team> {
        self.call(Method::PUT, &format!("/api/v1/teams/{id}/members"), Some(&TeamMembersRequest { user_ids })).await
    }

    pub async fn routing_rules(&self) -> CoreResult<Vec<RoutingRule>> {
        Ok(self.get::<Page<RoutingRule>>("/api/v1/routing-rules").await?.items)
    }

    pub async fn create_routing_rule(&self, req: CreateRoutingRuleRequest) -> CoreResult<RoutingRule> {
        self.call(Method::POST, "/api/v1/routing-rules", Some(&req)).await
    }

    /// Adds a linked number (Admins). A gateway device's answer carries its webhook secret, once.
    pub async fn link_device(&self, req: CreateDeviceRequest) -> CoreResult<CreatedDevice> {
        if req.name.trim().is_empty() {
            return Err(CoreError::Invalid("give the number a name, e.g. Support line".into()));
        }
        self.call(Method::POST, "/api/v1/devices", Some(&req)).await
    }

    /// The QR code to scan while a number waits to be linked.
    pub async fn device_qr(&self, id: DeviceId) -> CoreResult<QrResponse> {
        self.call::<(), _>(Method::GET, &format!("/api/v1/devices/{id}/qr"), None).await
    }

    /// Starts linking a logged-out number again (a new QR code follows).
    pub async fn relink_device(&self, id: DeviceId) -> CoreResult<Device> {
        self.call::<(), _>(Method::POST, &format!("/api/v1/devices/{id}/relink"), None).await
    }

    /// Unlinks a number and forgets its conversations (Admins).
    pub async fn remove_device(&self, id: DeviceId) -> CoreResult<()> {
        self.call::<(), ()>(Method::DELETE, &format!("/api/v1/devices/{id}"), None).await
    }

    pub async fn delete_routing_rule(&self, id: RuleId) -> CoreResult<()> {
        self.call::<(), ()>(Method::DELETE, &format!("/api/v1/routing-rules/{id}"), None).await
    }

    /// Which rule would route this message, changing nothing.
    pub async fn test_routing(&self, req: RoutingTestRequest) -> CoreResult<RoutingTestResponse> {
        self.call(Method::POST, "/api/v1/routing-rules/test", Some(&req)).await
    }

    pub async fn api_keys(&self) -> CoreResult<Vec<ApiKey>> {
        Ok(self.get::<Page<ApiKey>>("/api/v1/api-keys").await?.items)
    }

    pub async fn create_api_key(&self, req: CreateApiKeyRequest) -> CoreResult<CreatedApiKey> {
        self.call(Method::POST, "/api/v1/api-keys", Some(&req)).await
    }

    pub async fn revoke_api_key(&self, id: ApiKeyId) -> CoreResult<ApiKey> {
        self.call::<(), ApiKey>(Method::DELETE, &format!("/api/v1/api-keys/{id}"), None).await
    }

    pub async fn webhooks(&self) -> CoreResult<Vec<Webhook>> {
        Ok(self.get::<Page<Webhook>>("/api/v1/webhooks").await?.items)
    }

    /// Registers an endpoint; the answer holds its signing secret, shown this once.
    pub async fn create_webhook(&self, req: CreateWebhookRequest) -> CoreResult<CreatedWebhook> {
        self.call(Method::POST, "/api/v1/webhooks", Some(&req)).await
    }

    /// Changes an endpoint's address, events or status (pause, resume).
    pub async fn patch_webhook(&self, id: WebhookId, req: PatchWebhookRequest) -> CoreResult<Webhook> {
        self.call(Method::PATCH, &format!("/api/v1/webhooks/{id}"), Some(&req)).await
    }

    pub async fn delete_webhook(&self, id: WebhookId) -> CoreResult<()> {
        self.call::<(), ()>(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None).await
    }

    /// One page of an endpoint's delivery log, newest first.
    pub async fn webhook_deliveries(&self, id: WebhookId, cursor: Option<&str>) -> CoreResult<Page<WebhookDelivery>> {
        let mut path = format!("/api/v1/webhooks/{id}/deliveries?limit=50");
        if let Some(c) = cursor {
            path.push_str("&cursor=");
            path.push_str(c);
        }
        self.get(&path).await
    }

    /// "Send again".
    pub async fn retry_webhook_delivery(&self, id: WebhookId, delivery: DeliveryId) -> CoreResult<WebhookDelivery> {
        self.call::<(), WebhookDelivery>(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/deliveries/{delivery}/retry"),
            None,
        )
        .await
    }

    /// One page of the audit log, newest first.
    pub async fn audit(&self, filter: &AuditFilter, cursor: Option<&str>) -> CoreResult<Page<AuditEntry>> {
        self.get(&filter.query(cursor, 200)).await
    }

    /// Writes every audit entry matching `filter` to a CSV file at `path`, oldest last (as
    /// listed). Returns how many rows were written.
    pub async fn export_audit_csv(&self, filter: &AuditFilter, path: &Path) -> CoreResult<usize> {
        let io = |e: std::io::Error| CoreError::Invalid(format!("could not write {}: {e}", path.display()));
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        writeln!(out, "id,at,actor_id,actor,action,conversation_id,summary,seq").map_err(io)?;
        let mut cursor: Option<String> = None;
        let mut rows = 0;
        loop {
            let page: Page<AuditEntry> = self.get(&filter.query(cursor.as_deref(), 500)).await?;
            for e in &page.items {
                let fields = [
                    e.id.to_string(),
                    handoff_proto::sortable_time(e.at),
                    e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                    e.actor_name.clone(),
                    e.action.clone(),
                    e.conversation_id.map(|c| c.to_string()).unwrap_or_default(),
                    e.summary.clone(),
                    e.seq.map(|s| s.to_string()).unwrap_or_default(),
                ];
                writeln!(out, "{}", handoff_proto::csv::line(&fields)).map_err(io)?;
                rows += 1;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        out.flush().map_err(io)?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_queries_carry_their_filters() {
        let f = AuditFilter { action: Some("team.create".into()), ..Default::default() };
        assert_eq!(f.query(Some("42"), 500), "/api/v1/audit?limit=500&action=team.create&cursor=42");
        let f = AuditFilter { action: Some("a b".into()), ..Default::default() };
        assert_eq!(f.query(None, 10), "/api/v1/audit?limit=10&action=a%20b");
    }
}
