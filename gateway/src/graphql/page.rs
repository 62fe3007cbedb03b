//! Lists as Relay cursor connections, one way for every list: `first` (1 to 100,
//! default 20) and `after` (an `endCursor` this API gave out). Cursors are
//! `<sort key>:<id>`; a client treats them as opaque.

use super::error::ApiError;
use async_graphql::connection::{Connection, Edge};
use async_graphql::OutputType;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

/// One awaited step of [`visible`]: a boxed future, so resolvers can pass closures.
pub type Step<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

const DEFAULT_PAGE: i32 = 20;
const MAX_PAGE: i32 = 100;
/// Rows read at a time while filling a page the permission engine filters.
const SCAN: usize = 200;

/// What a list costs against the query's complexity limit: each of up to `first`
/// items costs what is asked of it, so lists nested in lists add up quickly.
pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
    first.saturating_mul(child_complexity.max(1))
}

/// How many a page holds.
pub fn size(first: Option<i32>) -> Result<usize, ApiError> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(ApiError::BadInput(format!(
            "first must be between 1 and {MAX_PAGE}"
        )));
    }
    Ok(first as usize)
}

/// A cursor for the row with sort key `at` and id `id`.
pub fn cursor(at: i64, id: impl std::fmt::Display) -> String {
    format!("{at}:{id}")
}

/// The sort key and id an `after` cursor names.
pub fn after<Id: FromStr>(after: Option<&str>) -> Result<Option<(i64, Id)>, ApiError> {
    let Some(after) = after else { return Ok(None) };
    after
        .split_once(':')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
        .map(Some)
        .ok_or_else(|| ApiError::BadInput("after is not a cursor this API gave out".into()))
}

/// A connection from up to `first + 1` rows (the extra one says there is a next page).
pub fn connection<T, N: OutputType>(
    mut rows: Vec<T>,
    first: usize,
    has_previous: bool,
    cursor: impl Fn(&T) -> String,
    node: impl Fn(T) -> N,
) -> Connection<String, N> {
    let has_next = rows.len() > first;
    rows.truncate(first);
    let mut connection = Connection::new(has_previous, has_next);
    connection.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(cursor(&row), node(row))),
    );
    connection
}

/// Fills a page of `first + 1` rows from a list the viewer sees only part of: reads
/// `fetch(after, n)` a batch at a time from `after` on and keeps the rows `keep`
/// admits, so the permission engine, not the query, decides what is shown. For a
/// viewer who sees only a few of many rows, `fetch` reads among the engine's
/// candidates (`Permissions::person_candidates`) rather than the whole list, so a
/// page costs what the viewer may see, not what the account holds.
pub async fn visible<'a, T, K: Clone>(
    first: usize,
    mut after: Option<K>,
    mut fetch: impl FnMut(Option<K>, i64) -> Step<'a, Vec<T>>,
    mut keep: impl FnMut(&T) -> Step<'a, bool>,
    key: impl Fn(&T) -> K,
) -> Result<Vec<T>, ApiError> {
    let mut page = Vec::new();
    loop {
        let batch = fetch(after.clone(), SCAN as i64).await?;
        let exhausted = batch.len() < SCAN;
        for row in batch {
            after = Some(key(&row));
            if keep(&row).await? {
                page.push(row);
                if page.len() > first {
                    return Ok(page);
                }
            }
        }
        if exhausted {
            return Ok(page);
        }
    }
}
