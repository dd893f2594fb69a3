//! Outbound webhooks (docs/api.md, "Webhooks"). An Admin registers endpoints with the event
//! types they want; the worker ([`worker`]) follows the event log, makes a delivery for each
//! event an endpoint wants ([`payload`]), and posts it, signed, retrying with backoff for a day
//! ([`send`]). Nothing here posts inside a request: a route only writes rows and wakes the worker.

pub mod payload;
pub mod send;
pub mod worker;

use handoff_proto::{
    CreateWebhookRequest, CreatedWebhook, DeliveryId, Page, PatchWebhookRequest, Webhook, WebhookDelivery,
    WebhookEvent, WebhookId, WebhookStatus,
};
use tokio::sync::Notify;

use crate::audit;
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::store;
use crate::AppState;

/// Endpoints one workspace may register.
pub const MAX_ENDPOINTS: usize = 20;
/// The longest address accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// Wakes the worker at once (a new endpoint, one resumed, a delivery to send again).
#[derive(Default)]
pub struct Kick(Notify);

impl Kick {
    pub fn kick(&self) {
        self.0.notify_one();
    }

    pub async fn kicked(&self) {
        self.0.notified().await
    }
}

pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<Webhook>> {
    let mut conn = state.store.reader().await?;
    Ok(store::webhooks::endpoints(&mut conn, actor.ws()).await?)
}

/// Registers an endpoint: it is given the events that happen from now on.
pub async fn create(state: &AppState, actor: &Actor, req: CreateWebhookRequest) -> Result<CreatedWebhook> {
    let url =
        send::check_url(&req.url, state.config.webhooks_to_private_addresses).map_err(|e| Error::invalid("url", e))?;
    let events = check_events(&req.events)?;
    let secret = format!("whsec_{}", crate::auth::new_token().trim_start_matches("hnd_"));
    let id = WebhookId::new();
    let now = store::now();
    let mut w = state.store.begin().await?;
    if store::webhooks::endpoints(w.conn(), actor.ws()).await?.len() >= MAX_ENDPOINTS {
        return Err(Error::conflict(
            "too_many_webhooks",
            format!("A workspace has at most {MAX_ENDPOINTS} webhook endpoints: delete one first."),
        ));
    }
    // Read inside the writer's transaction: no event can slip in between this and the insert.
    let head = store::events::head_seq(w.conn(), actor.ws()).await?;
    let new = store::webhooks::NewEndpoint {
        id,
        url: &url,
        events: &events,
        secret: &secret,
        cursor_seq: head,
        created_by: actor.id(),
    };
    store::webhooks::insert_endpoint(w.conn(), actor.ws(), &new, now).await?;
    let summary = format!("Registered webhook {} for {}", send::host_of(&url), event_list(&events));
    audit::record(w.conn(), actor.into(), "webhook.create", None, &summary, None).await?;
    let webhook = store::webhooks::endpoint(w.conn(), actor.ws(), id).await?.expect("inserted above");
    w.commit().await?;
    state.webhooks.kick();
    Ok(CreatedWebhook { webhook, secret })
}

/// Changes an endpoint's address, events or status (pausing, resuming).
pub async fn patch(state: &AppState, actor: &Actor, id: WebhookId, req: PatchWebhookRequest) -> Result<Webhook> {
    let url = req
        .url
        .as_deref()
        .map(|u| send::check_url(u, state.config.webhooks_to_private_addresses).map_err(|e| Error::invalid("url", e)))
        .transpose()?;
    let events = req.events.as_deref().map(check_events).transpose()?;
    let mut w = state.store.begin().await?;
    let before =
        store::webhooks::endpoint(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("webhook"))?;
    let mut after = before.clone();
    if let Some(url) = url {
        after.url = url;
    }
    if let Some(events) = events {
        after.events = events;
    }
    if let Some(status) = req.status {
        after.status = status;
    }
    if after == before {
        return Ok(before);
    }
    let head = store::events::head_seq(w.conn(), actor.ws()).await?;
    store::webhooks::update_endpoint(w.conn(), actor.ws(), &after, head, store::now()).await?;
    let mut changes = Vec::new();
    if after.url != before.url {
        changes.push(format!("address to {}", send::host_of(&after.url)));
    }
    if after.events != before.events {
        changes.push(format!("events to {}", event_list(&after.events)));
    }
    let summary = match (before.status, after.status) {
        (WebhookStatus::Paused, WebhookStatus::Active) => format!("Resumed webhook {}", send::host_of(&after.url)),
        (WebhookStatus::Active, WebhookStatus::Paused) => format!("Paused webhook {}", send::host_of(&after.url)),
        _ => format!("Changed webhook {}: {}", send::host_of(&before.url), changes.join(", ")),
    };
    audit::record(w.conn(), actor.into(), "webhook.update", None, &summary, None).await?;
    let webhook = store::webhooks::endpoint(w.conn(), actor.ws(), id).await?.expect("updated above");
    w.commit().await?;
    state.webhooks.kick();
    Ok(webhook)
}

/// Deletes an endpoint and its delivery log: nothing more is posted to it.
pub async fn delete(state: &AppState, actor: &Actor, id: WebhookId) -> Result<()> {
    let mut w = state.store.begin().await?;
    let endpoint =
        store::webhooks::endpoint(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("webhook"))?;
    store::webhooks::delete_endpoint(w.conn(), actor.ws(), id).await?;
    let summary = format!("Deleted webhook {}", send::host_of(&endpoint.url));
    audit::record(w.conn(), actor.into(), "webhook.delete", None, &summary, None).await?;
    w.commit().await?;
    Ok(())
}

/// An endpoint's delivery log, newest first. The cursor is the last delivery of the previous
/// page.
pub async fn deliveries(
    state: &AppState,
    actor: &Actor,
    id: WebhookId,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<WebhookDelivery>> {
    let mut conn = state.store.reader().await?;
    store::webhooks::endpoint(&mut conn, actor.ws(), id).await?.ok_or_else(|| Error::not_found("webhook"))?;
    let before = match cursor {
        None => None,
        Some(c) => {
            let bad = || Error::invalid("cursor", "The cursor is not one this server handed out.");
            let delivery: DeliveryId = c.parse().map_err(|_| bad())?;
            let at = store::webhooks::delivery(&mut conn, actor.ws(), id, delivery).await?.ok_or_else(bad)?.created_at;
            Some((at, delivery))
        }
    };
    let mut items = store::webhooks::deliveries(&mut conn, actor.ws(), id, before, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|d| d.id.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// "Send again": the delivery goes out at once (again, if it was delivered), with the same id
/// and body, in its conversation's order.
pub async fn send_again(
    state: &AppState,
    actor: &Actor,
    id: WebhookId,
    delivery: DeliveryId,
) -> Result<WebhookDelivery> {
    let mut w = state.store.begin().await?;
    let endpoint =
        store::webhooks::endpoint(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("webhook"))?;
    if endpoint.status == WebhookStatus::Paused {
        return Err(Error::conflict("webhook_paused", "This webhook is paused: resume it first, then send again."));
    }
    let found = store::webhooks::delivery(w.conn(), actor.ws(), id, delivery)
        .await?
        .ok_or_else(|| Error::not_found("delivery"))?;
    store::webhooks::send_again(w.conn(), delivery, store::now()).await?;
    let summary = format!("Sent {} again to webhook {}", found.event_type.as_str(), send::host_of(&endpoint.url));
    audit::record(w.conn(), actor.into(), "webhook.retry", found.conversation_id, &summary, None).await?;
    let again = store::webhooks::delivery(w.conn(), actor.ws(), id, delivery).await?.expect("exists");
    w.commit().await?;
    state.webhooks.kick();
    Ok(again)
}

/// At least one event type, each once (in the order given).
fn check_events(events: &[WebhookEvent]) -> Result<Vec<WebhookEvent>> {
    let mut unique = Vec::new();
    for e in events {
        if !unique.contains(e) {
            unique.push(*e);
        }
    }
    if unique.is_empty() {
        let all: Vec<&str> = WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
        return Err(Error::invalid("events", format!("Choose at least one event type: {}.", all.join(", "))));
    }
    Ok(unique)
}

fn event_list(events: &[WebhookEvent]) -> String {
    events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
}
