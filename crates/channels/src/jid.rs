//! WhatsApp addresses (JIDs).

use std::fmt;

/// A WhatsApp address such as `4915112345678@s.whatsapp.net`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Jid(String);

impl Jid {
    /// Accepts a JID (`user@server`) or a phone number (`+49 151 1234-5678`), which becomes a
    /// phone-number JID. Returns `None` for anything else.
    pub fn parse(input: &str) -> Option<Jid> {
        let input = input.trim();
        if let Some((user, server)) = input.split_once('@') {
            let ok_user =
                !user.is_empty() && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == ':' || c == '-');
            let ok_server = matches!(server, "s.whatsapp.net" | "c.us" | "lid" | "g.us");
            return (ok_user && ok_server).then(|| Jid(input.to_string()));
        }
        let digits: String = input.chars().filter(|c| c.is_ascii_digit()).collect();
        let only_phone_chars = input.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        (only_phone_chars && (6..=15).contains(&digits.len())).then(|| Jid(format!("{digits}@s.whatsapp.net")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The phone number in E.164 form (`+4915112345678`) for phone-number JIDs, else the user part.
    pub fn phone(&self) -> String {
        let user = self.0.split('@').next().unwrap_or_default();
        let user = user.split(':').next().unwrap_or_default();
        if self.0.ends_with("@s.whatsapp.net") || self.0.ends_with("@c.us") {
            format!("+{user}")
        } else {
            user.to_string()
        }
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_become_phone_jids() {
        let jid = Jid::parse("+49 151 1234-5678").unwrap();
        assert_eq!(jid.as_str(), "4915112345678@s.whatsapp.net");
        assert_eq!(jid.phone(), "+4915112345678");
    }

    #[test]
    fn jids_pass_through_and_garbage_is_refused() {
        assert_eq!(Jid::parse("4915112345678@c.us").unwrap().phone(), "+4915112345678");
        assert!(Jid::parse("hello").is_none());
        assert!(Jid::parse("123").is_none());
        assert!(Jid::parse("a@example.com").is_none());
    }
}
