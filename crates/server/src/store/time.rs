//! Times are stored as fixed-width RFC 3339 UTC text, so that text order is time order.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, at the precision the store keeps (microseconds), so a stored time reads back equal.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn ts(t: DateTime<Utc>) -> String {
    handoff_proto::sortable_time(t)
}

pub fn parse_ts(s: &str) -> super::DbResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| super::Error::Corrupt { what: "time".into(), value: s.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_round_trip_and_sort_as_text() {
        let a = now();
        assert_eq!(parse_ts(&ts(a)).unwrap(), a);
        let b = a + chrono::Duration::microseconds(1);
        assert!(ts(a) < ts(b));
        assert_eq!(ts(a).len(), "2026-11-25T12:00:00.000000Z".len());
    }
}
