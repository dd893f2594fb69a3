// The shapes the UI receives from the Rust core (the "Serialize" side of the generated bindings),
// under plain names.
import type * as B from "../bindings";

export type {
  Activity,
  AgentLoad,
  CommandError,
  ConnectionState,
  ConversationStatus,
  Delivery,
  Device,
  Erased,
  ExportFormat,
  InboxView,
  PresenceStatus,
  UserStatus,
  Role,
  ServerAddress,
  SlaKind,
  ViewCounts,
} from "../bindings";
export type ApiKey = B.ApiKey_Serialize;
export type AtRisk = B.AtRisk_Serialize;
export type Attention = B.Attention_Serialize;
export type AuditEntry = B.AuditEntry_Serialize;
export type AuditFilter = B.AuditFilter_Deserialize;
export type Change = B.Change_Serialize;
export type Conversation = B.Conversation_Serialize;
export type ConversationChange = B.ConversationChange_Serialize;
export type Dashboard = B.Dashboard_Serialize;
export type PresenceView = B.PresenceView_Serialize;
export type RoutingRule = B.RoutingRule_Serialize;
export type SearchResults = B.SearchResults_Serialize;
export type SessionInfo = B.SessionInfo_Serialize;
export type SignedIn = B.SignedIn_Serialize;
export type WorkspaceEntry = B.WorkspaceEntry;
export type SessionEntry = B.SessionEntry_Serialize;
export type RuleMatch = B.RuleMatch_Deserialize;
export type Team = B.Team_Serialize;
export type Thread = B.Thread_Serialize;
export type ThreadMessage = B.ThreadMessage_Serialize;
export type User = B.User_Serialize;
export type WorkspaceSettings = B.WorkspaceSettings_Serialize;
export type SavedReply = B.SavedReply_Serialize;
export type Webhook = B.Webhook_Serialize;
export type WebhookDelivery = B.WebhookDelivery_Serialize;
export type WebhookEvent = B.WebhookEvent;
export type ExportProgress = B.ExportProgress_Deserialize; // what the progress channel carries
