//! Routing: ordered rules (first match wins) applied to every new conversation and on reopen,
//! and the team queues they feed.
//!
//! A rule's action hands the conversation to one agent and/or a team. A team hands it to its
//! online member with the fewest open conversations under the team's cap; when every member is
//! offline or at cap it waits in the team queue (`queued_at`) and is handed out oldest first as
//! capacity frees (a member comes online, resolves or snoozes something, or the team changes).
//! Every automatic assignment adds a system message that says why.

use std::collections::HashSet;

use handoff_proto::{Conversation, EventBody, MessageKind, RoutingRule, RuleAssign, RuleMatch, Seq, UpdateCause};
use regex::{Regex, RegexBuilder};
use sqlx::{Row, SqliteConnection};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::audit::{self, Who};
use crate::error::{ApiError, ApiResult};
use crate::store::{self, DbResult, Writer};
use crate::AppState;

/// Longest regular expression a rule may hold, in characters.
pub const MAX_REGEX_CHARS: usize = 500;
/// Compiled size limit of a rule's regular expression: bounds both memory and matching time.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Wakes the background task that hands out queued conversations.
#[derive(Default)]
pub struct Kick(Notify);

impl Kick {
    pub fn kick(&self) {
        self.0.notify_one();
    }
}

pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    if pattern.chars().count() > MAX_REGEX_CHARS {
        return Err(format!("The regex is longer than {MAX_REGEX_CHARS} characters."));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("The regex does not compile: {}", e.to_string().lines().last().unwrap_or("invalid")))
}

/// Checks a rule's conditions; the message says what to fix.
pub fn validate_match(m: &RuleMatch) -> ApiResult<()> {
    if let Some(re) = &m.regex {
        compile_regex(re).map_err(|e| ApiError::invalid("match.regex", e))?;
    }
    if m.keyword.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(ApiError::invalid("match.keyword", "The keyword is empty."));
    }
    if let Some(c) = &m.contact {
        if c.trim().is_empty() || !c.chars().all(|ch| ch.is_ascii_digit() || "+*".contains(ch)) {
            return Err(ApiError::invalid(
                "match.contact",
                "A contact pattern is a phone number with digits, an optional leading + and * for any digits (+44*).",
            ));
        }
    }
    let given = [m.keyword.is_some(), m.regex.is_some(), m.contact.is_some(), m.device_id.is_some(), m.label.is_some()];
    if !given.contains(&true) {
        return Err(ApiError::invalid(
            "match",
            "Give at least one condition: keyword, regex, contact, device_id or label.",
        ));
    }
    Ok(())
}

/// What a rule is tried against.
pub struct Input<'a> {
    pub body: &'a str,
    pub phone: &'a str,
    pub device_id: Uuid,
    pub labels: &'a [String],
}

/// `+44*` style patterns: `*` stands for any run of characters; otherwise the whole number must match.
fn phone_matches(pattern: &str, phone: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == phone;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !phone.starts_with(first) || phone.len() < first.len() + last.len() || !phone.ends_with(last) {
        return false;
    }
    let mut rest = &phone[first.len()..phone.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

pub fn matches(m: &RuleMatch, input: &Input<'_>) -> bool {
    if let Some(k) = &m.keyword {
        if !input.body.to_lowercase().contains(&k.trim().to_lowercase()) {
            return false;
        }
    }
    if let Some(re) = &m.regex {
        match compile_regex(re) {
            Ok(re) if re.is_match(input.body) => {}
            _ => return false,
        }
    }
    if m.contact.as_deref().is_some_and(|c| !phone_matches(c.trim(), input.phone)) {
        return false;
    }
    if m.device_id.is_some_and(|d| d != input.device_id) {
        return false;
    }
    if m.label.as_deref().is_some_and(|l| !input.labels.iter().any(|x| x.eq_ignore_ascii_case(l.trim()))) {
        return false;
    }
    true
}

pub async fn load_rules(conn: &mut SqliteConnection) -> DbResult<Vec<RoutingRule>> {
    let rows = sqlx::query(
        "SELECT id, name, position, match_json, team_id, user_id FROM routing_rules ORDER BY position, created_at",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let json: String = row.try_get("match_json")?;
            Ok(RoutingRule {
                id: store::cols::uuid_col(row, "id")?,
                name: row.try_get("name")?,
                position: row.try_get("position")?,
                matches: serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                assign: RuleAssign {
                    team_id: store::cols::opt_uuid_col(row, "team_id")?,
                    user_id: store::cols::opt_uuid_col(row, "user_id")?,
                },
            })
        })
        .collect()
}

pub fn first_match<'r>(rules: &'r [RoutingRule], input: &Input<'_>) -> Option<&'r RoutingRule> {
    rules.iter().find(|r| matches(&r.matches, input))
}

/// A team member routing may give work to.
struct Candidate {
    id: Uuid,
    name: String,
    open: i64,
}

struct TeamInfo {
    name: String,
    cap: i64,
}

async fn team_info(conn: &mut SqliteConnection, team_id: Uuid) -> DbResult<Option<TeamInfo>> {
    let row: Option<(String, i64)> = sqlx::query_as("SELECT name, agent_cap FROM teams WHERE id = ?")
        .bind(team_id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(name, cap)| TeamInfo { name, cap }))
}

/// The online member with the fewest open conversations under the cap (ties: by name).
async fn pick_member(
    conn: &mut SqliteConnection,
    team_id: Uuid,
    cap: i64,
    online: &HashSet<Uuid>,
) -> DbResult<Option<Candidate>> {
    let rows = sqlx::query(
        "SELECT u.id, u.name, \
           (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = u.id AND c.status IN ('open', 'pending')) AS open \
         FROM team_members m JOIN users u ON u.id = m.user_id \
         WHERE m.team_id = ? AND u.active = 1 AND u.kind = 'person' AND u.role != 'viewer' \
         ORDER BY open, u.name COLLATE NOCASE, u.id",
    )
    .bind(team_id.to_string())
    .fetch_all(conn)
    .await?;
    for row in rows {
        let id = store::cols::uuid_col(&row, "id")?;
        let open: i64 = row.try_get("open")?;
        if online.contains(&id) && open < cap {
            return Ok(Some(Candidate { id, name: row.try_get("name")?, open }));
        }
    }
    Ok(None)
}

/// A user a rule may hand work to directly: active, a person, not a Viewer.
async fn assignable_user(conn: &mut SqliteConnection, id: Uuid) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT name FROM users WHERE id = ? AND active = 1 AND kind = 'person' AND role != 'viewer'")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
}

/// Sets the owner and team of a conversation, then writes the system message saying why.
async fn hand_over(
    w: &mut Writer<'_>,
    conversation: &Conversation,
    team_id: Option<Uuid>,
    assignee: Option<Uuid>,
    queued: bool,
    why: &str,
) -> DbResult<Seq> {
    let now = store::ts(store::now());
    sqlx::query(
        "UPDATE conversations SET team_id = ?, assignee_id = ?, \
           assigned_at = CASE WHEN ? IS NULL THEN NULL ELSE ? END, \
           queued_at = CASE WHEN ? THEN COALESCE(queued_at, ?) ELSE NULL END, version = version + 1 \
         WHERE id = ?",
    )
    .bind(team_id.map(|t| t.to_string()))
    .bind(assignee.map(|a| a.to_string()))
    .bind(assignee.map(|a| a.to_string()))
    .bind(&now)
    .bind(queued)
    .bind(&now)
    .bind(conversation.id.to_string())
    .execute(w.conn())
    .await?;
    let updated = store::conversations::get(w.conn(), conversation.id, None).await?.expect("exists");
    w.append(EventBody::ConversationUpdated { conversation: updated, actor_id: None, cause: UpdateCause::Routed })
        .await?;
    let seq = system_message(w, conversation.id, why).await?;
    audit::record(w.conn(), Who::Server, "route", Some(conversation.id), why, Some(seq)).await?;
    Ok(seq)
}

/// Adds a system message (visible to the team, never sent to WhatsApp) to a conversation.
pub async fn system_message(w: &mut Writer<'_>, conversation_id: Uuid, body: &str) -> DbResult<Seq> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, device_id, kind, body, created_at) \
         SELECT ?, id, device_id, ?, ?, ? FROM conversations WHERE id = ?",
    )
    .bind(id.to_string())
    .bind(MessageKind::System.as_str())
    .bind(body)
    .bind(store::ts(store::now()))
    .bind(conversation_id.to_string())
    .execute(w.conn())
    .await?;
    sqlx::query("UPDATE conversations SET version = version + 1 WHERE id = ?")
        .bind(conversation_id.to_string())
        .execute(w.conn())
        .await?;
    let message = store::messages::get(w.conn(), id).await?.expect("inserted above");
    let conversation = store::conversations::get(w.conn(), conversation_id, None).await?.expect("exists");
    w.append(EventBody::MessageCreated { message, conversation }).await
}

/// Hands a conversation to a team: its best online member, or its queue. `lead` starts the
/// system message ("Routed"), `how` ends its first part ("by rule 'refund'").
async fn to_team(
    w: &mut Writer<'_>,
    conversation: &Conversation,
    team_id: Uuid,
    online: &HashSet<Uuid>,
    lead: &str,
    how: &str,
) -> DbResult<Option<Seq>> {
    let Some(team) = team_info(w.conn(), team_id).await? else { return Ok(None) };
    let seq = match pick_member(w.conn(), team_id, team.cap, online).await? {
        Some(m) => {
            let why = format!("{lead} to {} {how}; {} had {} open of {}.", team.name, m.name, m.open, team.cap);
            hand_over(w, conversation, Some(team_id), Some(m.id), false, &why).await?
        }
        None => {
            let why = format!(
                "{lead} to {} {how}; waiting in the team queue: every member is offline or has {} open.",
                team.name, team.cap
            );
            hand_over(w, conversation, Some(team_id), None, true, &why).await?
        }
    };
    Ok(Some(seq))
}

/// Routes a conversation that was just created or reopened by `body`. A reopened conversation
/// whose owner is online stays with them; one whose owner is offline is routed again.
pub async fn route(
    w: &mut Writer<'_>,
    online: &HashSet<Uuid>,
    conversation_id: Uuid,
    body: &str,
    reopened: bool,
) -> DbResult<Option<Seq>> {
    let Some(conversation) = store::conversations::get(w.conn(), conversation_id, None).await? else { return Ok(None) };
    let owner_offline = conversation.assignee_id.is_some_and(|a| !online.contains(&a));
    if reopened && conversation.assignee_id.is_some() && !owner_offline {
        return Ok(None);
    }
    let rules = load_rules(w.conn()).await?;
    let input = Input {
        body,
        phone: &conversation.contact.phone,
        device_id: conversation.device_id,
        labels: &conversation.labels,
    };
    let lead = match conversation.assignee_id.filter(|_| owner_offline) {
        Some(id) => {
            let name = store::people::user(w.conn(), id).await?.map(|u| u.name).unwrap_or_default();
            format!("Reopened while {name} is offline: routed")
        }
        None => "Routed".to_string(),
    };
    if let Some(rule) = first_match(&rules, &input) {
        let how = format!("by rule '{}'", rule.name);
        if let Some(user_id) = rule.assign.user_id {
            if let Some(name) = assignable_user(w.conn(), user_id).await? {
                if online.contains(&user_id) || rule.assign.team_id.is_none() {
                    let team = rule.assign.team_id.or(conversation.team_id);
                    let why = format!("{lead} to {name} {how}.");
                    return hand_over(w, &conversation, team, Some(user_id), false, &why).await.map(Some);
                }
            }
        }
        if let Some(team_id) = rule.assign.team_id {
            return to_team(w, &conversation, team_id, online, &lead, &how).await;
        }
        return Ok(None);
    }
    if owner_offline {
        // No rule matches: back to the conversation's team, or to the shared queue.
        if let Some(team_id) = conversation.team_id {
            return to_team(w, &conversation, team_id, online, &lead, "again").await;
        }
        let why = format!("{lead} back to the shared queue.");
        return hand_over(w, &conversation, None, None, false, &why).await.map(Some);
    }
    Ok(None)
}

/// Hands out queued conversations, oldest first, to members with room. Returns how many.
pub async fn drain(state: &AppState) -> DbResult<usize> {
    // Most kicks find no queue at all: look on a reader before taking the one writer.
    let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM conversations WHERE queued_at IS NOT NULL LIMIT 1")
        .fetch_optional(&mut *state.store.reader().await?)
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let online = state.presence.users();
    let mut w = state.store.begin().await?;
    let queued: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, team_id FROM conversations \
         WHERE queued_at IS NOT NULL AND assignee_id IS NULL AND status = 'open' AND team_id IS NOT NULL \
         ORDER BY queued_at, id",
    )
    .fetch_all(w.conn())
    .await?;
    let mut full: HashSet<String> = HashSet::new();
    let mut handed = 0;
    for (id, team_id) in queued {
        if full.contains(&team_id) {
            continue;
        }
        let (Ok(id), Ok(team)) = (Uuid::parse_str(&id), Uuid::parse_str(&team_id)) else { continue };
        let Some(info) = team_info(w.conn(), team).await? else { continue };
        let Some(m) = pick_member(w.conn(), team, info.cap, &online).await? else {
            full.insert(team_id);
            continue;
        };
        let conversation = store::conversations::get(w.conn(), id, None).await?.expect("listed above");
        let why = format!("Handed out from the {} queue; {} had {} open of {}.", info.name, m.name, m.open, info.cap);
        hand_over(&mut w, &conversation, Some(team), Some(m.id), false, &why).await?;
        handed += 1;
    }
    w.commit().await?;
    Ok(handed)
}

/// The background task that drains team queues whenever capacity may have freed.
pub async fn run(state: AppState) {
    loop {
        state.routing.0.notified().await;
        match drain(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(handed = n, "queued conversations handed out"),
            Err(e) => tracing::warn!(error = %e, "draining team queues failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(body: &'a str, phone: &'a str, labels: &'a [String]) -> Input<'a> {
        Input { body, phone, device_id: Uuid::nil(), labels }
    }

    #[test]
    fn phone_patterns() {
        assert!(phone_matches("+44*", "+447700900123"));
        assert!(!phone_matches("+44*", "+4915112345678"));
        assert!(phone_matches("+4477*123", "+447700900123"));
        assert!(phone_matches("+447700900123", "+447700900123"));
        assert!(!phone_matches("+4477", "+447700900123"));
        assert!(phone_matches("*123", "+447700900123"));
    }

    #[test]
    fn every_given_condition_must_hold() {
        let m = RuleMatch { keyword: Some("Refund".into()), contact: Some("+44*".into()), ..Default::default() };
        assert!(matches(&m, &input("I want a REFUND please", "+44123", &[])));
        assert!(!matches(&m, &input("I want a refund", "+49123", &[])));
        assert!(!matches(&m, &input("hello", "+44123", &[])));
        let labelled = RuleMatch { label: Some("VIP".into()), ..Default::default() };
        assert!(matches(&labelled, &input("x", "+1", &["vip".to_string()])));
        assert!(!matches(&labelled, &input("x", "+1", &[])));
    }

    #[test]
    fn regexes_are_checked_and_bounded() {
        assert!(compile_regex(r"order #\d{6}").is_ok());
        assert!(compile_regex("(unclosed").unwrap_err().contains("does not compile"));
        assert!(compile_regex(&"a".repeat(MAX_REGEX_CHARS + 1)).unwrap_err().contains("longer than"));
        // A pattern whose compiled form is huge is refused rather than eating memory.
        assert!(compile_regex(r"\w{1000}\w{1000}\w{1000}").is_err());
        let m = RuleMatch { regex: Some(r"(?i)order #\d{6}".into()), ..Default::default() };
        assert!(matches(&m, &input("Where is ORDER #123456?", "+1", &[])));
        assert!(!matches(&m, &input("order 12", "+1", &[])));
    }

    #[test]
    fn a_rule_needs_a_condition() {
        assert!(validate_match(&RuleMatch::default()).is_err());
        assert!(validate_match(&RuleMatch { contact: Some("abc".into()), ..Default::default() }).is_err());
        assert!(validate_match(&RuleMatch { keyword: Some("refund".into()), ..Default::default() }).is_ok());
    }
}
