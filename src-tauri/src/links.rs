//! `handoff://` links: what the operating system hands the app when someone opens one (a link in
//! a chat or a ticket, a notification's Open), on a first launch or forwarded to the running
//! instance by the single-instance plugin.

use handoff_proto::ConversationId;

/// The scheme the app registers with the operating system (`tauri.conf.json`, deep-link).
pub const SCHEME: &str = "handoff";

/// Where a link leads.
#[derive(Debug, PartialEq)]
pub enum Link {
    /// `handoff://conversation/<id>`
    Conversation(ConversationId),
}

/// Reads a link; anything else (another scheme, an unknown path, a bad id) is `None`.
pub fn parse(url: &str) -> Option<Link> {
    let rest = url.strip_prefix(SCHEME)?.strip_prefix("://")?;
    let rest = rest.trim_end_matches('/');
    let (kind, id) = rest.split_once('/')?;
    match kind {
        "conversation" => ConversationId::parse_str(id).ok().map(Link::Conversation),
        _ => None,
    }
}

/// The link that opens a conversation.
pub fn conversation(id: ConversationId) -> String {
    format!("{SCHEME}://conversation/{id}")
}

/// The first `handoff://` link among a launch's arguments.
pub fn from_args<S: AsRef<str>>(args: &[S]) -> Option<Link> {
    args.iter().find_map(|a| parse(a.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_link_round_trips() {
        let id = ConversationId::new();
        assert_eq!(parse(&conversation(id)), Some(Link::Conversation(id)));
        assert_eq!(parse(&format!("handoff://conversation/{id}/")), Some(Link::Conversation(id)));
    }

    #[test]
    fn anything_else_is_no_link() {
        for bad in [
            "https://conversation/6d0c7cf4-3a4e-4a38-9d0f-6f5f2c0c8a11",
            "handoff://conversation/not-an-id",
            "handoff://contact/6d0c7cf4-3a4e-4a38-9d0f-6f5f2c0c8a11",
            "handoff:conversation",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_link_is_found_among_the_arguments() {
        let id = ConversationId::new();
        let args = ["/usr/bin/handoff-desktop".to_string(), "--flag".into(), conversation(id)];
        assert_eq!(from_args(&args), Some(Link::Conversation(id)));
        assert_eq!(from_args(&["/usr/bin/handoff-desktop"]), None);
    }
}
