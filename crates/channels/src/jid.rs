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
            if !(ok_user && ok_server) {
                return None;
            }
            // One address per person: `c.us` is the phone-number JID under an older name, and
            // `user:device@` names one of the person's devices.
            return Some(match server {
                "s.whatsapp.net" | "c.us" | "lid" => {
                    let person = user.split(':').next().unwrap_or(user);
                    if person.is_empty() {
                        return None; // `:12@s.whatsapp.net`: a device of nobody (found by fuzzing)
                    }
                    let server = if server == "c.us" { "s.whatsapp.net" } else { server };
                    Jid(format!("{person}@{server}"))
                }
                _ => Jid(input.to_string()),
            });
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
        if self.is_phone() {
            format!("+{user}")
        } else {
            user.to_string()
        }
    }

    /// A phone-number JID (as opposed to a LID, which hides the number, or a group).
    pub fn is_phone(&self) -> bool {
        self.0.ends_with("@s.whatsapp.net") || self.0.ends_with("@c.us")
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
    fn one_person_has_one_canonical_address() {
        let phone = Jid::parse("+4915112345678").unwrap();
        assert_eq!(Jid::parse("4915112345678@c.us"), Some(phone.clone()));
        assert_eq!(Jid::parse("4915112345678:12@s.whatsapp.net"), Some(phone));
        assert_eq!(Jid::parse("123456789012345:3@lid").unwrap().as_str(), "123456789012345@lid");
        assert!(!Jid::parse("123456789012345@lid").unwrap().is_phone());
        assert_eq!(Jid::parse("120363025555555555@g.us").unwrap().as_str(), "120363025555555555@g.us");
    }

    #[test]
    fn jids_pass_through_and_garbage_is_refused() {
        assert_eq!(Jid::parse("4915112345678@c.us").unwrap().phone(), "+4915112345678");
        assert!(Jid::parse("hello").is_none());
        assert!(Jid::parse("123").is_none());
        assert!(Jid::parse("a@example.com").is_none());
        // A device part with no person before it (found by fuzz/fuzz_targets/waha_webhook.rs).
        assert!(Jid::parse(":930123456@c.us").is_none());
        assert!(Jid::parse(":1@lid").is_none());
    }
}
