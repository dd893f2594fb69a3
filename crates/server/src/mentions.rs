//! `@mentions` in notes. A mention names a teammate by the part of their email before the `@`
//! (`@ana.lima`), by their name without spaces (`@AnaLima`), or by their first name when no one
//! else shares it (`@ana`), ignoring case. The app's autocomplete inserts the first of these.

use handoff_proto::{UserId, WorkspaceId};
use std::collections::BTreeSet;

use crate::store::{self, DbResult};

/// The `@word` tokens of a text, lower case, without repeats.
pub fn tokens(body: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let chars: Vec<char> = body.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        // An @ starts a mention at the start of the text or after a non-word character (not in emails).
        if *c != '@' || (i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '.')) {
            continue;
        }
        let word: String =
            chars[i + 1..].iter().take_while(|ch| ch.is_alphanumeric() || matches!(ch, '.' | '_' | '-')).collect();
        let word = word.trim_end_matches(['.', '-', '_']).to_lowercase();
        if !word.is_empty() {
            out.insert(word);
        }
    }
    out
}

/// The active people a text mentions.
pub async fn resolve(conn: &mut store::Conn, ws: WorkspaceId, body: &str) -> DbResult<Vec<UserId>> {
    let wanted = tokens(body);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let people = crate::store::people::active_people(conn, ws).await?;
    let first_name = |name: &str| name.split_whitespace().next().unwrap_or("").to_lowercase();
    let mut found = BTreeSet::new();
    for (id, email, name) in &people {
        let local = email.split('@').next().unwrap_or("").to_lowercase();
        let joined: String = name.split_whitespace().collect::<String>().to_lowercase();
        let first = first_name(name);
        let first_is_unique = people.iter().filter(|(_, _, n)| first_name(n) == first).count() == 1;
        if wanted.contains(&local) || wanted.contains(&joined) || (first_is_unique && wanted.contains(&first)) {
            found.insert(*id);
        }
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::tokens;

    #[test]
    fn finds_mentions_but_not_emails() {
        let t = tokens("@Ana please check with @ben.ortiz. Mail vic@handoff.local, (@Cleo)");
        assert_eq!(t.into_iter().collect::<Vec<_>>(), vec!["ana", "ben.ortiz", "cleo"]);
        assert!(tokens("no mentions @ here").is_empty());
    }
}
