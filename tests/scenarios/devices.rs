//! Device health over the simulator's control endpoints: every state a linked number can be in
//! reaches every client, a number going down is news for Admins, and a logged-out number is
//! linked again with a fresh QR code.

use handoff_core::notifications::{Notification, NotificationKind, NotificationSettings};
use handoff_core::{Change, Client};
use handoff_proto::{AuditEntry, Device, DeviceStatus, Page, QrResponse, Role};
use handoff_tests::{settled, wait_for, World, DEADLINE};
use reqwest::{Method, StatusCode};
use tokio::sync::mpsc::UnboundedReceiver;

async fn next(rx: &mut UnboundedReceiver<Notification>, what: &str) -> Notification {
    tokio::time::timeout(DEADLINE, rx.recv()).await.unwrap_or_else(|_| panic!("no notification: {what}")).expect("open")
}

/// Drives the world's simulator device (`action`: link, disconnect, reconnect, ban, logout).
async fn sim(world: &World, action: &str) -> Device {
    world.call(Method::POST, &format!("/api/v1/devices/{}/simulator/{action}", world.device.id), None::<&()>).await
}

/// Waits until `client`'s cache shows the device in `status`.
async fn shows(client: &Client, status: DeviceStatus) {
    wait_for(&format!("the device {status:?}"), client, |c| async move {
        c.devices().await.unwrap_or_default().iter().any(|d| d.status == status)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_state_reaches_everyone_and_a_number_going_down_is_told_to_admins() {
    let world = World::start().await;
    let ana_id = world.create_user("ana@test.local", "Ana Lima", Role::Agent).await.id;
    let (admin, ana) = (world.client("admin@test.local").await, world.client("ana@test.local").await);
    let (_, mut admin_told) = admin.notifier(NotificationSettings::default());
    let (ana_control, mut ana_told) = ana.notifier(NotificationSettings::default());
    ana_control.set_focused(false);
    let mut ana_changes = ana.subscribe();

    // The phone loses its connection: everyone's cache shows it; Admins are told.
    let down = sim(&world, "disconnect").await;
    assert_eq!(down.status, DeviceStatus::Disconnected);
    let last_seen = down.last_seen_at.expect("the time it went down");
    for client in [&admin, &ana] {
        shows(client, DeviceStatus::Disconnected).await;
    }
    let n = next(&mut admin_told, "device down").await;
    assert_eq!((n.kind, n.summary.as_str()), (NotificationKind::DeviceDown, "Support line (+15550100) disconnected"));
    assert_eq!(n.conversation_id, None);
    // Every client hears of it (the banner); only the notification is for Admins.
    let heard = async {
        loop {
            if let Ok(Change::DeviceDown { device_id }) = ana_changes.recv().await {
                assert_eq!(device_id, world.device.id);
                return;
            }
        }
    };
    tokio::time::timeout(DEADLINE, heard).await.expect("Ana's client hears the number went down");

    // Reported again (WAHA retries, a flapping phone): nothing changes, not even the time.
    let head = world.head_seq().await;
    assert_eq!(sim(&world, "disconnect").await.last_seen_at, Some(last_seen));
    assert_eq!(world.head_seq().await, head, "no event for a repeated report");

    // Back, then banned: nothing goes in while banned.
    assert_eq!(sim(&world, "reconnect").await.status, DeviceStatus::Connected);
    assert_eq!(sim(&world, "ban").await.status, DeviceStatus::Banned);
    shows(&ana, DeviceStatus::Banned).await;
    assert_eq!(next(&mut admin_told, "banned").await.summary, "Support line (+15550100) was banned by WhatsApp");
    let inbound = serde_json::json!({"from": "+4915100000001", "body": "Hello?"});
    let path = format!("/api/v1/devices/{}/simulator/inbound", world.device.id);
    let resp = world.raw(Method::POST, &path, &world.admin_token, Some(&inbound)).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT, "a banned number takes nothing");
    assert_eq!(sim(&world, "reconnect").await.status, DeviceStatus::Connected);

    // Ana's notifier never told her about the number: the first thing it tells is her assignment.
    let msg = world.inbound("+4915100000001", "Hello again", None).await;
    let body = serde_json::json!({"assignee_id": ana_id});
    let _: handoff_proto::Conversation =
        world.call(Method::POST, &format!("/api/v1/conversations/{}/assign", msg.conversation_id), Some(&body)).await;
    assert_eq!(next(&mut ana_told, "assigned").await.kind, NotificationKind::Assigned);

    // Logged out on the phone: relinking shows a new QR code, which rotates; scanning it links.
    assert_eq!(sim(&world, "logout").await.status, DeviceStatus::LoggedOut);
    shows(&admin, DeviceStatus::LoggedOut).await;
    assert_eq!(
        next(&mut admin_told, "logged out").await.summary,
        "Support line (+15550100) was logged out: relink it in Devices"
    );
    let qr_path = format!("/api/v1/devices/{}/qr", world.device.id);
    let resp = world.raw(Method::GET, &qr_path, &world.admin_token, None::<&()>).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT, "no QR code while logged out");
    let relinked = admin.relink_device(world.device.id).await.unwrap();
    assert_eq!(relinked.status, DeviceStatus::PendingLink);
    let first: QrResponse = world.call(Method::GET, &qr_path, None::<&()>).await;
    let rotated: QrResponse = world
        .call(Method::POST, &format!("/api/v1/devices/{}/simulator/rotate-qr", world.device.id), None::<&()>)
        .await;
    assert_ne!(first.qr, rotated.qr);
    let again: QrResponse = world.call(Method::GET, &qr_path, None::<&()>).await;
    assert_eq!(again.qr, rotated.qr, "the Devices screen shows the current code");
    let code = again.pair_code.expect("the pair-code alternative");
    assert!(code.len() == 9 && code.chars().nth(4) == Some('-'), "{code}");
    assert_eq!(sim(&world, "link").await.status, DeviceStatus::Connected);
    let resp = world.raw(Method::GET, &qr_path, &world.admin_token, None::<&()>).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT, "linked: the QR code is gone");
    let err = admin.relink_device(world.device.id).await.unwrap_err();
    assert!(err.to_string().contains("connected"), "{err}");
    for client in [&admin, &ana] {
        shows(client, DeviceStatus::Connected).await;
        settled(&world, client).await;
        world.assert_converged(client).await;
    }
    let audit: Page<AuditEntry> = world.call(Method::GET, "/api/v1/audit?action=device.relink", None::<&()>).await;
    assert_eq!(audit.items.len(), 1, "the relink is in the audit log");
    world.stop().await;
}
