//! Statements that write many rows at once: one round trip for a whole list instead
//! of one per row (issue 14). Both stores take the same multi-row `VALUES` lists.

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
