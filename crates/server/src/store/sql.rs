//! A query put together from parts at run time (the queue's filters, the audit's), its
//! parameters numbered `$1`, `$2`, … as every other query of the store is written. Both backends
//! read that form; sqlx's own `QueryBuilder` writes a bare `?` under the Any driver, which
//! PostgreSQL does not read.

use std::fmt::Write;

use sqlx::any::{Any, AnyArguments};
use sqlx::error::BoxDynError;
use sqlx::query::Query;
use sqlx::{Arguments, Encode, Type};

pub(crate) struct Sql {
    text: String,
    args: AnyArguments,
    /// The first value that did not encode: [`Sql::query`] gives it instead of the query.
    error: Option<BoxDynError>,
}

impl Sql {
    pub fn new(head: &str) -> Sql {
        Sql { text: head.to_owned(), args: AnyArguments::default(), error: None }
    }

    pub fn push(&mut self, part: &str) -> &mut Sql {
        self.text.push_str(part);
        self
    }

    /// Writes the next parameter's placeholder and binds `value` to it.
    pub fn bind<T>(&mut self, value: T) -> &mut Sql
    where
        T: for<'q> Encode<'q, Any> + Type<Any>,
    {
        self.value(value);
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// Binds `value` to the next parameter, whose placeholder the text already has (`$1` in a
    /// head written as a constant).
    pub fn value<T>(&mut self, value: T) -> &mut Sql
    where
        T: for<'q> Encode<'q, Any> + Type<Any>,
    {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// The query, or the first value that did not encode.
    pub fn query(self) -> super::DbResult<Query<'static, Any, AnyArguments>> {
        match self.error {
            None => Ok(sqlx::query_with(sqlx::AssertSqlSafe(self.text), self.args)),
            Some(e) => Err(sqlx::Error::Encode(e).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Sql;

    #[test]
    fn parameters_are_numbered_in_the_order_they_are_bound() {
        let mut sql = Sql::new("SELECT 1 WHERE a = ");
        sql.bind("x".to_string()).push(" AND b = ").bind(2_i64).push(" LIMIT ").bind(3_i64);
        assert_eq!(sql.text, "SELECT 1 WHERE a = $1 AND b = $2 LIMIT $3");
        let mut sql = Sql::new("SELECT $1 WHERE b = ");
        sql.value("head".to_string()).bind(2_i64);
        assert_eq!(sql.text, "SELECT $1 WHERE b = $2");
    }
}
