//! Workspaces: the installation's owner creates them; each workspace's Admin adds people to it
//! (docs/decisions.md, "Workspaces"). A token acts in one workspace, so adding members is done
//! signed in to the workspace they join.

use handoff_proto::{
    AddMemberRequest, AddedMember, CreateWorkspaceRequest, EventBody, Role, UserId, UserKind, Workspace, WorkspaceId,
};

use crate::audit::{self, Who};
use crate::auth::{hash_password, Actor};
use crate::error::{Error, Result};
use crate::store;
use crate::users::{is_email, temporary_password};
use crate::AppState;

/// A new workspace, named `req.name`, with its creator (the installation's owner) as its first
/// Admin. Audited in the new workspace; the creator signs in to it to add its people.
pub async fn create(state: &AppState, actor: &Actor, req: CreateWorkspaceRequest) -> Result<Workspace> {
    let name = crate::error::check_name("name", &req.name, 100, "A workspace needs a name of at most 100 characters.")?;
    let mut w = state.store.begin().await?;
    if actor.user.kind != UserKind::Person || !store::workspaces::is_owner(w.conn(), actor.id()).await? {
        return Err(Error::Forbidden(Box::new(handoff_proto::ErrorDetail::new(
            "forbidden",
            "Only the installation's owner creates workspaces.",
        ))));
    }
    let now = store::now();
    let workspace = store::workspaces::create(w.conn(), &name, now).await?;
    store::workspaces::add_member(w.conn(), workspace.id, actor.id(), Role::Admin, now).await?;
    let user = store::people::user(w.conn(), workspace.id, actor.id()).await?.expect("added above");
    let seq = w.append(workspace.id, EventBody::UserUpdated { user }).await?;
    let summary = format!("Created the workspace {name}");
    audit::record_in(w.conn(), workspace.id, Who::Actor(actor), "workspace.create", &summary, Some(seq)).await?;
    w.commit().await?;
    Ok(workspace)
}

/// Adds the person with `req.email` to workspace `ws` (the caller's) with `req.role`: an account
/// that exists joins (a deactivated member is active again), an email without one gets an
/// account with a temporary password. Someone already active in the workspace is a conflict.
pub async fn add_member(
    state: &AppState,
    actor: &Actor,
    ws: WorkspaceId,
    req: AddMemberRequest,
) -> Result<AddedMember> {
    if ws != actor.ws() {
        // A token acts in its own workspace. One the caller also belongs to (the owner's new
        // one) is named for what it is; another is not visible from here at all.
        let theirs = store::workspaces::membership(&mut *state.store.reader().await?, ws, actor.id()).await?;
        return Err(match theirs {
            Some((_, true)) => Error::Forbidden(Box::new(handoff_proto::ErrorDetail::new(
                "other_workspace",
                "You are signed in to another workspace: sign in to this one to add its people.",
            ))),
            _ => Error::not_found("workspace"),
        });
    }
    actor.require_admin("add people to the workspace")?;
    if !is_email(&req.email) {
        return Err(Error::invalid("email", "That is not an email address."));
    }
    let email = req.email.trim().to_string();
    let name = match req.name.as_deref() {
        Some(name) => crate::error::check_name("name", name, 100, "A name is required (at most 100 characters).")?,
        None => email.split('@').next().unwrap_or(&email).to_string(),
    };
    // Hashed before the writer is taken (a hash takes a while): used only for a new account.
    let temporary = temporary_password();
    let hash = hash_password(temporary.clone()).await;
    let now = store::now();
    let mut w = state.store.begin().await?;
    let (id, temporary_password) = match store::people::id_by_email(w.conn(), &email).await? {
        Some(id) => {
            // Someone who works in other workspaces is added by the installation's owner only:
            // the account is theirs too, and one client's Admin must not claim another's people.
            let elsewhere = store::people::other_workspaces(w.conn(), ws, id).await? > 0;
            if elsewhere && !store::workspaces::is_owner(w.conn(), actor.id()).await? {
                return Err(Error::Forbidden(Box::new(handoff_proto::ErrorDetail::new(
                    "forbidden",
                    "That person works in other workspaces: the installation's owner adds them.",
                ))));
            }
            match store::workspaces::membership(w.conn(), ws, id).await? {
                Some((_, true)) => {
                    return Err(Error::conflict("already_a_member", format!("{email} is in this workspace already.")))
                }
                Some((_, false)) => store::workspaces::reactivate(w.conn(), ws, id, req.role).await?,
                None => store::workspaces::add_member(w.conn(), ws, id, req.role, now).await?,
            }
            (id, None)
        }
        None => {
            let id = UserId::new();
            let new = store::people::NewUser {
                id,
                email: &email,
                name: &name,
                role: req.role,
                password_hash: &hash,
                kind: UserKind::Person,
            };
            store::people::insert_user(w.conn(), ws, &new, now).await?;
            store::people::set_must_change_password(&mut w, id).await?;
            (id, Some(temporary))
        }
    };
    let user = store::people::user(w.conn(), ws, id).await?.expect("a member now");
    if user.kind != UserKind::Person {
        return Err(Error::invalid("email", "That address is an API key's, not a person's."));
    }
    let seq = w.append(ws, EventBody::UserUpdated { user: user.clone() }).await?;
    let summary = format!("Added {} <{}> to the workspace ({})", user.name, user.email, user.role.as_str());
    audit::record(w.conn(), actor.into(), "member.add", None, &summary, Some(seq)).await?;
    w.commit().await?;
    Ok(AddedMember { user, temporary_password })
}
