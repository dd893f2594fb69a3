//! When the app raises a native notification, and what it says. Pure policy: the caller passes
//! what happened, whether the window is focused, which conversation is on screen and the time;
//! the policy answers with the notification to show, or nothing. The desktop shell shows it.
//!
//! Rules: do-not-disturb silences everything; each kind can be turned off; "someone is typing"
//! is told at most once per conversation per minute, and only for conversations I own or am
//! viewing; a customer message only for my conversations while the window is not focused; an
//! unclaimed conversation is a reminder that repeats every interval until someone claims it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use handoff_proto::{Conversation, ConversationId, ConversationStatus, Device, DeviceStatus, UserId};

use crate::types::view;

fn on() -> bool {
    true
}

/// How often "someone is typing" may be told for one conversation.
pub const TYPING_EVERY_SECS: i64 = 60;

view! {
    /// What the agent wants to be told about (settings of the app).
    pub struct NotificationSettings {
        pub assigned: bool,
        pub typing: bool,
        pub mentioned: bool,
        pub customer_message: bool,
        pub unclaimed: bool,
        /// Remind about an unclaimed conversation after it waited this long, and again each time.
        pub unclaimed_after_mins: u32,
        /// A linked number went down, or an outbound webhook was paused (Admins only).
        #[serde(default = "on")]
        pub device_down: bool,
        /// Do not disturb: nothing at all.
        pub dnd: bool,
    }
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            assigned: true,
            typing: true,
            mentioned: true,
            customer_message: true,
            unclaimed: true,
            unclaimed_after_mins: 10,
            device_down: true,
            dnd: false,
        }
    }
}

view! {
    #[derive(Copy, Eq, Hash)]
    #[serde(rename_all = "snake_case")]
    pub enum NotificationKind {
        Assigned,
        Typing,
        Mentioned,
        CustomerMessage,
        Unclaimed,
        DeviceDown,
        /// An outbound webhook was paused (Admins; the same setting as a number going down).
        WebhookPaused,
        /// The server no longer takes the session and the window is hidden (shown by the shell,
        /// whatever the settings: nothing else will come until the agent signs in again).
        SignedOut,
    }
}

view! {
    pub struct Notification {
        pub kind: NotificationKind,
        /// What Open shows; `None` for news about a linked number (Open shows Devices).
        pub conversation_id: Option<ConversationId>,
        pub summary: String,
        pub body: String,
        /// Offer a Claim action (nobody owns the conversation).
        pub can_claim: bool,
    }
}

/// Something that happened, as the policy needs to know it.
pub enum Happened<'a> {
    /// The conversation became mine; `by` names who did it (`None`: routing).
    Assigned {
        conversation: &'a Conversation,
        by: Option<&'a str>,
    },
    Typing {
        conversation: &'a Conversation,
        who: &'a str,
        note: bool,
    },
    Mentioned {
        conversation: &'a Conversation,
        by: &'a str,
        note: &'a str,
    },
    CustomerMessage {
        conversation: &'a Conversation,
        preview: &'a str,
    },
}

/// Where the agent is right now.
pub struct Context {
    pub me: UserId,
    pub now: DateTime<Utc>,
    pub focused: bool,
    pub viewing: Option<ConversationId>,
    /// Admins hear about linked numbers going down.
    pub admin: bool,
}

#[derive(Default)]
pub struct Policy {
    pub settings: NotificationSettings,
    typing_told: HashMap<ConversationId, DateTime<Utc>>,
    reminded: HashMap<ConversationId, DateTime<Utc>>,
}

fn contact(c: &Conversation) -> &str {
    c.contact.name.as_deref().unwrap_or(&c.contact.phone)
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        format!("{}…", line.chars().take(max - 1).collect::<String>())
    }
}

impl Policy {
    pub fn new(settings: NotificationSettings) -> Policy {
        Policy { settings, ..Default::default() }
    }

    fn allowed(&self, kind: NotificationKind) -> bool {
        let s = &self.settings;
        !s.dnd
            && match kind {
                NotificationKind::Assigned => s.assigned,
                NotificationKind::Typing => s.typing,
                NotificationKind::Mentioned => s.mentioned,
                NotificationKind::CustomerMessage => s.customer_message,
                NotificationKind::Unclaimed => s.unclaimed,
                NotificationKind::DeviceDown | NotificationKind::WebhookPaused => s.device_down,
                NotificationKind::SignedOut => true,
            }
    }

    /// A linked number that was connected is not any more: Admins are told (the banner tells
    /// everyone).
    pub fn device_down(&self, device: &Device, ctx: &Context) -> Option<Notification> {
        if !ctx.admin || !self.allowed(NotificationKind::DeviceDown) {
            return None;
        }
        let what = match device.status {
            DeviceStatus::LoggedOut => "was logged out: relink it in Devices",
            DeviceStatus::Banned => "was banned by WhatsApp",
            _ => "disconnected",
        };
        let number = device.phone.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
        Some(Notification {
            kind: NotificationKind::DeviceDown,
            conversation_id: None,
            summary: format!("{}{number} {what}", device.name),
            body: "New messages may stall until it is back.".into(),
            can_claim: false,
        })
    }

    /// An outbound webhook was paused after a day of failures: Admins are told (Open shows
    /// Admin → Webhooks).
    pub fn webhook_paused(&self, host: &str, ctx: &Context) -> Option<Notification> {
        if !ctx.admin || !self.allowed(NotificationKind::WebhookPaused) {
            return None;
        }
        Some(Notification {
            kind: NotificationKind::WebhookPaused,
            conversation_id: None,
            summary: format!("Webhook to {host} paused"),
            body: "Every delivery failed for a day. Resume it in Admin → Webhooks once it answers.".into(),
            can_claim: false,
        })
    }

    /// The notification for something that happened, if the agent should hear of it.
    pub fn decide(&mut self, happened: Happened<'_>, ctx: &Context) -> Option<Notification> {
        let (kind, c, summary, body) = match happened {
            Happened::Assigned { conversation: c, by } => {
                let by = by.map(|b| format!("by {b}")).unwrap_or_else(|| "by routing".into());
                (
                    NotificationKind::Assigned,
                    c,
                    format!("Assigned to you: {}", contact(c)),
                    format!("{by} · {}", first_line(&c.last_message_preview, 80)),
                )
            }
            Happened::Typing { conversation: c, who, note } => {
                let relevant = c.assignee_id == Some(ctx.me) || ctx.viewing == Some(c.id);
                if !relevant {
                    return None;
                }
                if let Some(at) = self.typing_told.get(&c.id) {
                    if ctx.now - *at < Duration::seconds(TYPING_EVERY_SECS) {
                        return None;
                    }
                }
                let what = if note { "is writing a note on" } else { "is typing a reply to" };
                (
                    NotificationKind::Typing,
                    c,
                    format!("{who} {what} {}", contact(c)),
                    "Open it to avoid a double reply.".to_string(),
                )
            }
            Happened::Mentioned { conversation: c, by, note } => {
                (NotificationKind::Mentioned, c, format!("{by} mentioned you: {}", contact(c)), first_line(note, 120))
            }
            Happened::CustomerMessage { conversation: c, preview } => {
                if c.assignee_id != Some(ctx.me) || ctx.focused {
                    return None;
                }
                (
                    NotificationKind::CustomerMessage,
                    c,
                    format!("New message from {}", contact(c)),
                    first_line(preview, 120),
                )
            }
        };
        if !self.allowed(kind) {
            return None;
        }
        if kind == NotificationKind::Typing {
            self.typing_told.insert(c.id, ctx.now);
        }
        Some(Notification { kind, conversation_id: Some(c.id), summary, body, can_claim: c.assignee_id.is_none() })
    }

    /// Reminders for conversations nobody has claimed for too long, repeating every interval.
    /// `unclaimed` is every conversation without an owner; a claimed one is forgotten.
    pub fn reminders(&mut self, unclaimed: &[Conversation], now: DateTime<Utc>) -> Vec<Notification> {
        let every = Duration::minutes(i64::from(self.settings.unclaimed_after_mins.max(1)));
        self.reminded.retain(|id, _| unclaimed.iter().any(|c| c.id == *id && c.assignee_id.is_none()));
        if !self.allowed(NotificationKind::Unclaimed) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for c in unclaimed {
            if c.assignee_id.is_some() || !matches!(c.status, ConversationStatus::Open | ConversationStatus::Pending) {
                continue;
            }
            let since = c.opened_at.unwrap_or(c.last_message_at);
            let due = match self.reminded.get(&c.id) {
                Some(last) => *last + every,
                None => since + every,
            };
            if now < due {
                continue;
            }
            self.reminded.insert(c.id, now);
            let waited = (now - since).num_minutes();
            out.push(Notification {
                kind: NotificationKind::Unclaimed,
                conversation_id: Some(c.id),
                summary: format!("Waiting {waited} min, unclaimed: {}", contact(c)),
                body: first_line(&c.last_message_preview, 120),
                can_claim: true,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_proto::{Contact, ContactId, DeviceId};

    fn t(min: i64, sec: i64) -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(min) + Duration::seconds(sec)
    }

    fn conv(assignee: Option<UserId>) -> Conversation {
        Conversation {
            id: ConversationId::new(),
            device_id: DeviceId::nil(),
            contact: Contact { id: ContactId::nil(), name: Some("Lena Hoffmann".into()), phone: "+49151".into() },
            status: ConversationStatus::Open,
            assignee_id: assignee,
            team_id: None,
            version: 1,
            last_message_at: t(0, 0),
            last_message_preview: "Where is my order?".into(),
            unread_count: 0,
            assigned_at: None,
            labels: vec![],
            snooze_until: None,
            opened_at: Some(t(0, 0)),
            first_response_at: None,
            first_response_due_at: None,
            resolution_due_at: None,
            resolved_at: None,
            escalation_note_id: None,
        }
    }

    fn ctx(me: UserId, now: DateTime<Utc>, focused: bool, viewing: Option<ConversationId>) -> Context {
        Context { me, now, focused, viewing, admin: false }
    }

    #[test]
    fn typing_is_told_once_a_minute_and_only_where_it_matters() {
        let me = UserId::new();
        let mut p = Policy::default();
        let mine = conv(Some(me));
        let other = conv(Some(UserId::new()));
        let typing = |c| Happened::Typing { conversation: c, who: "Ben", note: false };
        let n = p.decide(typing(&mine), &ctx(me, t(0, 0), true, None)).unwrap();
        assert_eq!(n.summary, "Ben is typing a reply to Lena Hoffmann");
        assert!(p.decide(typing(&mine), &ctx(me, t(0, 59), true, None)).is_none(), "within the minute");
        assert!(p.decide(typing(&mine), &ctx(me, t(1, 0), true, None)).is_some(), "a minute later");
        assert!(p.decide(typing(&other), &ctx(me, t(0, 0), true, None)).is_none(), "not mine, not viewing");
        let note = Happened::Typing { conversation: &other, who: "Ben", note: true };
        let n = p.decide(note, &ctx(me, t(0, 0), true, Some(other.id))).unwrap();
        assert_eq!(n.summary, "Ben is writing a note on Lena Hoffmann");
    }

    #[test]
    fn customer_messages_only_for_mine_while_unfocused() {
        let me = UserId::new();
        let mut p = Policy::default();
        let mine = conv(Some(me));
        let msg = |c| Happened::CustomerMessage { conversation: c, preview: "Hello?\nAnyone?" };
        assert!(p.decide(msg(&mine), &ctx(me, t(0, 0), true, None)).is_none(), "focused");
        let n = p.decide(msg(&mine), &ctx(me, t(0, 0), false, None)).unwrap();
        assert_eq!((n.summary.as_str(), n.body.as_str()), ("New message from Lena Hoffmann", "Hello?"));
        assert!(p.decide(msg(&conv(None)), &ctx(me, t(0, 0), false, None)).is_none(), "not mine");
    }

    #[test]
    fn do_not_disturb_and_per_kind_settings_silence() {
        let me = UserId::new();
        let c = conv(Some(me));
        let assigned = || Happened::Assigned { conversation: &c, by: Some("Ana") };
        let mut p = Policy::new(NotificationSettings { dnd: true, ..Default::default() });
        assert!(p.decide(assigned(), &ctx(me, t(0, 0), false, None)).is_none());
        let mut p = Policy::new(NotificationSettings { assigned: false, ..Default::default() });
        assert!(p.decide(assigned(), &ctx(me, t(0, 0), false, None)).is_none());
        let mut p = Policy::default();
        let n = p.decide(assigned(), &ctx(me, t(0, 0), true, None)).unwrap();
        assert_eq!(
            (n.summary.as_str(), n.body.as_str()),
            ("Assigned to you: Lena Hoffmann", "by Ana · Where is my order?")
        );
        let mention = Happened::Mentioned { conversation: &c, by: "Ben", note: "@ana can you check?" };
        assert_eq!(
            p.decide(mention, &ctx(me, t(0, 0), true, None)).unwrap().summary,
            "Ben mentioned you: Lena Hoffmann"
        );
    }

    #[test]
    fn unclaimed_reminders_repeat_until_claimed() {
        let mut p = Policy::new(NotificationSettings { unclaimed_after_mins: 10, ..Default::default() });
        let mut waiting = conv(None);
        assert!(p.reminders(std::slice::from_ref(&waiting), t(9, 59)).is_empty());
        let first = p.reminders(std::slice::from_ref(&waiting), t(10, 0));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].summary, "Waiting 10 min, unclaimed: Lena Hoffmann");
        assert!(first[0].can_claim);
        assert!(p.reminders(std::slice::from_ref(&waiting), t(19, 0)).is_empty(), "not again within the interval");
        assert_eq!(
            p.reminders(std::slice::from_ref(&waiting), t(20, 0))[0].summary,
            "Waiting 20 min, unclaimed: Lena Hoffmann"
        );
        waiting.assignee_id = Some(UserId::new());
        assert!(p.reminders(std::slice::from_ref(&waiting), t(40, 0)).is_empty(), "claimed: no more");
        assert!(p.reminded.is_empty());
    }

    #[test]
    fn a_device_going_down_is_told_to_admins_only() {
        let device = Device {
            id: DeviceId::new(),
            name: "Support line".into(),
            kind: handoff_proto::DeviceKind::Simulator,
            status: DeviceStatus::Disconnected,
            phone: Some("+15550100".into()),
            last_seen_at: None,
        };
        let me = UserId::new();
        let admin = Context { admin: true, ..ctx(me, t(0, 0), true, None) };
        let p = Policy::default();
        let n = p.device_down(&device, &admin).expect("an Admin is told");
        assert_eq!(n.summary, "Support line (+15550100) disconnected");
        assert_eq!((n.conversation_id, n.can_claim), (None, false));
        assert!(p.device_down(&device, &ctx(me, t(0, 0), true, None)).is_none(), "agents see the banner only");
        let banned = Device { status: DeviceStatus::Banned, phone: None, ..device.clone() };
        assert_eq!(p.device_down(&banned, &admin).unwrap().summary, "Support line was banned by WhatsApp");
        let off = Policy::new(NotificationSettings { device_down: false, ..Default::default() });
        assert!(off.device_down(&device, &admin).is_none());
        let dnd = Policy::new(NotificationSettings { dnd: true, ..Default::default() });
        assert!(dnd.device_down(&device, &admin).is_none());
        // Settings saved before this kind existed still load, with it on.
        let old: NotificationSettings = serde_json::from_str(
            r#"{"assigned":true,"typing":true,"mentioned":true,"customer_message":true,"unclaimed":true,"unclaimed_after_mins":10,"dnd":false}"#,
        )
        .unwrap();
        assert!(old.device_down);
    }

    #[test]
    fn a_paused_webhook_is_told_to_admins_only() {
        let me = UserId::new();
        let admin = Context { admin: true, ..ctx(me, t(0, 0), true, None) };
        let n = Policy::default().webhook_paused("hooks.example.com", &admin).expect("an Admin is told");
        assert_eq!(
            (n.kind, n.summary.as_str()),
            (NotificationKind::WebhookPaused, "Webhook to hooks.example.com paused")
        );
        assert_eq!((n.conversation_id, n.can_claim), (None, false));
        assert!(Policy::default().webhook_paused("h", &ctx(me, t(0, 0), true, None)).is_none(), "not an agent");
        let off = Policy::new(NotificationSettings { device_down: false, ..Default::default() });
        assert!(off.webhook_paused("h", &admin).is_none(), "the Admins' \"going down\" setting covers it");
    }
}
