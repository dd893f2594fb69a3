//! Team administration bodies of the public HTTP API: teams, routing rules, API keys, the audit log.

use crate::ids::{ApiKeyId, ConversationId, DeviceId, RuleId, TeamId, UserId};
use chrono::{DateTime, Utc};

use crate::{wire, Role, Seq};

wire! {
    /// A group of agents with its own queue, a cap on how many open conversations routing gives
    /// each member, and optional SLA targets.
    pub struct Team {
        pub id: TeamId,
        pub name: String,
        pub member_ids: Vec<UserId>,
        /// Routing gives a member at most this many open conversations.
        #[cfg_attr(feature = "specta", specta(type = i32))]
        pub agent_cap: i64,
        /// SLA target: seconds from (re)opening to the first reply.
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        pub first_response_secs: Option<i64>,
        /// SLA target: seconds from (re)opening to resolution.
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        pub resolution_secs: Option<i64>,
    }
}

wire! {
    pub struct CreateTeamRequest {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 60, pattern = r"\S"))]
        pub name: String,
        #[serde(default)]
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
        pub agent_cap: Option<i64>,
        #[serde(default)]
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        /// Seconds, 1 to 7776000 (90 days); 0 or absent for none.
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 7776000))]
        pub first_response_secs: Option<i64>,
        #[serde(default)]
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        /// Seconds, 1 to 7776000 (90 days); 0 or absent for none.
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 7776000))]
        pub resolution_secs: Option<i64>,
    }
}

wire! {
    /// Every field is optional; an SLA target of 0 removes it.
    pub struct PatchTeamRequest {
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 60, pattern = r"\S"))]
        pub name: Option<String>,
        #[serde(default)]
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
        pub agent_cap: Option<i64>,
        #[serde(default)]
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        /// Seconds, 1 to 7776000 (90 days); 0 or absent for none.
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 7776000))]
        pub first_response_secs: Option<i64>,
        #[serde(default)]
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        /// Seconds, 1 to 7776000 (90 days); 0 or absent for none.
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 7776000))]
        pub resolution_secs: Option<i64>,
    }
}

wire! {
    pub struct TeamMembersRequest {
        pub user_ids: Vec<UserId>,
    }
}

wire! {
    /// Conditions of a routing rule: every given one must hold.
    #[derive(Default)]
    pub struct RuleMatch {
        /// A phrase the message contains, ignoring case.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub keyword: Option<String>,
        /// A regular expression the message matches (at most 500 characters; case-sensitive unless it says `(?i)`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub regex: Option<String>,
        /// The contact's phone number: digits with `*` for any run of characters (`+44*`), or an exact number.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub contact: Option<String>,
        /// The linked device the conversation came in on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_id: Option<DeviceId>,
        /// A label the conversation carries (useful on reopen).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub label: Option<String>,
    }
}

wire! {
    /// What a matching rule does: hand the conversation to a team (its least-loaded online member,
    /// or the team queue) and/or straight to one agent.
    #[derive(Default)]
    pub struct RuleAssign {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub team_id: Option<TeamId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_id: Option<UserId>,
    }
}

wire! {
    pub struct RoutingRule {
        pub id: RuleId,
        pub name: String,
        /// Rules are tried by position, lowest first; the first match wins.
        #[cfg_attr(feature = "specta", specta(type = i32))]
        pub position: i64,
        #[serde(rename = "match")]
        pub matches: RuleMatch,
        pub assign: RuleAssign,
    }
}

wire! {
    pub struct CreateRoutingRuleRequest {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
        pub name: String,
        /// Where it goes in the order; absent: last.
        #[serde(default)]
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        pub position: Option<i64>,
        #[serde(rename = "match")]
        pub matches: RuleMatch,
        pub assign: RuleAssign,
    }
}

wire! {
    /// "Try this rule on a message": which rule would route it, and where, without changing anything.
    pub struct RoutingTestRequest {
        pub body: String,
        #[serde(default)]
        pub phone: Option<String>,
        #[serde(default)]
        pub device_id: Option<DeviceId>,
        #[serde(default)]
        pub labels: Vec<String>,
    }
}

wire! {
    pub struct RoutingTestResponse {
        /// The first rule that matches, if any.
        pub rule: Option<RoutingRule>,
    }
}

wire! {
    pub struct CreateApiKeyRequest {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = r"\S"))]
        pub name: String,
        pub role: Role,
    }
}

wire! {
    /// An API key as listed: never the key itself.
    pub struct ApiKey {
        pub id: ApiKeyId,
        pub name: String,
        pub role: Role,
        /// The identity the key acts as: it authors what the key does.
        pub user_id: UserId,
        pub created_at: DateTime<Utc>,
        pub revoked_at: Option<DateTime<Utc>>,
    }
}

wire! {
    /// The answer to creating a key: `key` is shown this once.
    pub struct CreatedApiKey {
        pub id: ApiKeyId,
        pub key: String,
        pub api_key: ApiKey,
    }
}

wire! {
    /// One entry of the append-only audit log.
    pub struct AuditEntry {
        #[cfg_attr(feature = "specta", specta(type = i32))]
        pub id: i64,
        pub at: DateTime<Utc>,
        /// Who did it; `None` for the server itself (routing, snooze wake-up).
        pub actor_id: Option<UserId>,
        /// The actor's name when it happened (kept even if the user is renamed later).
        pub actor_name: String,
        /// What was done: `reply`, `note`, `claim`, `assign`, `escalate`, `status`, `labels`, `read`,
        /// `view`, `route`, `wake`, `user.create`, `team.create`, `api_key.create`, ...
        pub action: String,
        pub conversation_id: Option<ConversationId>,
        /// A human sentence: "Assigned to Ben Ortiz".
        pub summary: String,
        /// The event the change produced, if any.
        #[cfg_attr(feature = "specta", specta(type = Option<i32>))]
        pub seq: Option<Seq>,
    }
}

wire! {
    /// An agent as the assign menu and the dashboard show them: online now, and their load.
    pub struct AgentLoad {
        pub user_id: UserId,
        /// Online now (connected and not away, or within the grace period after a disconnect).
        pub online: bool,
        #[serde(default = "offline")]
        pub status: crate::PresenceStatus,
        /// Open or pending conversations they own.
        #[cfg_attr(feature = "specta", specta(type = i32))]
        pub open: i64,
    }
}

fn offline() -> crate::PresenceStatus {
    crate::PresenceStatus::Offline
}
