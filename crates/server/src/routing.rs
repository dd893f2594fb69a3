//! Routing: ordered rules (first match wins) applied to every new conversation and on reopen,
//! and the team queues they feed.
//!
//! A rule's action hands the conversation to one agent and/or a team. A team hands it to its
//! online member with the fewest open conversations under the team's cap; when every member is
//! offline or at cap it waits in the team queue (`queued_at`) and is handed out oldest first as
//! capacity frees (a member comes online, resolves or snoozes something, or the team changes).
//! Every automatic assignment adds a system message that says why.

use std::collections::HashSet;

use handoff_proto::{
    Conversation, ConversationId, DeviceId, EventBody, MessageId, RoutingRule, RuleMatch, Seq, TeamId, UpdateCause,
    UserId, WorkspaceId,
};
use regex::{Regex, RegexBuilder};
use tokio::sync::Notify;

use crate::audit::{self, Who};
use crate::error::{Error, Result};
use crate::store::teams::Member;
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
pub fn validate_match(m: &RuleMatch) -> Result<()> {
    if let Some(re) = &m.regex {
        compile_regex(re).map_err(|e| Error::invalid("match.regex", e))?;
    }
    if m.keyword.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(Error::invalid("match.keyword", "The keyword is empty."));
    }
    if let Some(c) = &m.contact {
        if c.trim().is_empty() || !c.chars().all(|ch| ch.is_ascii_digit() || "+*".contains(ch)) {
            return Err(Error::invalid(
                "match.contact",
                "A contact pattern is a phone number with digits, an optional leading + and * for any digits (+44*).",
            ));
        }
    }
    let given = [m.keyword.is_some(), m.regex.is_some(), m.contact.is_some(), m.device_id.is_some(), m.label.is_some()];
    if !given.contains(&true) {
        return Err(Error::invalid(
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
    pub device_id: DeviceId,
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

pub fn first_match<'r>(rules: &'r [RoutingRule], input: &Input<'_>) -> Option<&'r RoutingRule> {
    rules.iter().find(|r| matches(&r.matches, input))
}

/// The online member with the fewest open conversations under the cap (ties: by name).
async fn pick_member(
    conn: &mut store::Conn,
    ws: WorkspaceId,
    team_id: TeamId,
    cap: i64,
    online: &HashSet<UserId>,
) -> DbResult<Option<Member>> {
    let members = store::teams::assignable_members(conn, ws, team_id).await?;
    Ok(members.into_iter().find(|m| online.contains(&m.id) && m.open < cap))
}

/// Sets the owner and team of a conversation, then writes the system message saying why.
async fn hand_over(
    w: &mut Writer<'_>,
    ws: WorkspaceId,
    conversation: &Conversation,
    team_id: Option<TeamId>,
    assignee: Option<UserId>,
    queued: bool,
    why: &str,
) -> DbResult<Seq> {
    store::conversations::set_owner(w.conn(), ws, conversation.id, team_id, assignee, queued).await?;
    let updated = store::conversations::get(w.conn(), ws, conversation.id, None).await?.expect("exists");
    w.append(ws, EventBody::ConversationUpdated { conversation: updated, actor_id: None, cause: UpdateCause::Routed })
        .await?;
    let seq = system_message(w, ws, conversation.id, why).await?;
    audit::record(w.conn(), Who::Server(ws), "route", Some(conversation.id), why, Some(seq)).await?;
    Ok(seq)
}

/// Adds a system message (visible to the team, never sent to WhatsApp) to a conversation.
pub async fn system_message(
    w: &mut Writer<'_>,
    ws: WorkspaceId,
    conversation_id: ConversationId,
    body: &str,
) -> DbResult<Seq> {
    let id = MessageId::new();
    store::messages::insert_system(w.conn(), ws, id, conversation_id, body).await?;
    store::conversations::bump_version(w.conn(), ws, conversation_id).await?;
    let message = store::messages::get(w.conn(), ws, id).await?.expect("inserted above");
    let conversation = store::conversations::get(w.conn(), ws, conversation_id, None).await?.expect("exists");
    w.append(ws, EventBody::MessageCreated { message, conversation }).await
}

/// Hands a conversation to a team: its best online member, or its queue. `lead` starts the
/// system message ("Routed"), `how` ends its first part ("by rule 'refund'").
async fn to_team(
    w: &mut Writer<'_>,
    ws: WorkspaceId,
    conversation: &Conversation,
    team_id: TeamId,
    online: &HashSet<UserId>,
    lead: &str,
    how: &str,
) -> DbResult<Option<Seq>> {
    let Some((team, cap)) = store::teams::name_and_cap(w.conn(), ws, team_id).await? else { return Ok(None) };
    let seq = match pick_member(w.conn(), ws, team_id, cap, online).await? {
        Some(m) => {
            let why = format!("{lead} to {team} {how}; {} had {} open of {cap}.", m.name, m.open);
            hand_over(w, ws, conversation, Some(team_id), Some(m.id), false, &why).await?
        }
        None => {
            let why = format!(
                "{lead} to {team} {how}; waiting in the team queue: every member is offline or has {cap} open."
            );
            hand_over(w, ws, conversation, Some(team_id), None, true, &why).await?
        }
    };
    Ok(Some(seq))
}

/// Routes a conversation that was just created or reopened by `body`. A reopened conversation
/// whose owner is online stays with them; one whose owner is offline is routed again.
pub async fn route(
    w: &mut Writer<'_>,
    ws: WorkspaceId,
    online: &HashSet<UserId>,
    conversation_id: ConversationId,
    body: &str,
    reopened: bool,
) -> DbResult<Option<Seq>> {
    let Some(conversation) = store::conversations::get(w.conn(), ws, conversation_id, None).await? else {
        return Ok(None);
    };
    let owner_offline = conversation.assignee_id.is_some_and(|a| !online.contains(&a));
    if reopened && conversation.assignee_id.is_some() && !owner_offline {
        return Ok(None);
    }
    let rules = store::routing::rules(w.conn(), ws).await?;
    let input = Input {
        body,
        phone: &conversation.contact.phone,
        device_id: conversation.device_id,
        labels: &conversation.labels,
    };
    let lead = match conversation.assignee_id.filter(|_| owner_offline) {
        Some(id) => {
            let name = store::people::user(w.conn(), ws, id).await?.map(|u| u.name).unwrap_or_default();
            format!("Reopened while {name} is offline: routed")
        }
        None => "Routed".to_string(),
    };
    if let Some(rule) = first_match(&rules, &input) {
        let how = format!("by rule '{}'", rule.name);
        if let Some(user_id) = rule.assign.user_id {
            if let Some(name) = store::people::assignable_name(w.conn(), ws, user_id).await? {
                if online.contains(&user_id) || rule.assign.team_id.is_none() {
                    let team = rule.assign.team_id.or(conversation.team_id);
                    let why = format!("{lead} to {name} {how}.");
                    return hand_over(w, ws, &conversation, team, Some(user_id), false, &why).await.map(Some);
                }
            }
        }
        if let Some(team_id) = rule.assign.team_id {
            return to_team(w, ws, &conversation, team_id, online, &lead, &how).await;
        }
        return Ok(None);
    }
    if owner_offline {
        // No rule matches: back to the conversation's team, or to the shared queue.
        if let Some(team_id) = conversation.team_id {
            return to_team(w, ws, &conversation, team_id, online, &lead, "again").await;
        }
        let why = format!("{lead} back to the shared queue.");
        return hand_over(w, ws, &conversation, None, None, false, &why).await.map(Some);
    }
    Ok(None)
}

/// Hands out queued conversations, oldest first, to members with room. Returns how many.
pub async fn drain(state: &AppState) -> DbResult<usize> {
    // Most kicks find no queue at all: look on a reader before taking the one writer.
    if !store::routing::any_queued(&mut *state.store.reader().await?).await? {
        return Ok(0);
    }
    let mut w = state.store.begin().await?;
    let mut full: HashSet<TeamId> = HashSet::new();
    let mut handed = 0;
    for (ws, id, team) in store::routing::queued(w.conn()).await? {
        if full.contains(&team) {
            continue;
        }
        let online = state.presence.users(ws);
        let Some((name, cap)) = store::teams::name_and_cap(w.conn(), ws, team).await? else { continue };
        let Some(m) = pick_member(w.conn(), ws, team, cap, &online).await? else {
            full.insert(team);
            continue;
        };
        let conversation = store::conversations::get(w.conn(), ws, id, None).await?.expect("listed above");
        let why = format!("Handed out from the {name} queue; {} had {} open of {cap}.", m.name, m.open);
        hand_over(&mut w, ws, &conversation, Some(team), Some(m.id), false, &why).await?;
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
        Input { body, phone, device_id: DeviceId::nil(), labels }
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
