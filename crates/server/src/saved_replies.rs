//! Saved replies (docs/api.md, "Saved replies"): the workspace's library, kept by its Admins,
//! and each person's own. A change appends `saved_replies.changed` (no text) so that the apps
//! that show them read them again and keep them for offline use.

use handoff_proto::{
    CreateSavedReplyRequest, EventBody, PatchSavedReplyRequest, SavedReply, SavedReplyId, MAX_SAVED_REPLY_CHARS,
    MAX_SHORTCUT_CHARS,
};

use crate::audit;
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::store;
use crate::AppState;

/// A person may keep this many of their own, and the library this many.
pub const MAX_PER_LIBRARY: usize = 500;

pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<SavedReply>> {
    let mut conn = state.store.reader().await?;
    Ok(store::saved_replies::visible(&mut conn, actor.ws(), actor.id()).await?)
}

/// `/Thanks ` is `thanks`; anything but letters, digits, `-` and `_` is refused.
pub fn check_shortcut(text: &str) -> Result<String> {
    let shortcut = text.trim().trim_start_matches('/').to_lowercase();
    let fine = !shortcut.is_empty()
        && shortcut.chars().count() <= MAX_SHORTCUT_CHARS
        && shortcut.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !fine {
        return Err(Error::invalid(
            "shortcut",
            format!("A shortcut is 1 to {MAX_SHORTCUT_CHARS} letters, digits, - or _ (typed as /shortcut)."),
        ));
    }
    Ok(shortcut)
}

fn check_body(text: &str) -> Result<String> {
    if text.trim().is_empty() || text.chars().count() > MAX_SAVED_REPLY_CHARS {
        return Err(Error::invalid("body", format!("A saved reply is 1 to {MAX_SAVED_REPLY_CHARS} characters.")));
    }
    Ok(text.to_owned())
}

fn scope(reply: &SavedReply) -> &'static str {
    if reply.owner_id.is_some() {
        "own"
    } else {
        "library"
    }
}

pub async fn create(state: &AppState, actor: &Actor, req: CreateSavedReplyRequest) -> Result<SavedReply> {
    actor.require_write("keep saved replies")?;
    let admin = actor.user.role == handoff_proto::Role::Admin;
    let personal = req.personal.unwrap_or(!admin);
    if !personal {
        actor.require_admin("change the workspace's saved replies (set personal: true for your own)")?;
    } else if req.team_id.is_some() {
        return Err(Error::invalid("team_id", "Your own saved replies belong to no team: leave team_id out."));
    }
    let shortcut = check_shortcut(&req.shortcut)?;
    let body = check_body(&req.body)?;
    let owner = personal.then(|| actor.id());
    let mut w = state.store.begin().await?;
    if let Some(team) = req.team_id {
        if store::teams::get(w.conn(), actor.ws(), team).await?.is_none() {
            return Err(Error::invalid("team_id", "There is no such team."));
        }
    }
    if store::saved_replies::shortcut_taken(w.conn(), actor.ws(), owner, &shortcut, None).await? {
        return Err(Error::conflict("shortcut_taken", format!("/{shortcut} is taken: pick another shortcut.")));
    }
    let mine = store::saved_replies::visible(w.conn(), actor.ws(), actor.id()).await?;
    if mine.iter().filter(|r| r.owner_id == owner).count() >= MAX_PER_LIBRARY {
        return Err(Error::conflict("too_many_saved_replies", format!("At most {MAX_PER_LIBRARY} saved replies.")));
    }
    let id = SavedReplyId::new();
    let new = store::saved_replies::NewSavedReply {
        id,
        shortcut: &shortcut,
        body: &body,
        team_id: req.team_id,
        owner_id: owner,
        created_by: actor.id(),
    };
    store::saved_replies::insert(w.conn(), actor.ws(), &new, store::now()).await?;
    let reply = store::saved_replies::get(w.conn(), actor.ws(), actor.id(), id).await?.expect("inserted above");
    let seq = w.append(actor.ws(), EventBody::SavedRepliesChanged { owner_id: owner }).await?;
    let summary = format!("Saved reply /{shortcut} added ({})", scope(&reply));
    audit::record(w.conn(), actor.into(), "saved_reply.create", None, &summary, Some(seq)).await?;
    w.commit().await?;
    Ok(reply)
}

/// The reply `id` if the caller may change it: their own, or (Admins) the library's.
async fn changeable(w: &mut store::Writer<'_>, actor: &Actor, id: SavedReplyId) -> Result<SavedReply> {
    let reply = store::saved_replies::get(w.conn(), actor.ws(), actor.id(), id)
        .await?
        .ok_or_else(|| Error::not_found("saved reply"))?;
    if reply.owner_id.is_none() {
        actor.require_admin("change the workspace's saved replies")?;
    } else {
        actor.require_write("keep saved replies")?;
    }
    Ok(reply)
}

pub async fn patch(
    state: &AppState,
    actor: &Actor,
    id: SavedReplyId,
    req: PatchSavedReplyRequest,
) -> Result<SavedReply> {
    let shortcut = req.shortcut.as_deref().map(check_shortcut).transpose()?;
    let body = req.body.as_deref().map(check_body).transpose()?;
    let mut w = state.store.begin().await?;
    let before = changeable(&mut w, actor, id).await?;
    let mut after = before.clone();
    if let Some(s) = shortcut {
        after.shortcut = s;
    }
    if let Some(b) = body {
        after.body = b;
    }
    if after == before {
        return Ok(before);
    }
    if after.shortcut != before.shortcut
        && store::saved_replies::shortcut_taken(w.conn(), actor.ws(), before.owner_id, &after.shortcut, Some(id))
            .await?
    {
        return Err(Error::conflict("shortcut_taken", format!("/{} is taken: pick another shortcut.", after.shortcut)));
    }
    store::saved_replies::update(w.conn(), actor.ws(), &after, store::now()).await?;
    let seq = w.append(actor.ws(), EventBody::SavedRepliesChanged { owner_id: before.owner_id }).await?;
    let summary = format!("Saved reply /{} changed ({})", after.shortcut, scope(&after));
    audit::record(w.conn(), actor.into(), "saved_reply.update", None, &summary, Some(seq)).await?;
    let reply = store::saved_replies::get(w.conn(), actor.ws(), actor.id(), id).await?.expect("exists");
    w.commit().await?;
    Ok(reply)
}

pub async fn delete(state: &AppState, actor: &Actor, id: SavedReplyId) -> Result<()> {
    let mut w = state.store.begin().await?;
    let reply = changeable(&mut w, actor, id).await?;
    store::saved_replies::delete(w.conn(), actor.ws(), id).await?;
    let seq = w.append(actor.ws(), EventBody::SavedRepliesChanged { owner_id: reply.owner_id }).await?;
    let summary = format!("Saved reply /{} deleted ({})", reply.shortcut, scope(&reply));
    audit::record(w.conn(), actor.into(), "saved_reply.delete", None, &summary, Some(seq)).await?;
    w.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_typed_loosely_and_stored_one_way() {
        assert_eq!(check_shortcut(" /Thanks ").unwrap(), "thanks");
        assert_eq!(check_shortcut("order-status_2").unwrap(), "order-status_2");
        for bad in ["", "/", "two words", "ünicode", "a/b", &"x".repeat(33)] {
            assert!(check_shortcut(bad).is_err(), "{bad:?}");
        }
    }
}
