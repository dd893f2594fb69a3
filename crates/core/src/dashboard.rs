//! The manager's dashboard, computed from the local cache (so it works offline): tiles, the queue
//! by breach risk, and the series behind its charts. Every figure follows from the conversations'
//! SLA times as the server set them; `now` is a parameter so tests pin it.

use chrono::{DateTime, Duration, DurationRound, Utc};
use handoff_proto::{Conversation, ConversationStatus, Team, TeamId};

use crate::types::view;

/// Upper bounds (seconds) of the first-response histogram's buckets; the last bucket is open.
pub const FIRST_RESPONSE_BUCKETS: [(i64, &str); 6] = [
    (300, "< 5 min"),
    (900, "5–15 min"),
    (3600, "15–60 min"),
    (4 * 3600, "1–4 h"),
    (86_400, "4–24 h"),
    (i64::MAX, "> 24 h"),
];

view! {
    #[serde(rename_all = "snake_case")]
    pub enum SlaKind {
        FirstResponse,
        Resolution,
    }
}

view! {
    /// An unresolved conversation with an SLA clock running.
    pub struct AtRisk {
        pub conversation: Conversation,
        pub kind: SlaKind,
        pub due_at: DateTime<Utc>,
        /// Negative while there is time left.
        #[cfg_attr(feature = "specta", specta(type = i32))]
        pub overdue_secs: i64,
    }
}

view! {
    pub struct TeamBreaches {
        pub team_id: Option<TeamId>,
        pub team: String,
        /// Breaches per day, oldest first, aligned with [`Dashboard::days`].
        pub per_day: Vec<u32>,
    }
}

view! {
    pub struct Dashboard {
        pub open: u32,
        pub unassigned: u32,
        /// Unresolved conversations past a due time now.
        pub past_sla: u32,
        /// Median seconds from (re)opening to the first reply, over replies given today (UTC).
        pub median_first_response_today_secs: Option<u32>,
        /// The start of each of the last 24 hours, oldest first.
        pub hours: Vec<DateTime<Utc>>,
        /// Conversations opened in each of those hours.
        pub opened_per_hour: Vec<u32>,
        /// Bucket labels of the first-response histogram (replies over the last 7 days).
        pub first_response_labels: Vec<String>,
        pub first_response_counts: Vec<u32>,
        /// The last 7 days (UTC), oldest first, as `YYYY-MM-DD`.
        pub days: Vec<String>,
        /// SLA breaches (first response or resolution, by due day) per team.
        pub breaches: Vec<TeamBreaches>,
        /// Unresolved conversations with an SLA clock running, most urgent first.
        pub at_risk: Vec<AtRisk>,
    }
}

/// The running clock of an unresolved conversation: the first response until given, then resolution.
fn running(c: &Conversation) -> Option<(SlaKind, DateTime<Utc>)> {
    if c.status == ConversationStatus::Resolved {
        return None;
    }
    match (c.first_response_at, c.first_response_due_at, c.resolution_due_at) {
        (None, Some(due), _) => Some((SlaKind::FirstResponse, due)),
        (_, _, Some(due)) => Some((SlaKind::Resolution, due)),
        _ => None,
    }
}

/// The due times a conversation missed, as of `now`.
fn breaches(c: &Conversation, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    if let Some(due) = c.first_response_due_at {
        if c.first_response_at.map_or(now > due, |at| at > due) {
            out.push(due);
        }
    }
    if let Some(due) = c.resolution_due_at {
        let done = if c.status == ConversationStatus::Resolved { c.resolved_at } else { None };
        if done.map_or(c.status != ConversationStatus::Resolved && now > due, |at| at > due) {
            out.push(due);
        }
    }
    out
}

pub fn compute(conversations: &[Conversation], teams: &[Team], now: DateTime<Utc>) -> Dashboard {
    let unresolved: Vec<&Conversation> =
        conversations.iter().filter(|c| c.status != ConversationStatus::Resolved).collect();
    let open = unresolved.iter().filter(|c| matches!(c.status, ConversationStatus::Open | ConversationStatus::Pending));
    let open_count = open.clone().count() as u32;
    let unassigned = open.filter(|c| c.assignee_id.is_none()).count() as u32;

    let mut at_risk: Vec<AtRisk> = unresolved
        .iter()
        .filter_map(|c| {
            running(c).map(|(kind, due_at)| AtRisk {
                conversation: (*c).clone(),
                kind,
                due_at,
                overdue_secs: (now - due_at).num_seconds(),
            })
        })
        .collect();
    at_risk.sort_by_key(|r| (r.due_at, r.conversation.id));
    let past_sla = at_risk.iter().filter(|r| r.overdue_secs > 0).count() as u32;
    at_risk.truncate(100);

    let today = now.duration_trunc(Duration::days(1)).unwrap_or(now);
    let mut today_secs: Vec<i64> = conversations
        .iter()
        .filter_map(|c| Some((c.first_response_at?, c.opened_at?)))
        .filter(|(at, _)| *at >= today)
        .map(|(at, opened)| (at - opened).num_seconds().max(0))
        .collect();
    today_secs.sort_unstable();
    let median = (!today_secs.is_empty()).then(|| today_secs[today_secs.len() / 2] as u32);

    let this_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let hours: Vec<DateTime<Utc>> = (0..24).rev().map(|h| this_hour - Duration::hours(h)).collect();
    let mut opened_per_hour = vec![0u32; 24];
    for c in conversations {
        if let Some(opened) = c.opened_at {
            if opened >= hours[0] {
                let i = ((opened - hours[0]).num_hours() as usize).min(23);
                opened_per_hour[i] += 1;
            }
        }
    }

    let week_start = today - Duration::days(6);
    let mut first_response_counts = vec![0u32; FIRST_RESPONSE_BUCKETS.len()];
    for c in conversations {
        if let (Some(at), Some(opened)) = (c.first_response_at, c.opened_at) {
            if at >= week_start {
                let secs = (at - opened).num_seconds().max(0);
                let i = FIRST_RESPONSE_BUCKETS.iter().position(|(max, _)| secs < *max).unwrap_or(5);
                first_response_counts[i] += 1;
            }
        }
    }

    let days: Vec<DateTime<Utc>> = (0..7).map(|d| week_start + Duration::days(d)).collect();
    let mut rows: Vec<TeamBreaches> =
        teams.iter().map(|t| TeamBreaches { team_id: Some(t.id), team: t.name.clone(), per_day: vec![0; 7] }).collect();
    rows.push(TeamBreaches { team_id: None, team: "No team".into(), per_day: vec![0; 7] });
    for c in conversations {
        for due in breaches(c, now) {
            if due < week_start || due > now {
                continue;
            }
            let day = ((due - week_start).num_days() as usize).min(6);
            let row = rows.iter_mut().position(|r| r.team_id == c.team_id).unwrap_or(rows.len() - 1);
            rows[row].per_day[day] += 1;
        }
    }
    // The "No team" row only when it has something to say.
    if rows.last().is_some_and(|r| r.per_day.iter().all(|n| *n == 0)) {
        rows.pop();
    }

    Dashboard {
        open: open_count,
        unassigned,
        past_sla,
        median_first_response_today_secs: median,
        hours,
        opened_per_hour,
        first_response_labels: FIRST_RESPONSE_BUCKETS.iter().map(|(_, l)| l.to_string()).collect(),
        first_response_counts,
        days: days.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect(),
        breaches: rows,
        at_risk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_proto::{Contact, ContactId, ConversationId, DeviceId, UserId};

    fn at(h: i64, m: i64) -> DateTime<Utc> {
        "2026-11-25T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours(h) + Duration::minutes(m)
    }

    fn conv(opened: DateTime<Utc>, team: Option<TeamId>) -> Conversation {
        Conversation {
            id: ConversationId::new(),
            device_id: DeviceId::nil(),
            contact: Contact { id: ContactId::nil(), name: None, phone: "+1".into() },
            status: ConversationStatus::Open,
            assignee_id: None,
            team_id: team,
            version: 1,
            last_message_at: opened,
            last_message_preview: String::new(),
            unread_count: 0,
            assigned_at: None,
            labels: vec![],
            snooze_until: None,
            opened_at: Some(opened),
            first_response_at: None,
            first_response_due_at: team.map(|_| opened + Duration::minutes(30)),
            resolution_due_at: team.map(|_| opened + Duration::hours(8)),
            resolved_at: None,
            escalation_note_id: None,
        }
    }

    #[test]
    fn tiles_risk_and_breaches_follow_the_sla_times() {
        let billing = Team {
            id: TeamId::new(),
            name: "Billing".into(),
            member_ids: vec![],
            agent_cap: 5,
            first_response_secs: Some(1800),
            resolution_secs: Some(8 * 3600),
        };
        let now = at(12, 0);
        // Answered in 10 min: no breach. Unanswered for 2 h: a first-response breach.
        let mut answered = conv(at(9, 0), Some(billing.id));
        answered.first_response_at = Some(at(9, 10));
        answered.assignee_id = Some(UserId::new());
        let late = conv(at(10, 0), Some(billing.id));
        let fresh = conv(at(11, 50), Some(billing.id));
        // Resolved after its 8 h resolution target yesterday.
        let mut resolved = conv(at(-20, 0), Some(billing.id));
        resolved.first_response_at = Some(at(-20, 5));
        resolved.status = ConversationStatus::Resolved;
        resolved.resolved_at = Some(at(-10, 0));
        let untracked = conv(at(11, 0), None);
        let d = compute(&[answered.clone(), late.clone(), fresh.clone(), resolved, untracked], &[billing], now);

        assert_eq!((d.open, d.unassigned, d.past_sla), (4, 3, 1));
        assert_eq!(d.median_first_response_today_secs, Some(600));
        let risk: Vec<(ConversationId, SlaKind)> =
            d.at_risk.iter().map(|r| (r.conversation.id, r.kind.clone())).collect();
        assert_eq!(
            risk,
            vec![
                (late.id, SlaKind::FirstResponse),
                (fresh.id, SlaKind::FirstResponse),
                (answered.id, SlaKind::Resolution)
            ]
        );
        assert_eq!(d.at_risk[0].overdue_secs, 90 * 60);
        assert_eq!(d.breaches.len(), 1, "no 'No team' row without breaches");
        assert_eq!(d.breaches[0].per_day, vec![0, 0, 0, 0, 0, 1, 1], "yesterday's resolution, today's first response");
        assert_eq!(d.days.last().map(String::as_str), Some("2026-11-25"));
        assert_eq!(d.opened_per_hour.iter().sum::<u32>(), 4, "opened in the last 24 h");
        assert_eq!((d.opened_per_hour[22], d.opened_per_hour[23]), (2, 0), "11:00 and 11:50; nothing since 12:00");
        assert_eq!(d.first_response_counts, vec![0, 2, 0, 0, 0, 0], "10 min today, 5 min yesterday");
    }
}
