//! Decoding columns: ids and times are stored as text.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{parse_ts, DbResult};

pub(crate) fn decode_err(what: &str, value: &str) -> super::Error {
    super::Error::Corrupt { what: what.into(), value: value.into() }
}

pub(crate) fn uuid_col(row: &SqliteRow, col: &str) -> DbResult<Uuid> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|_| decode_err(col, &s))
}

pub(crate) fn opt_uuid_col(row: &SqliteRow, col: &str) -> DbResult<Option<Uuid>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| Uuid::parse_str(&s).map_err(|_| decode_err(col, &s))).transpose()
}

pub(crate) fn opt_ts_col(row: &SqliteRow, col: &str) -> DbResult<Option<chrono::DateTime<chrono::Utc>>> {
    let s: Option<String> = row.try_get(col)?;
    s.as_deref().map(parse_ts).transpose()
}
