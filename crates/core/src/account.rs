//! The signed-in person's own account: their password and their sessions. Like Admin work these
//! need the server, so they fail with "not reachable" while offline.

use handoff_proto::{ChangePasswordRequest, Page, SessionEntry, SessionId};
use reqwest::Method;

use crate::{Client, CoreResult, SessionInfo};

impl Client {
    /// Changes my password. The server ends every other session of mine; this one stays. After a
    /// temporary password (an Admin's reset) this is what starts syncing.
    pub async fn change_password(&self, current: &str, new: &str) -> CoreResult<SessionInfo> {
        let req = ChangePasswordRequest { current_password: current.to_string(), new_password: new.to_string() };
        self.call::<_, ()>(Method::POST, "/api/v1/me/password", Some(&req)).await?;
        let (info, was_temporary, user) = {
            let mut guard = self.inner.session.write().unwrap_or_else(|p| p.into_inner());
            let session = guard.as_mut().ok_or(crate::CoreError::NotSignedIn)?;
            let was_temporary = std::mem::take(&mut session.user.must_change_password);
            (session.info(), was_temporary, session.user.clone())
        };
        if was_temporary {
            let json = serde_json::to_string(&user).unwrap_or_default();
            self.inner.cache.set_meta("user", &json).await?;
            self.start();
        }
        Ok(info)
    }

    /// My sessions (this computer's is marked `current`), the most recently used first.
    pub async fn sessions(&self) -> CoreResult<Vec<SessionEntry>> {
        let page: Page<SessionEntry> = self.call::<(), _>(Method::GET, "/api/v1/me/sessions", None).await?;
        Ok(page.items)
    }

    /// Ends one of my sessions (a lost laptop's): its token stops working at once.
    pub async fn end_session(&self, id: SessionId) -> CoreResult<()> {
        self.call::<(), ()>(Method::DELETE, &format!("/api/v1/me/sessions/{id}"), None).await
    }
}
