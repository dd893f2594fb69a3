//! Shows, through the app's own notification code, one notification of each kind the policy
//! makes, and prints each summary as it is shown. `tests/notify-capture.sh` runs it against a real
//! notification server and checks what arrived. Exits 1 if any could not be shown.
//!
//! `notify-check --frozen-server` (Linux) first becomes a notification server that takes calls
//! and never answers, then shows one notification: it must give up after the timeout.

use chrono::{Duration, Utc};
use handoff_core::notifications::{Context, Happened, Notification, Policy};
use handoff_proto::{Contact, ContactId, Conversation, ConversationId, ConversationStatus, DeviceId, UserId};

fn conversation(assignee: Option<UserId>) -> Conversation {
    let now = Utc::now();
    Conversation {
        id: ConversationId::new(),
        device_id: DeviceId::nil(),
        contact: Contact { id: ContactId::nil(), name: Some("Lena Hoffmann".into()), phone: "+4915112345678".into() },
        status: ConversationStatus::Open,
        assignee_id: assignee,
        team_id: None,
        version: 1,
        last_message_at: now - Duration::minutes(12),
        last_message_preview: "Where is my order?".into(),
        unread_count: 1,
        assigned_at: None,
        labels: vec![],
        snooze_until: None,
        opened_at: Some(now - Duration::minutes(12)),
        first_response_at: None,
        first_response_due_at: None,
        resolution_due_at: None,
        resolved_at: None,
        escalation_note_id: None,
    }
}

/// A notification server that accepts every call and never answers.
#[cfg(target_os = "linux")]
struct Frozen;

#[cfg(target_os = "linux")]
#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Frozen {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _icon: String,
        _summary: String,
        _body: String,
        _actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::OwnedVariant>,
        _timeout: i32,
    ) -> u32 {
        std::future::pending().await
    }
}

#[tokio::main]
async fn main() {
    #[cfg(target_os = "linux")]
    if std::env::args().any(|a| a == "--frozen-server") {
        let _server = zbus::connection::Builder::session()
            .name("org.freedesktop.Notifications")
            .serve_at("/org/freedesktop/Notifications", Frozen)
            .build()
            .await
            .expect("a frozen notification server on the session bus");
        let n = Notification {
            kind: handoff_core::notifications::NotificationKind::Assigned,
            conversation_id: Some(ConversationId::new()),
            summary: "Assigned to you: Lena Hoffmann".into(),
            body: "by Ben Ortiz".into(),
            can_claim: false,
        };
        let started = std::time::Instant::now();
        let result = handoff_desktop::notify::show(&n, |_| {}).await;
        println!("after {} ms: {result:?}", started.elapsed().as_millis());
        std::process::exit(if result.is_err() { 1 } else { 0 });
    }
    let me = UserId::new();
    let mine = conversation(Some(me));
    let waiting = conversation(None);
    let ctx = Context { me, now: Utc::now(), focused: false, viewing: None, admin: true };
    let mut policy = Policy::default();
    let mut all: Vec<Notification> = [
        Happened::Assigned { conversation: &mine, by: Some("Ben Ortiz") },
        Happened::Typing { conversation: &mine, who: "Ben Ortiz", note: false },
        Happened::Mentioned { conversation: &mine, by: "Ben Ortiz", note: "@ana can you check the tracking?" },
        Happened::CustomerMessage { conversation: &mine, preview: "Hello? Anyone there?" },
    ]
    .into_iter()
    .filter_map(|h| policy.decide(h, &ctx))
    .collect();
    all.extend(policy.reminders(&[waiting], Utc::now()));
    let line = handoff_proto::Device {
        id: DeviceId::new(),
        name: "Support line".into(),
        kind: handoff_proto::DeviceKind::Simulator,
        status: handoff_proto::DeviceStatus::Disconnected,
        phone: Some("+15550100".into()),
        last_seen_at: Some(Utc::now()),
    };
    all.extend(policy.device_down(&line, &ctx));
    all.extend(policy.webhook_paused("crm.example.com", &ctx));
    let mut failed = false;
    for n in &all {
        let started = std::time::Instant::now();
        match handoff_desktop::notify::show(n, |_| {}).await {
            Ok(()) => println!("shown in {} ms: {}", started.elapsed().as_millis(), n.summary),
            Err(e) => {
                println!("not shown after {} ms: {}: {e}", started.elapsed().as_millis(), n.summary);
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}
