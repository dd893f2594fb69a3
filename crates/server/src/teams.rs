//! Teams (Admin manages them) and routing rules, each change audited and, for teams, published
//! as a `team.updated` event so every app shows the same members.

use handoff_proto::{
    CreateRoutingRuleRequest, CreateTeamRequest, EventBody, PatchTeamRequest, RoutingRule, RuleId, Team, TeamId,
    UserId, UserKind, WorkspaceId,
};

use crate::audit;
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::store;
use crate::{routing, AppState};

/// Routing's default cap on open conversations per member.
pub const DEFAULT_AGENT_CAP: i64 = 5;

fn check_name(name: &str) -> Result<String> {
    crate::error::check_name("name", name, 60, "A team needs a name of at most 60 characters.")
}

fn check_cap(cap: i64) -> Result<i64> {
    if !(1..=1000).contains(&cap) {
        return Err(Error::invalid(
            "agent_cap",
            "agent_cap is how many open conversations routing gives one member: 1 to 1000.",
        ));
    }
    Ok(cap)
}

/// SLA targets: positive seconds, at most 90 days; 0 means "no target".
fn check_target(field: &str, secs: Option<i64>) -> Result<Option<i64>> {
    match secs {
        None | Some(0) => Ok(None),
        Some(s) if (1..=90 * 86_400).contains(&s) => Ok(Some(s)),
        Some(_) => {
            Err(Error::invalid(field, format!("{field} is in seconds, from 1 to 7776000 (90 days), or 0 for none.")))
        }
    }
}

async fn name_taken(conn: &mut store::Conn, ws: WorkspaceId, name: &str, except: Option<TeamId>) -> Result<()> {
    match store::teams::id_by_name(conn, ws, name).await? {
        Some(id) if Some(id) != except => {
            Err(Error::conflict("team_name_taken", format!("There is already a team called {name}.")))
        }
        _ => Ok(()),
    }
}

/// Publishes the team's new state, audits the change, commits, and lets routing use the change.
async fn finish(
    state: &AppState,
    mut w: store::Writer<'_>,
    actor: &Actor,
    id: TeamId,
    action: &str,
    summary: &str,
) -> Result<Team> {
    let team = store::teams::get(w.conn(), actor.ws(), id).await?.expect("exists");
    let seq = w.append(actor.ws(), EventBody::TeamUpdated { team: team.clone() }).await?;
    audit::record(w.conn(), actor.into(), action, None, summary, Some(seq)).await?;
    w.commit().await?;
    state.routing.kick();
    Ok(team)
}

pub async fn create(state: &AppState, actor: &Actor, req: CreateTeamRequest) -> Result<Team> {
    let name = check_name(&req.name)?;
    let cap = check_cap(req.agent_cap.unwrap_or(DEFAULT_AGENT_CAP))?;
    let first = check_target("first_response_secs", req.first_response_secs)?;
    let resolution = check_target("resolution_secs", req.resolution_secs)?;
    let mut w = state.store.begin().await?;
    name_taken(w.conn(), actor.ws(), &name, None).await?;
    let id = TeamId::new();
    let team = store::teams::NewTeam {
        workspace: actor.ws(),
        id,
        name: &name,
        agent_cap: cap,
        first_response_secs: first,
        resolution_secs: resolution,
    };
    store::teams::insert(w.conn(), &team).await?;
    finish(state, w, actor, id, "team.create", &format!("Created team {name}")).await
}

pub async fn patch(state: &AppState, actor: &Actor, id: TeamId, req: PatchTeamRequest) -> Result<Team> {
    let mut w = state.store.begin().await?;
    let team = store::teams::get(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("team"))?;
    let name = match &req.name {
        Some(n) => check_name(n)?,
        None => team.name.clone(),
    };
    name_taken(w.conn(), actor.ws(), &name, Some(id)).await?;
    let cap = check_cap(req.agent_cap.unwrap_or(team.agent_cap))?;
    let first = match req.first_response_secs {
        Some(s) => check_target("first_response_secs", Some(s))?,
        None => team.first_response_secs,
    };
    let resolution = match req.resolution_secs {
        Some(s) => check_target("resolution_secs", Some(s))?,
        None => team.resolution_secs,
    };
    let changed = store::teams::NewTeam {
        workspace: actor.ws(),
        id,
        name: &name,
        agent_cap: cap,
        first_response_secs: first,
        resolution_secs: resolution,
    };
    store::teams::update(w.conn(), &changed).await?;
    // The team's conversations carry their SLA due times: publish them anew when the targets change.
    if first != team.first_response_secs || resolution != team.resolution_secs {
        for cid in store::conversations::unresolved_of_team(w.conn(), actor.ws(), id).await? {
            if let Some(conversation) = store::conversations::get(w.conn(), actor.ws(), cid, None).await? {
                let cause = handoff_proto::UpdateCause::Refreshed;
                w.append(
                    actor.ws(),
                    EventBody::ConversationUpdated { conversation, actor_id: Some(actor.id()), cause },
                )
                .await?;
            }
        }
    }
    let summary = format!("Changed team {name}: cap {cap}, first response {first:?} s, resolution {resolution:?} s");
    finish(state, w, actor, id, "team.update", &summary).await
}

pub async fn set_members(state: &AppState, actor: &Actor, id: TeamId, user_ids: Vec<UserId>) -> Result<Team> {
    if user_ids.len() > 1000 {
        return Err(Error::invalid("user_ids", "A team has at most 1000 members."));
    }
    let mut w = state.store.begin().await?;
    let team = store::teams::get(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("team"))?;
    let mut names = Vec::new();
    for user_id in &user_ids {
        let user = store::people::user(w.conn(), actor.ws(), *user_id)
            .await?
            .ok_or_else(|| Error::invalid("user_ids", format!("No user has the id {user_id}.")))?;
        if user.kind == UserKind::ApiKey {
            return Err(Error::invalid("user_ids", format!("{} is an API key, not a person.", user.name)));
        }
        names.push(user.name);
    }
    store::teams::set_members(w.conn(), actor.ws(), id, &user_ids).await?;
    let summary = format!(
        "Set the members of {}: {}",
        team.name,
        if names.is_empty() { "nobody".into() } else { names.join(", ") }
    );
    finish(state, w, actor, id, "team.members", &summary).await
}

pub async fn create_rule(state: &AppState, actor: &Actor, req: CreateRoutingRuleRequest) -> Result<RoutingRule> {
    let name = crate::error::check_name("name", &req.name, 100, "A rule needs a name of at most 100 characters.")?;
    routing::validate_match(&req.matches)?;
    if req.assign.team_id.is_none() && req.assign.user_id.is_none() {
        return Err(Error::invalid("assign", "Say where matching conversations go: a team_id, a user_id or both."));
    }
    let mut w = state.store.begin().await?;
    if let Some(team_id) = req.assign.team_id {
        if store::teams::get(w.conn(), actor.ws(), team_id).await?.is_none() {
            return Err(Error::invalid("assign.team_id", "No team has that id."));
        }
    }
    if let Some(user_id) = req.assign.user_id {
        let user = store::people::user(w.conn(), actor.ws(), user_id)
            .await?
            .ok_or_else(|| Error::invalid("assign.user_id", "No user has that id."))?;
        if !user.active || user.role == handoff_proto::Role::Viewer || user.kind == UserKind::ApiKey {
            return Err(Error::invalid(
                "assign.user_id",
                format!("{} cannot own conversations (deactivated, a Viewer or an API key).", user.name),
            ));
        }
    }
    if let Some(device_id) = req.matches.device_id {
        if store::devices::get(w.conn(), actor.ws(), device_id).await?.is_none() {
            return Err(Error::invalid("match.device_id", "No device has that id."));
        }
    }
    let position = match req.position {
        Some(p) => p,
        None => store::routing::last_position(w.conn(), actor.ws()).await? + 1,
    };
    let id = RuleId::new();
    let rule = store::routing::NewRule {
        workspace: actor.ws(),
        id,
        name: &name,
        position,
        matches: &req.matches,
        assign: &req.assign,
    };
    store::routing::insert_rule(w.conn(), &rule).await?;
    audit::record(
        w.conn(),
        actor.into(),
        "rule.create",
        None,
        &format!("Created routing rule '{name}' at position {position}"),
        None,
    )
    .await?;
    let rule =
        store::routing::rules(w.conn(), actor.ws()).await?.into_iter().find(|r| r.id == id).expect("inserted above");
    w.commit().await?;
    Ok(rule)
}

pub async fn delete_rule(state: &AppState, actor: &Actor, id: RuleId) -> Result<()> {
    let mut w = state.store.begin().await?;
    let name =
        store::routing::delete_rule(w.conn(), actor.ws(), id).await?.ok_or_else(|| Error::not_found("routing rule"))?;
    audit::record(w.conn(), actor.into(), "rule.delete", None, &format!("Deleted routing rule '{name}'"), None).await?;
    w.commit().await?;
    Ok(())
}
