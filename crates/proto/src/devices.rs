//! Linked WhatsApp numbers on the HTTP API: devices, gateway (WAHA) settings, QR codes, and the
//! simulator's control bodies.

use crate::ids::DeviceId;
use chrono::{DateTime, Utc};

use crate::{wire, Delivery, Media};

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum DeviceKind {
        Simulator,
        WhatsappWeb,
        Gateway,
    }
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Simulator => "simulator",
            DeviceKind::WhatsappWeb => "whatsapp_web",
            DeviceKind::Gateway => "gateway",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "simulator" => Some(Self::Simulator),
            "whatsapp_web" => Some(Self::WhatsappWeb),
            "gateway" => Some(Self::Gateway),
            _ => None,
        }
    }
}

wire! {
    #[derive(Copy, Eq)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
    pub enum DeviceStatus {
        PendingLink,
        Connected,
        Disconnected,
        Failed,
        /// The phone unlinked this device (or it was logged out): relink it with a new QR scan.
        LoggedOut,
        /// WhatsApp has banned the number (often for a while): nothing goes in or out.
        Banned,
    }
}

impl DeviceStatus {
    /// A number that was linked and cannot take or send messages now (a pending link is not
    /// down: it was never up).
    pub fn is_down(self) -> bool {
        matches!(self, Self::Disconnected | Self::Failed | Self::LoggedOut | Self::Banned)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::PendingLink => "pending_link",
            DeviceStatus::Connected => "connected",
            DeviceStatus::Disconnected => "disconnected",
            DeviceStatus::Failed => "failed",
            DeviceStatus::LoggedOut => "logged_out",
            DeviceStatus::Banned => "banned",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending_link" => Some(Self::PendingLink),
            "connected" => Some(Self::Connected),
            "disconnected" => Some(Self::Disconnected),
            "failed" => Some(Self::Failed),
            "logged_out" => Some(Self::LoggedOut),
            "banned" => Some(Self::Banned),
            _ => None,
        }
    }
}

wire! {
    /// A linked WhatsApp number.
    pub struct Device {
        pub id: DeviceId,
        pub name: String,
        pub kind: DeviceKind,
        pub status: DeviceStatus,
        pub phone: Option<String>,
        pub last_seen_at: Option<DateTime<Utc>>,
    }
}

wire! {
    pub struct CreateDeviceRequest {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
        pub name: String,
        pub kind: DeviceKind,
        /// Required for `gateway` devices: the WAHA server and session this number runs on.
        #[serde(default)]
        pub gateway: Option<GatewayConfig>,
        /// For `whatsapp_web` devices: link with a code typed on this phone (international
        /// number, `+49 151 12345678`) instead of scanning the QR code.
        #[serde(default)]
        pub phone: Option<String>,
    }
}

wire! {
    /// A WAHA gateway session: where to call it (`X-Api-Key`) and which session is this number.
    pub struct GatewayConfig {
        /// `https://waha.example.com` (without `/api`).
        pub base_url: String,
        pub api_key: String,
        pub session: String,
    }
}

wire! {
    /// The answer to linking a device: the device, and for a gateway device the secret its
    /// webhooks must be signed with (shown this once).
    pub struct CreatedDevice {
        #[serde(flatten)]
        pub device: Device,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webhook_secret: Option<String>,
    }
}

wire! {
    pub struct QrResponse {
        pub qr: String,
        pub expires_at: DateTime<Utc>,
        /// The alternative to scanning: a code to type on the phone, when the device offers one.
        #[serde(default)]
        pub pair_code: Option<String>,
    }
}

wire! {
    /// A customer message injected into a simulator device, exactly as a real device would deliver it.
    pub struct SimulatorInbound {
        /// The customer's phone number (`+4915112345678`) or JID.
        pub from: String,
        #[serde(default)]
        pub name: Option<String>,
        pub body: String,
        /// WhatsApp's message id; generated when absent. The same id twice is stored once.
        #[serde(default)]
        pub wa_message_id: Option<String>,
        /// An attachment (the body is then its caption and may be empty).
        #[serde(default)]
        pub media: Option<Media>,
        /// The attachment's content, as a download returns it (text); absent, a file of the
        /// placeholder's size filled with its name.
        #[serde(default)]
        pub media_content: Option<String>,
        /// The customer's other address, as WhatsApp tells it: the phone number of a LID
        /// (`from: "123456789@lid"`), or the reverse. The same person stays one contact.
        #[serde(default)]
        pub alt: Option<String>,
        /// Written in a group chat: `from` is then the member who wrote, `name` their name.
        #[serde(default)]
        pub group: Option<SimulatorGroup>,
    }
}

wire! {
    /// A WhatsApp group the simulated number is in.
    pub struct SimulatorGroup {
        /// The group's JID (`120363025555555555@g.us`).
        pub id: String,
        /// The group's name, shown as the conversation's contact.
        #[serde(default)]
        pub subject: Option<String>,
    }
}

wire! {
    /// A customer message WhatsApp holds while the phone is offline (delivered when it is back).
    pub struct SimulatorQueued {
        pub wa_message_id: String,
    }
}

wire! {
    /// How the simulated WhatsApp reports receipts from now on.
    pub struct SimulatorReceiptPlan {
        /// In order, e.g. `["read"]` (skipped), `["read", "delivered"]` (reordered),
        /// `["delivered", "delivered", "read"]` (repeated).
        pub steps: Vec<Delivery>,
        /// Report them before the send returns (before the server has recorded the message's id).
        #[serde(default)]
        pub early: bool,
    }
}

wire! {
    /// The next sends fail, one per reason.
    pub struct SimulatorFailures {
        pub reasons: Vec<String>,
    }
}

wire! {
    /// A message typed on the phone itself.
    pub struct SimulatorPhoneMessage {
        /// The customer's phone number or JID.
        pub to: String,
        pub body: String,
    }
}

wire! {
    /// What a simulator device was asked to send to WhatsApp.
    pub struct SimulatorSent {
        pub to: String,
        pub body: String,
        pub wa_message_id: String,
        pub at: DateTime<Utc>,
    }
}

wire! {
    pub struct SimulatorReceipt {
        pub wa_message_id: String,
        pub state: Delivery,
    }
}
