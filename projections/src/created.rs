//! Rows a projection's batch creates, kept in memory until the batch ends: a row
//! created and then changed within one batch (a task created, renamed and closed) is
//! written once, in a multi-row `INSERT` beside the other rows the batch created,
//! instead of an `INSERT` and an `UPDATE` per change, a round trip each (issue 14,
//! aim 4). Only for rows nothing reads while the batch is applied: whatever else would
//! touch a kept row writes the kept rows first.

use std::collections::HashMap;
use std::hash::Hash;

/// The rows of one table created by a batch, in the order their events came, each
/// with the index in the batch of the event that created it and its key.
pub(crate) struct Created<K, R> {
    rows: Vec<(usize, K, R)>,
    at: HashMap<K, usize>,
}

impl<K: Eq + Hash + Clone, R> Created<K, R> {
    pub(crate) fn new() -> Self {
        Created {
            rows: Vec::new(),
            at: HashMap::new(),
        }
    }

    /// Keeps `row`, created by the batch's event number `made_by`.
    pub(crate) fn push(&mut self, made_by: usize, key: K, row: R) {
        self.at.insert(key.clone(), self.rows.len());
        self.rows.push((made_by, key, row));
    }

    /// The kept row of `key`, if the batch created it.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut R> {
        let at = *self.at.get(key)?;
        self.rows.get_mut(at).map(|(_, _, row)| row)
    }

    pub(crate) fn contains(&self, key: &K) -> bool {
        self.at.contains_key(key)
    }

    /// Every kept row, in order; none are kept afterwards.
    pub(crate) fn take(&mut self) -> Vec<(usize, K, R)> {
        self.at.clear();
        std::mem::take(&mut self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_changed_after_its_creation_is_kept_once_changed() {
        let mut created = Created::new();
        created.push(0, "a", String::from("first"));
        created.push(3, "b", String::from("other"));
        if let Some(row) = created.get_mut(&"a") {
            *row = "renamed".into();
        }
        assert!(created.get_mut(&"c").is_none());
        assert!(created.contains(&"b"));
        assert_eq!(
            created.take(),
            [
                (0, "a", "renamed".to_string()),
                (3, "b", "other".to_string())
            ]
        );
        assert!(!created.contains(&"a"));
        assert!(created.take().is_empty());
    }
}
