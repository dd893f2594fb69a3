//! Linked WhatsApp numbers, and the simulator's control endpoints (demo and tests).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json as AxumJson;
use handoff_channels::simulator::{Inbound, ReceiptPlan};
use handoff_channels::waha;
use handoff_channels::{AdapterError, DeviceAdapter, Jid, Simulator};
use handoff_proto::{
    CreateDeviceRequest, CreatedDevice, Delivery, Device, DeviceId, DeviceKind, DeviceStatus, ErrorBody, EventBody,
    GatewayConfig, Message, Page, QrResponse, SimulatorFailures, SimulatorInbound, SimulatorPhoneMessage,
    SimulatorQueued, SimulatorReceipt, SimulatorReceiptPlan, SimulatorSent,
};

use crate::audit::{self, Who};
use crate::auth::Actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::store;
use crate::AppState;

#[utoipa::path(get, path = "/api/v1/devices", responses((status = 200, body = Page<Device>)))]
pub async fn list(State(state): State<AppState>, _actor: Actor) -> ApiResult<AxumJson<Page<Device>>> {
    let items = store::devices::all(&mut *state.store.reader().await?, _actor.ws()).await?;
    Ok(AxumJson(Page { items, next_cursor: None }))
}

/// Link a new number. It starts `pending_link` and shows a QR code at `GET /devices/{id}/qr`.
/// A `gateway` device needs its WAHA session; the answer carries the secret its webhooks must
/// be signed with, shown this once.
#[utoipa::path(post, path = "/api/v1/devices", request_body = CreateDeviceRequest,
    responses((status = 201, body = CreatedDevice), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Json(req): Json<CreateDeviceRequest>,
) -> ApiResult<(StatusCode, AxumJson<CreatedDevice>)> {
    actor.require_admin("link devices")?;
    let name =
        crate::http::error::check_name("name", &req.name, 100, "A device needs a name (at most 100 characters).")?;
    let name = name.as_str();
    let pair_phone = match req.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(_) if req.kind != DeviceKind::WhatsappWeb => {
            return Err(ApiError::invalid(
                "phone",
                "A phone number (to link with a code) is only for whatsapp_web devices.",
            ))
        }
        Some(raw) => Some(pair_phone(raw).ok_or_else(|| {
            ApiError::invalid(
                "phone",
                "The phone number must be international, with its country code: +49 151 12345678.",
            )
        })?),
    };
    let linking = match &pair_phone {
        Some(phone) => Linking::PairCode(phone),
        None => Linking::Qr,
    };
    let (device, webhook_secret) = match req.kind {
        DeviceKind::Simulator => (create_device(&state, (&actor).into(), name, req.kind, linking).await?, None),
        DeviceKind::Gateway => {
            let gateway = req.gateway.ok_or_else(|| {
                ApiError::invalid("gateway", "A gateway device needs its WAHA session: {base_url, api_key, session}.")
            })?;
            let gateway = checked_gateway(gateway)?;
            let secret = webhook_secret();
            let device =
                create_device(&state, (&actor).into(), name, req.kind, Linking::Gateway(&gateway, &secret)).await?;
            (device, Some(secret))
        }
        DeviceKind::WhatsappWeb if cfg!(feature = "whatsapp-web") => {
            (create_device(&state, (&actor).into(), name, req.kind, linking).await?, None)
        }
        DeviceKind::WhatsappWeb => {
            return Err(ApiError::invalid(
                "kind",
                "This server was built without whatsapp_web devices (cargo feature whatsapp-web); use gateway or simulator.",
            ))
        }
    };
    // On several nodes, the first to take its lease drives it: this one, unless another was quicker.
    if state.cluster.take(&state, device.id).await? {
        state.devices.start(&state, actor.ws(), &device).await.map_err(|e| {
            tracing::error!(error = %e, "device adapter not started");
            ApiError::internal()
        })?;
    }
    Ok((StatusCode::CREATED, AxumJson(CreatedDevice { device, webhook_secret })))
}

/// A phone number as WhatsApp's pair-code linking wants it: country code and number, digits
/// only (`+49 151 1234-5678` is `4915112345678`); `None` when it cannot be one.
pub fn pair_phone(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
    let digits = compact.strip_prefix('+').or_else(|| compact.strip_prefix("00"))?;
    let valid =
        (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
    valid.then(|| digits.to_string())
}

/// Trims a gateway's settings and says what is wrong with them.
fn checked_gateway(g: GatewayConfig) -> ApiResult<GatewayConfig> {
    let base_url = waha::base_url(&g.base_url)
        .ok_or_else(|| ApiError::invalid("gateway.base_url", "base_url must be the WAHA server's http(s) address."))?;
    let api_key = g.api_key.trim().to_string();
    if api_key.is_empty() {
        return Err(ApiError::invalid("gateway.api_key", "api_key is WAHA's X-Api-Key; it cannot be empty."));
    }
    let session = g.session.trim().to_string();
    if session.is_empty() || !session.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(ApiError::invalid(
            "gateway.session",
            "session is the WAHA session's name (letters, digits, _ and -).",
        ));
    }
    Ok(GatewayConfig { base_url, api_key, session })
}

/// 32 random bytes, hex: the key WAHA signs this device's webhooks with.
fn webhook_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a new device gets linked.
pub enum Linking<'a> {
    /// By scanning its QR code.
    Qr,
    /// By a code typed on this phone (international number, digits only).
    PairCode(&'a str),
    /// Through a WAHA session, whose webhooks are signed with this secret.
    Gateway(&'a GatewayConfig, &'a str),
    /// Already linked to this number (the demo's simulator).
    Linked(&'a str),
}

/// Stores a new device (status `pending_link`, or `connected` for a demo device) with what
/// linking it needs (a gateway's settings and webhook secret, a pair-code phone), in one
/// transaction.
pub async fn create_device(
    state: &AppState,
    who: Who<'_>,
    name: &str,
    kind: DeviceKind,
    linking: Linking<'_>,
) -> ApiResult<Device> {
    let id = DeviceId::new();
    let (phone, pair_phone, gateway) = match linking {
        Linking::Qr => (None, None, None),
        Linking::PairCode(phone) => (None, Some(phone), None),
        Linking::Gateway(config, secret) => (None, None, Some((config, secret))),
        Linking::Linked(phone) => (Some(phone), None, None),
    };
    let status = if phone.is_some() { DeviceStatus::Connected } else { DeviceStatus::PendingLink };
    let mut w = state.store.begin().await?;
    let ws = who.workspace();
    let device = store::devices::NewDevice { workspace: ws, id, name, kind, status, phone, gateway, pair_phone };
    store::devices::insert(w.conn(), &device).await?;
    let device = store::devices::get(w.conn(), ws, id).await?.expect("inserted above");
    let seq = w.append(ws, EventBody::DeviceUpdated { device: device.clone() }).await?;
    audit::record(w.conn(), who, "device.create", None, &format!("Added device {name} ({})", kind.as_str()), Some(seq))
        .await?;
    w.commit().await?;
    Ok(device)
}

/// Unlink and forget a number, with its conversations and (a `whatsapp_web` device) the WhatsApp
/// session store with its keys.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(State(state): State<AppState>, actor: Actor, Path(id): Path<DeviceId>) -> ApiResult<StatusCode> {
    actor.require_admin("remove devices")?;
    if crate::store::devices::get(&mut *state.store.reader().await?, actor.ws(), id).await?.is_none() {
        return Err(ApiError::not_found("device"));
    }
    // Its worker stops first, a send in hand included: the replies still pending go with the
    // device's conversations, and none is half sent.
    state.outbound.stop(id).await;
    let removed = async {
        let mut w = state.store.begin().await?;
        if !store::devices::delete(w.conn(), actor.ws(), id).await? {
            return Err(ApiError::not_found("device"));
        }
        let seq = w.append(actor.ws(), EventBody::DeviceRemoved { device_id: id }).await?;
        audit::record(w.conn(), (&actor).into(), "device.remove", None, &format!("Removed device {id}"), Some(seq))
            .await?;
        w.commit().await?;
        Ok::<(), ApiError>(())
    }
    .await;
    if let Err(e) = removed {
        state.outbound.start(&state, id); // still there: its replies go on
        return Err(e);
    }
    if let Some(handle) = state.devices.remove(id) {
        if let Err(e) = handle.adapter.logout().await {
            tracing::info!(device = %id, error = %e, "logout on removal failed");
        }
    }
    let deleted = crate::devices::delete_session_store(&state.config.data_dir, id);
    if deleted > 0 {
        tracing::info!(device = %id, files = deleted, "the removed device's WhatsApp session store was deleted");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The QR code to scan while the device waits to be linked.
#[utoipa::path(get, path = "/api/v1/devices/{id}/qr", params(("id" = Uuid, Path)),
    responses((status = 200, body = QrResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn qr(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<QrResponse>> {
    actor.require_admin("link devices")?;
    let handle = state.devices.get_in(actor.ws(), id).ok_or_else(|| ApiError::not_found("device"))?;
    let qr = handle.qr.lock().unwrap_or_else(|p| p.into_inner()).clone();
    qr.map(AxumJson).ok_or_else(|| ApiError::conflict("not_pending_link", "This device is not waiting to be linked."))
}

fn simulator(state: &AppState, actor: &Actor, id: DeviceId) -> ApiResult<Arc<Simulator>> {
    actor.require_admin("drive the simulator")?;
    let handle = state.devices.get_in(actor.ws(), id).ok_or_else(|| ApiError::not_found("device"))?;
    handle.simulator.clone().ok_or_else(|| ApiError::invalid("id", "This device is not a simulator."))
}

fn adapter_error(e: AdapterError) -> ApiError {
    match e {
        AdapterError::NotConnected => {
            ApiError::conflict("device_not_connected", "The device is not connected: link it first.")
        }
        other => {
            tracing::error!(error = %other, "simulator event not stored");
            ApiError::internal()
        }
    }
}

/// A customer writes to this number: stored exactly as a real delivery (the same `wa_message_id`
/// twice is stored once). While the phone is disconnected WhatsApp holds the message: 202, and it
/// arrives when the phone reconnects.
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/inbound", params(("id" = Uuid, Path)), request_body = SimulatorInbound,
    responses((status = 201, body = Message), (status = 200, description = "A redelivery: already stored", body = Message),
        (status = 202, description = "Held by WhatsApp until the phone reconnects", body = SimulatorQueued),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn sim_inbound(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
    Json(req): Json<SimulatorInbound>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let sim = simulator(&state, &actor, id)?;
    let from = Jid::parse(&req.from)
        .ok_or_else(|| ApiError::invalid("from", "from must be a phone number (+4915112345678) or a WhatsApp JID."))?;
    if req.body.trim().is_empty() && req.media.is_none() {
        return Err(ApiError::invalid("body", "The message is empty."));
    }
    let alt = match req.alt.as_deref() {
        None => None,
        Some(a) => Some(
            Jid::parse(a).ok_or_else(|| ApiError::invalid("alt", "alt must be a phone number or a WhatsApp JID."))?,
        ),
    };
    let group = match req.group {
        None => None,
        Some(g) => match Jid::parse(&g.id).filter(|j| j.as_str().ends_with("@g.us")) {
            Some(jid) => Some((jid, g.subject)),
            None => return Err(ApiError::invalid("group.id", "group.id must be a group JID (…@g.us).")),
        },
    };
    let inbound = Inbound {
        from,
        alt,
        group,
        name: req.name,
        body: req.body,
        wa_message_id: req.wa_message_id,
        media: req.media,
        content: req.media_content.map(String::into_bytes),
    };
    // Delivered as WhatsApp would deliver it again; stored once (ingest knows the id). A message
    // stored before this request is a redelivery: 200, not 201.
    let asked = store::now();
    let (wa_message_id, delivered) = sim.inject_inbound(inbound).await.map_err(adapter_error)?;
    if !delivered {
        return Ok((StatusCode::ACCEPTED, AxumJson(SimulatorQueued { wa_message_id })).into_response());
    }
    let message = store::messages::by_wa_id(&mut *state.store.reader().await?, id, &wa_message_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let status = if message.created_at < asked { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, AxumJson(message)).into_response())
}

/// Someone types a message on the phone itself: stored as outbound, sent by the phone (no agent).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/phone-message", params(("id" = Uuid, Path)),
    request_body = SimulatorPhoneMessage,
    responses((status = 201, body = Message), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn sim_phone_message(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
    Json(req): Json<SimulatorPhoneMessage>,
) -> ApiResult<(StatusCode, AxumJson<Message>)> {
    let sim = simulator(&state, &actor, id)?;
    let to = Jid::parse(&req.to)
        .ok_or_else(|| ApiError::invalid("to", "to must be a phone number (+4915112345678) or a WhatsApp JID."))?;
    if req.body.trim().is_empty() {
        return Err(ApiError::invalid("body", "The message is empty."));
    }
    let wa_id = sim.phone_message(to, req.body).await.map_err(adapter_error)?;
    let message = store::messages::by_wa_id(&mut *state.store.reader().await?, id, &wa_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, AxumJson(message)))
}

/// Receipts from now on follow this plan: skipped, reordered, repeated, or early steps.
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/receipts", params(("id" = Uuid, Path)),
    request_body = SimulatorReceiptPlan, responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn sim_receipts(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
    Json(req): Json<SimulatorReceiptPlan>,
) -> ApiResult<StatusCode> {
    let sim = simulator(&state, &actor, id)?;
    if req.steps.contains(&Delivery::Pending) {
        return Err(ApiError::invalid("steps", "WhatsApp reports sent, delivered, read or failed; never pending."));
    }
    sim.set_receipt_plan(ReceiptPlan { steps: req.steps, early: req.early });
    Ok(StatusCode::NO_CONTENT)
}

/// The next sends fail, one per reason, as WhatsApp refuses them.
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/fail-next", params(("id" = Uuid, Path)),
    request_body = SimulatorFailures, responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn sim_fail_next(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
    Json(req): Json<SimulatorFailures>,
) -> ApiResult<StatusCode> {
    let sim = simulator(&state, &actor, id)?;
    if req.reasons.iter().any(|r| r.trim().is_empty()) {
        return Err(ApiError::invalid("reasons", "Each failure needs a reason."));
    }
    sim.fail_next(req.reasons);
    Ok(StatusCode::NO_CONTENT)
}

/// What this number was asked to send to WhatsApp, oldest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/simulator/sent", params(("id" = Uuid, Path)),
    responses((status = 200, body = Page<SimulatorSent>), (status = 404, body = ErrorBody)))]
pub async fn sim_sent(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<Page<SimulatorSent>>> {
    let sim = simulator(&state, &actor, id)?;
    let items = sim
        .sent()
        .into_iter()
        .map(|s| SimulatorSent { to: s.to.phone(), body: s.body, wa_message_id: s.wa_message_id, at: s.at })
        .collect();
    Ok(AxumJson(Page { items, next_cursor: None }))
}

/// Completes a pending link, as if the QR code had been scanned.
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/link", params(("id" = Uuid, Path)),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
pub async fn sim_link(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<Device>> {
    let sim = simulator(&state, &actor, id)?;
    sim.complete_link().await.map_err(adapter_error)?;
    current_device(&state, &actor, id).await
}

/// The phone loses its connection.
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/disconnect", params(("id" = Uuid, Path)),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
pub async fn sim_disconnect(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<Device>> {
    let sim = simulator(&state, &actor, id)?;
    sim.disconnect().await.map_err(adapter_error)?;
    current_device(&state, &actor, id).await
}

/// The phone comes back: after a disconnect, or when a ban is lifted.
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/reconnect", params(("id" = Uuid, Path)),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
pub async fn sim_reconnect(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<Device>> {
    let sim = simulator(&state, &actor, id)?;
    sim.reconnect().await.map_err(adapter_error)?;
    current_device(&state, &actor, id).await
}

/// The phone unlinks this device (Settings > Linked devices > Log out).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/logout", params(("id" = Uuid, Path)),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
pub async fn sim_logout(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<Device>> {
    let sim = simulator(&state, &actor, id)?;
    sim.logout().await.map_err(adapter_error)?;
    current_device(&state, &actor, id).await
}

/// WhatsApp bans the number for a while (until `reconnect`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/ban", params(("id" = Uuid, Path)),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
pub async fn sim_ban(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<Device>> {
    let sim = simulator(&state, &actor, id)?;
    sim.ban().await.map_err(adapter_error)?;
    current_device(&state, &actor, id).await
}

/// The QR code expires and a new one is shown (only while the device waits to be linked).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/rotate-qr", params(("id" = Uuid, Path)),
    responses((status = 200, body = QrResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn sim_rotate_qr(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<QrResponse>> {
    let sim = simulator(&state, &actor, id)?;
    sim.rotate_qr().await.map_err(|e| match e {
        AdapterError::Refused(_) => ApiError::conflict("not_pending_link", "This device is not waiting to be linked."),
        other => adapter_error(other),
    })?;
    qr(State(state), actor, Path(id)).await
}

/// Link a logged-out number again: it goes back to `pending_link` with a new QR code.
#[utoipa::path(post, path = "/api/v1/devices/{id}/relink", params(("id" = Uuid, Path)),
    responses((status = 200, body = Device), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn relink(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
) -> ApiResult<AxumJson<Device>> {
    actor.require_admin("link devices")?;
    let handle = state.devices.get_in(actor.ws(), id).ok_or_else(|| ApiError::not_found("device"))?;
    let device = current_device(&state, &actor, id).await?.0;
    if device.status == DeviceStatus::Connected {
        return Err(ApiError::conflict("connected", "This device is connected: log it out on the phone first."));
    }
    handle.adapter.relink().await.map_err(|e| {
        tracing::warn!(device = %id, error = %e, "relink failed");
        ApiError::new(StatusCode::BAD_GATEWAY, "device_unreachable", format!("The device could not start linking: {e}"))
    })?;
    let mut w = state.store.begin().await?;
    audit::record(w.conn(), (&actor).into(), "device.relink", None, &format!("Relinked device {}", device.name), None)
        .await?;
    w.commit().await?;
    current_device(&state, &actor, id).await
}

/// WhatsApp reports a delivery receipt for a sent message (states only move forward).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/receipt", params(("id" = Uuid, Path)), request_body = SimulatorReceipt,
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn sim_receipt(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<DeviceId>,
    Json(req): Json<SimulatorReceipt>,
) -> ApiResult<StatusCode> {
    let sim = simulator(&state, &actor, id)?;
    sim.receipt(req.wa_message_id, req.state).await.map_err(adapter_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn current_device(state: &AppState, actor: &Actor, id: DeviceId) -> ApiResult<AxumJson<Device>> {
    let mut conn = state.store.reader().await?;
    store::devices::get(&mut conn, actor.ws(), id).await?.map(AxumJson).ok_or_else(|| ApiError::not_found("device"))
}

#[cfg(test)]
mod tests {
    use super::pair_phone;

    #[test]
    fn pair_code_phones_are_international_digits() {
        assert_eq!(pair_phone("+49 151 1234-5678").as_deref(), Some("4915112345678"));
        assert_eq!(pair_phone("0044 (7700) 900123").as_deref(), Some("447700900123"));
        for bad in
            ["0151 12345678", "4915112345678", "+49 151 12ab5678", "+0151 12345678", "+49 1", "+1234567890123456"]
        {
            assert_eq!(pair_phone(bad), None, "{bad}");
        }
    }
}
