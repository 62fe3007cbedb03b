//! A row read back from the read models, whichever way it was read: through sqlx (every
//! query) or on the calling thread ([`crate::inline`], the reads every request makes).
//! Records decode themselves from [`RecordRow`], so each has one decoder for both.

use crate::StoreError;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

/// A column type both readers decode.
pub(crate) trait ColumnValue:
    for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql
{
}

impl<T> ColumnValue for T where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + rusqlite::types::FromSql
{
}

pub(crate) trait RecordRow {
    /// The value of the column named `column`.
    fn value<T: ColumnValue>(&self, column: &str) -> Result<T, StoreError>;
}

impl RecordRow for AnyRow {
    fn value<T: ColumnValue>(&self, column: &str) -> Result<T, StoreError> {
        Ok(self.try_get(column)?)
    }
}

impl RecordRow for rusqlite::Row<'_> {
    fn value<T: ColumnValue>(&self, column: &str) -> Result<T, StoreError> {
        Ok(self.get(column)?)
    }
}
