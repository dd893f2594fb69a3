// The shapes the UI receives from the Rust core (the "Serialize" side of the generated bindings),
// under plain names.
import type * as B from "../bindings";

export type { Activity, CommandError, ConnectionState, ConversationStatus, Delivery, Device, InboxView, Role, SessionInfo, User } from "../bindings";
export type Change = B.Change_Serialize;
export type Conversation = B.Conversation_Serialize;
export type ConversationChange = B.ConversationChange_Serialize;
export type Thread = B.Thread_Serialize;
export type ThreadMessage = B.ThreadMessage_Serialize;
