//! Turns what happens into the notifications the agent should see, by [`notifications::Policy`]:
//! a task that listens to the client's changes (live news only: nothing replayed while catching
//! up) and checks for unclaimed conversations every half minute. The desktop shell shows what it
//! hands out and tells it whether the window is focused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use handoff_proto::{Activity, ConversationId, MessageId, UserId};
use tokio::sync::{broadcast, mpsc};

use crate::notifications::{Context, Happened, Notification, NotificationSettings, Policy};
use crate::types::{Change, InboxView};
use crate::Client;

/// How often unclaimed conversations are checked for a reminder.
const REMINDER_CHECK: Duration = Duration::from_secs(30);

/// The shell's hold on a running notifier.
#[derive(Clone)]
pub struct NotifierControl {
    focused: Arc<AtomicBool>,
    settings: Arc<Mutex<NotificationSettings>>,
    stop: Arc<tokio::sync::Notify>,
}

impl NotifierControl {
    pub fn set_focused(&self, focused: bool) {
        self.focused.store(focused, Ordering::Relaxed);
    }

    pub fn set_settings(&self, settings: NotificationSettings) {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    pub fn settings(&self) -> NotificationSettings {
        self.settings.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Ends the notifier (its workspace leaves the app): nothing more arrives on its channel.
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

impl Client {
    /// Starts the notifier: what it decides arrives on the returned channel.
    pub fn notifier(&self, settings: NotificationSettings) -> (NotifierControl, mpsc::UnboundedReceiver<Notification>) {
        let control = NotifierControl {
            focused: Arc::new(AtomicBool::new(true)),
            settings: Arc::new(Mutex::new(settings)),
            stop: Arc::new(tokio::sync::Notify::new()),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let client = self.clone();
        let changes = self.subscribe();
        tokio::spawn(run(client, control.clone(), changes, tx));
        (control, rx)
    }
}

async fn run(
    client: Client,
    control: NotifierControl,
    mut changes: broadcast::Receiver<Change>,
    tx: mpsc::UnboundedSender<Notification>,
) {
    let mut policy = Policy::default();
    let mut reminders = tokio::time::interval(REMINDER_CHECK);
    loop {
        policy.settings = control.settings();
        let found = tokio::select! {
            _ = control.stop.notified() => return,
            change = changes.recv() => match change {
                Ok(change) => decide(&client, &control, &mut policy, change).await,
                Err(broadcast::error::RecvError::Lagged(_)) => Vec::new(),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = reminders.tick() => match client.inbox(InboxView::Unassigned, 500).await {
                Ok(waiting) => policy.reminders(&waiting, Utc::now()),
                Err(_) => Vec::new(), // signed out
            },
        };
        for n in found {
            if tx.send(n).is_err() {
                return; // nobody shows them any more
            }
        }
    }
}

async fn decide(client: &Client, control: &NotifierControl, policy: &mut Policy, change: Change) -> Vec<Notification> {
    let Some(me) = client.session().map(|s| s.user.id) else { return Vec::new() };
    let admin = client.session().is_some_and(|s| s.user.role == handoff_proto::Role::Admin);
    let ctx = Context {
        me,
        now: Utc::now(),
        focused: control.focused.load(Ordering::Relaxed),
        viewing: client.viewing(),
        admin,
    };
    let name = |id: Option<UserId>| {
        let client = client.clone();
        async move {
            match id {
                Some(id) => client.users().await.ok()?.into_iter().find(|u| u.id == id).map(|u| u.name),
                None => None,
            }
        }
    };
    // The conversation, and its messages from `from` on (the newest one without it): never the
    // whole thread, which a teammate's typing would otherwise read every few seconds.
    let conversation = |id: ConversationId, from: Option<MessageId>| {
        let client = client.clone();
        async move { client.thread_page(id, 1, from).await.ok().flatten() }
    };
    let decided = match change {
        Change::AssignedToMe { conversation_id, by } => {
            let Some(t) = conversation(conversation_id, None).await else { return Vec::new() };
            let by = name(by).await;
            policy.decide(Happened::Assigned { conversation: &t.conversation, by: by.as_deref() }, &ctx)
        }
        Change::Presence { user_id, conversation_id: Some(id), activity }
            if user_id != me && matches!(activity, Activity::ComposingReply | Activity::ComposingNote) =>
        {
            let Some(t) = conversation(id, None).await else { return Vec::new() };
            let who = name(Some(user_id)).await.unwrap_or_else(|| "Someone".into());
            let note = activity == Activity::ComposingNote;
            policy.decide(Happened::Typing { conversation: &t.conversation, who: &who, note }, &ctx)
        }
        Change::Mentioned { conversation_id, message_id } => {
            let Some(t) = conversation(conversation_id, Some(message_id)).await else { return Vec::new() };
            let Some(m) = t.messages.iter().find(|m| m.message.id == message_id) else { return Vec::new() };
            let by = name(m.message.author_id).await.unwrap_or_else(|| "Someone".into());
            policy.decide(Happened::Mentioned { conversation: &t.conversation, by: &by, note: &m.message.body }, &ctx)
        }
        Change::CustomerMessage { conversation_id, message_id } => {
            let Some(t) = conversation(conversation_id, Some(message_id)).await else { return Vec::new() };
            let Some(m) = t.messages.iter().find(|m| m.message.id == message_id) else { return Vec::new() };
            policy.decide(Happened::CustomerMessage { conversation: &t.conversation, preview: &m.message.body }, &ctx)
        }
        Change::DeviceDown { device_id } => {
            let devices = client.devices().await.unwrap_or_default();
            let Some(device) = devices.iter().find(|d| d.id == device_id) else { return Vec::new() };
            policy.device_down(device, &ctx)
        }
        Change::WebhookPaused { host, .. } => policy.webhook_paused(&host, &ctx),
        _ => None,
    };
    decided.into_iter().collect()
}
