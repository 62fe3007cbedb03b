//! Statements that write many rows at once: one round trip for a whole list instead
//! of one per row (issue 14). Both stores take the same multi-row `VALUES` lists.

use crate::StoreError;
use sqlx::{Any, Transaction};

/// The most rows one statement carries, whatever its width: both stores' limits on
/// bound parameters (SQLite's is 32,766) are met with room to spare.
pub(crate) fn rows_per_statement(columns: usize) -> usize {
    (30_000 / columns.max(1)).min(1_000)
}

/// `($1, $2), ($3, $4), ...` for `rows` rows of `columns.len()` parameters, each
/// followed by its column's suffix (a cast such as `::json`, or nothing).
pub(crate) fn placeholders(rows: usize, columns: &[&str]) -> String {
    let width = columns.len();
    (0..rows)
        .map(|row| {
            let row = columns
                .iter()
                .enumerate()
                .map(|(column, suffix)| format!("${}{suffix}", row * width + column + 1))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({row})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, $first+1, ...`: `count` parameters for an `IN (...)` list that follows
/// `first - 1` others.
pub(crate) fn list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One value of a row kept for a later multi-row `INSERT`.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Small(i16),
}

impl Value {
    /// Binds this value as the query's next parameter.
    pub(crate) fn bind<'q>(self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            Value::Text(v) => query.bind(v),
            Value::Int(v) => query.bind(v),
            Value::Small(v) => query.bind(v),
        }
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

impl From<i16> for Value {
    fn from(v: i16) -> Self {
        Value::Small(v)
    }
}

/// Rows a projection's batch adds to one table, gathered while its events are applied
/// and written when the batch ends, a statement per thousand rows. Only for a table
/// the projection never reads, changes or removes rows of while applying, so writing
/// its rows later in the same transaction changes nothing but the number of round
/// trips.
pub(crate) struct Inserts {
    /// `INSERT INTO table (a, b, c)`.
    into: &'static str,
    width: usize,
    /// What follows the values, such as `ON CONFLICT DO NOTHING`.
    then: &'static str,
    values: Vec<Value>,
    /// For each row, the index of the event in the batch that made it.
    made_by: Vec<usize>,
}

impl Inserts {
    pub(crate) fn new(into: &'static str, width: usize, then: &'static str) -> Self {
        Inserts {
            into,
            width,
            then,
            values: Vec::new(),
            made_by: Vec::new(),
        }
    }

    /// Keeps a row made by the batch's event number `event`.
    pub(crate) fn push<const N: usize>(&mut self, event: usize, row: [Value; N]) {
        debug_assert_eq!(N, self.width, "a row of {} for {}", N, self.into);
        self.values.extend(row);
        self.made_by.push(event);
    }

    /// Writes every kept row; on failure, the index of the event whose row's statement
    /// failed (its first row's).
    pub(crate) async fn write(
        &mut self,
        tx: &mut Transaction<'static, Any>,
    ) -> Result<(), (usize, StoreError)> {
        let per_statement = rows_per_statement(self.width);
        let mut values = std::mem::take(&mut self.values).into_iter();
        let made_by = std::mem::take(&mut self.made_by);
        for made_by in made_by.chunks(per_statement) {
            let sql = format!(
                "{} VALUES {} {}",
                self.into,
                placeholders(made_by.len(), &vec![""; self.width]),
                self.then
            );
            let mut query = sqlx::query(&sql);
            for value in values.by_ref().take(made_by.len() * self.width) {
                query = value.bind(query);
            }
            query
                .execute(&mut **tx)
                .await
                .map_err(|e| (made_by[0], e.into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_row_on() {
        assert_eq!(
            placeholders(2, &["", "::json"]),
            "($1, $2::json), ($3, $4::json)"
        );
        assert_eq!(placeholders(0, &[""]), "");
        assert_eq!(list(3, 2), "$2, $3, $4");
    }

    #[test]
    fn a_statement_stays_under_the_parameter_limits() {
        assert_eq!(rows_per_statement(7), 1_000);
        assert!(rows_per_statement(19) * 19 <= 30_000);
    }
}
