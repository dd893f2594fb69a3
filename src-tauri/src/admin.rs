//! Commands of the admin screens and the dashboard. Each is a line into handoff-core; the ones
//! that change the system of record need the server and say so when it cannot be reached.

use handoff_core::admin::AuditFilter;
use handoff_core::dashboard::Dashboard;
use handoff_proto::{
    AgentLoad, ApiKey, ApiKeyId, AuditEntry, CreateApiKeyRequest, CreateDeviceRequest, CreateRoutingRuleRequest,
    CreateTeamRequest, CreateUserRequest, CreatedApiKey, CreatedDevice, Device, DeviceId, Page, PatchTeamRequest,
    PatchUserRequest, RoutingRule, RoutingTestRequest, RoutingTestResponse, RuleId, Team, TeamId, User, UserId,
};
use handoff_proto::{
    CreateWebhookRequest, CreatedWebhook, DeliveryId, PatchWebhookRequest, Webhook, WebhookDelivery, WebhookId,
};
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::commands::CommandError;
use crate::AppCore;

type Result<T> = std::result::Result<T, CommandError>;

/// A number's QR code, drawn, and when WhatsApp replaces it.
#[derive(Serialize, specta::Type)]
pub struct DeviceQr {
    /// An SVG image of the code (dark modules on white, with the quiet zone).
    pub svg: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The alternative: a code to type on the phone.
    pub pair_code: Option<String>,
}

/// Draws `data` as a QR code in SVG.
pub fn qr_svg(data: &str) -> std::result::Result<String, String> {
    let code = qrcode::QrCode::new(data.as_bytes()).map_err(|e| format!("QR code not drawn: {e}"))?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build())
}

#[tauri::command]
#[specta::specta]
pub async fn link_device(
    core: State<'_, AppCore>,
    workspace: String,
    req: CreateDeviceRequest,
) -> Result<CreatedDevice> {
    Ok(core.client(&workspace)?.link_device(req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn device_qr(core: State<'_, AppCore>, workspace: String, id: DeviceId) -> Result<DeviceQr> {
    let qr = core.client(&workspace)?.device_qr(id).await?;
    let svg = qr_svg(&qr.qr).map_err(|message| CommandError { code: "qr".into(), message })?;
    Ok(DeviceQr { svg, expires_at: qr.expires_at, pair_code: qr.pair_code })
}

#[tauri::command]
#[specta::specta]
pub async fn relink_device(core: State<'_, AppCore>, workspace: String, id: DeviceId) -> Result<Device> {
    Ok(core.client(&workspace)?.relink_device(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn remove_device(core: State<'_, AppCore>, workspace: String, id: DeviceId) -> Result<()> {
    Ok(core.client(&workspace)?.remove_device(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn dashboard(core: State<'_, AppCore>, workspace: String) -> Result<Dashboard> {
    Ok(core.client(&workspace)?.dashboard().await?)
}

/// Agents with presence and open load (needs the server).
#[tauri::command]
#[specta::specta]
pub async fn agents(core: State<'_, AppCore>, workspace: String) -> Result<Vec<AgentLoad>> {
    Ok(core.client(&workspace)?.agents().await?)
}

/// A temporary password for someone (shown once); their sessions end.
#[tauri::command]
#[specta::specta]
pub async fn reset_password(core: State<'_, AppCore>, workspace: String, id: UserId) -> Result<String> {
    Ok(core.client(&workspace)?.reset_password(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_user(core: State<'_, AppCore>, workspace: String, req: CreateUserRequest) -> Result<User> {
    Ok(core.client(&workspace)?.create_user(req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn patch_user(
    core: State<'_, AppCore>,
    workspace: String,
    id: UserId,
    req: PatchUserRequest,
) -> Result<User> {
    Ok(core.client(&workspace)?.patch_user(id, req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_team(core: State<'_, AppCore>, workspace: String, req: CreateTeamRequest) -> Result<Team> {
    Ok(core.client(&workspace)?.create_team(req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn patch_team(
    core: State<'_, AppCore>,
    workspace: String,
    id: TeamId,
    req: PatchTeamRequest,
) -> Result<Team> {
    Ok(core.client(&workspace)?.patch_team(id, req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_team_members(
    core: State<'_, AppCore>,
    workspace: String,
    id: TeamId,
    user_ids: Vec<UserId>,
) -> Result<Team> {
    Ok(core.client(&workspace)?.set_team_members(id, user_ids).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn routing_rules(core: State<'_, AppCore>, workspace: String) -> Result<Vec<RoutingRule>> {
    Ok(core.client(&workspace)?.routing_rules().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_routing_rule(
    core: State<'_, AppCore>,
    workspace: String,
    req: CreateRoutingRuleRequest,
) -> Result<RoutingRule> {
    Ok(core.client(&workspace)?.create_routing_rule(req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_routing_rule(core: State<'_, AppCore>, workspace: String, id: RuleId) -> Result<()> {
    Ok(core.client(&workspace)?.delete_routing_rule(id).await?)
}

/// "Try the rules on a message".
#[tauri::command]
#[specta::specta]
pub async fn test_routing(
    core: State<'_, AppCore>,
    workspace: String,
    req: RoutingTestRequest,
) -> Result<RoutingTestResponse> {
    Ok(core.client(&workspace)?.test_routing(req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn api_keys(core: State<'_, AppCore>, workspace: String) -> Result<Vec<ApiKey>> {
    Ok(core.client(&workspace)?.api_keys().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_api_key(
    core: State<'_, AppCore>,
    workspace: String,
    req: CreateApiKeyRequest,
) -> Result<CreatedApiKey> {
    Ok(core.client(&workspace)?.create_api_key(req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn revoke_api_key(core: State<'_, AppCore>, workspace: String, id: ApiKeyId) -> Result<ApiKey> {
    Ok(core.client(&workspace)?.revoke_api_key(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn webhooks(core: State<'_, AppCore>, workspace: String) -> Result<Vec<Webhook>> {
    Ok(core.client(&workspace)?.webhooks().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn create_webhook(
    core: State<'_, AppCore>,
    workspace: String,
    req: CreateWebhookRequest,
) -> Result<CreatedWebhook> {
    Ok(core.client(&workspace)?.create_webhook(req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn patch_webhook(
    core: State<'_, AppCore>,
    workspace: String,
    id: WebhookId,
    req: PatchWebhookRequest,
) -> Result<Webhook> {
    Ok(core.client(&workspace)?.patch_webhook(id, req).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_webhook(core: State<'_, AppCore>, workspace: String, id: WebhookId) -> Result<()> {
    Ok(core.client(&workspace)?.delete_webhook(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn webhook_deliveries(
    core: State<'_, AppCore>,
    workspace: String,
    id: WebhookId,
    cursor: Option<String>,
) -> Result<Page<WebhookDelivery>> {
    Ok(core.client(&workspace)?.webhook_deliveries(id, cursor.as_deref()).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn retry_webhook_delivery(
    core: State<'_, AppCore>,
    workspace: String,
    id: WebhookId,
    delivery: DeliveryId,
) -> Result<WebhookDelivery> {
    Ok(core.client(&workspace)?.retry_webhook_delivery(id, delivery).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn audit(
    core: State<'_, AppCore>,
    workspace: String,
    filter: AuditFilter,
    cursor: Option<String>,
) -> Result<Page<AuditEntry>> {
    Ok(core.client(&workspace)?.audit(&filter, cursor.as_deref()).await?)
}

/// Where an export went.
#[derive(Debug, Serialize, specta::Type)]
pub struct Exported {
    pub path: String,
    pub rows: u32,
}

/// Writes the audit log (filtered) as CSV into the Downloads folder.
#[tauri::command]
#[specta::specta]
pub async fn export_audit_csv(
    app: AppHandle,
    core: State<'_, AppCore>,
    workspace: String,
    filter: AuditFilter,
) -> Result<Exported> {
    let dir = crate::commands::downloads_dir(&app)?;
    let path = dir.join(format!("handoff-audit-{}.csv", chrono::Utc::now().format("%Y%m%d-%H%M%S")));
    let rows = core.client(&workspace)?.export_audit_csv(&filter, &path).await?;
    Ok(Exported { path: path.display().to_string(), rows: rows as u32 })
}
