//! The global, ordered event log that every projection and the notifier follow.
//!
//! postgres-es and sqlite-es key events by (aggregate type, id, sequence) and know no
//! global order, so the migrations add one (see `migrations/*/0001_event_log.sql`).
//!
//! On PostgreSQL, the identity column alone is not a safe cursor: a transaction that
//! drew a lower number can commit after a reader has passed a higher one, and that
//! event would be skipped for ever. So the log is read in `(tx_id, global_position)`
//! order and only below `pg_snapshot_xmin(pg_current_snapshot())`: every transaction
//! under that bound has finished, so no event can still appear behind the cursor.
//! The price is that one long-running transaction anywhere holds readers back.
//!
//! On SQLite writers take turns, so `global_position` is already commit order.

use crate::personal_data::PersonalData;
use crate::store::Database;
use crate::{Backend, StoreError};
use domain::{PersonId, Timestamp};
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

/// A place in the log. Ordered as the log is read: by writing transaction, then by
/// position (on SQLite `tx` is always 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    pub tx: i64,
    pub position: i64,
}

impl LogPosition {
    /// The place as the domain names a cause (`domain::LogMark`).
    pub fn mark(self) -> domain::LogMark {
        domain::LogMark {
            tx: self.tx,
            position: self.position,
        }
    }

    /// Before every event.
    pub const START: LogPosition = LogPosition { tx: 0, position: 0 };
    /// After every event.
    pub const END: LogPosition = LogPosition {
        tx: i64::MAX,
        position: i64::MAX,
    };
}

/// Who made a change, and when: stored with every event as cqrs-es metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The person whose request made the change; none for the system itself
    /// (bootstrap, scheduled expiry).
    pub actor: Option<PersonId>,
    pub at: Timestamp,
    pub request_id: Option<String>,
}

impl Metadata {
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([("at".to_string(), self.at.0.to_string())]);
        if let Some(actor) = self.actor {
            map.insert("actor".into(), actor.to_string());
        }
        if let Some(id) = &self.request_id {
            map.insert("request_id".into(), id.clone());
        }
        map
    }

    fn from_json(text: &str) -> Result<Self, StoreError> {
        let map: HashMap<String, String> =
            serde_json::from_str(text).map_err(|source| StoreError::Corrupt {
                what: "event metadata",
                source,
            })?;
        Ok(Self {
            actor: map.get("actor").and_then(|a| a.parse().ok()),
            at: Timestamp(map.get("at").and_then(|a| a.parse().ok()).unwrap_or(0)),
            request_id: map.get("request_id").cloned(),
        })
    }
}

/// One event as the log holds it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub position: LogPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub account_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: serde_json::Value,
    pub metadata: Metadata,
}

impl StoredEvent {
    /// The payload as the domain event of its aggregate, read through the domain's
    /// upcasters when it was stored in an older shape.
    pub fn decode<E: DeserializeOwned>(&self) -> Result<E, StoreError> {
        let (_, payload) =
            domain::upcast::upcast(&self.event_type, &self.event_version, self.payload.clone());
        serde_json::from_value(payload).map_err(|source| StoreError::Corrupt {
            what: "event payload",
            source,
        })
    }

    /// The entity part of the aggregate key `"{account}:{entity}"`.
    pub fn entity_id(&self) -> &str {
        self.aggregate_id
            .split_once(':')
            .map(|(_, entity)| entity)
            .unwrap_or(&self.aggregate_id)
    }

    /// What of the event personal data sealing reads and changes.
    pub(crate) fn personal(&mut self) -> crate::personal_data::Personal<'_> {
        (&self.aggregate_id, &self.event_type, &mut self.payload)
    }

    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let payload: String = row.try_get("payload")?;
        let metadata: String = row.try_get("metadata")?;
        Ok(Self {
            position: LogPosition {
                tx: row.try_get("tx")?,
                position: row.try_get("global_position")?,
            },
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            account_id: row.try_get("account_id")?,
            sequence: row.try_get("sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload: serde_json::from_str(&payload).map_err(|source| StoreError::Corrupt {
                what: "event payload",
                source,
            })?,
            metadata: Metadata::from_json(&metadata)?,
        })
    }
}

const PG_READ: &str = "
SELECT tx_id::text::bigint AS tx, global_position, aggregate_type, aggregate_id, account_id,
       sequence, event_type, event_version, payload::text AS payload, metadata::text AS metadata
  FROM events
 WHERE (tx_id, global_position) > ($1::bigint::text::xid8, $2)
   AND (tx_id, global_position) <= ($3::bigint::text::xid8, $4)
   AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY tx_id, global_position
 LIMIT $5";

const SQLITE_READ: &str = "
SELECT 0 AS tx, global_position, aggregate_type, aggregate_id, account_id,
       sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE global_position > $1 AND global_position <= $2
 ORDER BY global_position
 LIMIT $3";

const PG_LAST_OF_AGGREGATE: &str = "
SELECT tx_id::text::bigint AS tx, global_position FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2
 ORDER BY sequence DESC LIMIT 1";

const SQLITE_LAST_OF_AGGREGATE: &str = "
SELECT 0 AS tx, global_position FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2
 ORDER BY sequence DESC LIMIT 1";

/// Aggregate ids one statement of [`EventLog::fold_many`] asks for.
const IDS_PER_STATEMENT: usize = 500;

/// The most events a follower's lag is counted up to at `/readyz` and `/metrics`
/// ([`EventLog::lag_after`]): enough to tell a backlog from a hiccup. A count of a
/// million took 0.2 s of the database every time it was asked; one of 100,000 still
/// took 57 ms, and during a catch-up watched every 20 ms those counts used 8 s of the
/// database in 10 (issue 14).
pub const LAG_COUNTED_UP_TO: i64 = 10_000;

const PG_EVENT_COLUMNS: &str = "tx_id::text::bigint AS tx, global_position, aggregate_type, \
     aggregate_id, account_id, sequence, event_type, event_version, payload::text AS payload, \
     metadata::text AS metadata";

const SQLITE_EVENT_COLUMNS: &str = "0 AS tx, global_position, aggregate_type, aggregate_id, \
     account_id, sequence, event_type, event_version, payload, metadata";

const PG_OF_AGGREGATE: &str = "
SELECT tx_id::text::bigint AS tx, global_position, aggregate_type, aggregate_id, account_id,
       sequence, event_type, event_version, payload::text AS payload, metadata::text AS metadata
  FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2
 ORDER BY sequence";

const SQLITE_OF_AGGREGATE: &str = "
SELECT 0 AS tx, global_position, aggregate_type, aggregate_id, account_id,
       sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2
 ORDER BY sequence";

const PG_HEAD: &str = "
SELECT tx_id::text::bigint AS tx, global_position FROM events
 ORDER BY tx_id DESC, global_position DESC LIMIT 1";

const SQLITE_HEAD: &str = "
SELECT 0 AS tx, global_position FROM events ORDER BY global_position DESC LIMIT 1";

/// Reads the log in order. Cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    db: Database,
    personal: PersonalData,
}

impl EventLog {
    pub fn new(db: Database) -> Self {
        Self {
            personal: PersonalData::new(db.clone()),
            db,
        }
    }

    /// The events of `rows`, with their personal data opened in one go.
    async fn opened(&self, rows: &[AnyRow]) -> Result<Vec<StoredEvent>, StoreError> {
        let mut events = rows
            .iter()
            .map(StoredEvent::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.personal
            .open_all(events.iter_mut().map(StoredEvent::personal).collect())
            .await?;
        Ok(events)
    }

    /// Up to `limit` events after `after` and not after `until`, in log order. An
    /// event that is not returned now because its transaction is still running will be
    /// returned by a later call with the same `after`: nothing is skipped.
    pub async fn read(
        &self,
        after: LogPosition,
        until: LogPosition,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = match self.db.backend {
            Backend::Postgres => {
                sqlx::query(PG_READ)
                    .bind(after.tx)
                    .bind(after.position)
                    .bind(until.tx)
                    .bind(until.position)
                    .bind(limit)
                    .fetch_all(&self.db.any)
                    .await?
            }
            Backend::Sqlite => {
                sqlx::query(SQLITE_READ)
                    .bind(after.position)
                    .bind(until.position)
                    .bind(limit)
                    .fetch_all(&self.db.any)
                    .await?
            }
        };
        self.opened(&rows).await
    }

    /// Every event of one aggregate, oldest first, with personal data opened: for a
    /// decision that needs a fact the read models do not keep (the password hash a
    /// registration was made with) or a write model folded from the aggregate's own
    /// events (a person's outstanding password reset), as the command side would.
    pub async fn of_aggregate(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = match self.db.backend {
            Backend::Postgres => PG_OF_AGGREGATE,
            Backend::Sqlite => SQLITE_OF_AGGREGATE,
        };
        let rows = sqlx::query(sql)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(&self.db.any)
            .await?;
        self.opened(&rows).await
    }

    /// An aggregate as its own events make it: the small write model a page checks a
    /// link against before showing a form, without running a command.
    pub async fn fold<A: cqrs_es::Aggregate>(
        &self,
        key: domain::AggregateKey,
    ) -> Result<A, StoreError> {
        let mut aggregate = A::default();
        for event in self.of_aggregate(A::TYPE, &key.to_string()).await? {
            aggregate.apply(event.decode()?);
        }
        Ok(aggregate)
    }

    /// Many aggregates of one type as their own events make them, read in a few
    /// statements rather than one or two each: for a use case that decides for a
    /// long list at once (inviting thousands of addresses checks each one's claim).
    /// An id nothing was stored under is absent from the answer.
    pub async fn fold_many<A: cqrs_es::Aggregate>(
        &self,
        keys: &[domain::AggregateKey],
    ) -> Result<HashMap<String, A>, StoreError> {
        let ids: Vec<String> = keys.iter().map(ToString::to_string).collect();
        let columns = match self.db.backend {
            Backend::Postgres => PG_EVENT_COLUMNS,
            Backend::Sqlite => SQLITE_EVENT_COLUMNS,
        };
        let mut folded: HashMap<String, A> = HashMap::new();
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let wanted = crate::bulk::list(chunk.len(), 2);
            let sql = format!(
                "SELECT {columns} FROM events
                  WHERE aggregate_type = $1 AND aggregate_id IN ({wanted})
                  ORDER BY aggregate_id, sequence"
            );
            let mut query = sqlx::query(&sql).bind(A::TYPE);
            for id in chunk {
                query = query.bind(id);
            }
            let rows = query.fetch_all(&self.db.any).await?;
            for event in self.opened(&rows).await? {
                let decoded = event.decode()?;
                folded.entry(event.aggregate_id).or_default().apply(decoded);
            }
        }
        Ok(folded)
    }

    /// The position of the newest committed event: a projection that has passed it has
    /// seen everything committed before this call.
    pub async fn head(&self) -> Result<LogPosition, StoreError> {
        let sql = match self.db.backend {
            Backend::Postgres => PG_HEAD,
            Backend::Sqlite => SQLITE_HEAD,
        };
        let row = sqlx::query(sql).fetch_optional(&self.db.any).await?;
        Ok(match row {
            Some(row) => LogPosition {
                tx: row.try_get("tx")?,
                position: row.try_get("global_position")?,
            },
            None => LogPosition::START,
        })
    }

    /// Whether committed events wait unreadable behind a transaction still open
    /// somewhere on the cluster (PostgreSQL only; see the module docs). For a moment
    /// this is ordinary, whenever another transaction is open; for long it is a
    /// forgotten session holding every follower back.
    pub async fn held(&self) -> Result<bool, StoreError> {
        if self.db.backend != Backend::Postgres {
            return Ok(false);
        }
        // The newest transaction's events against the horizon, rather than `EXISTS
        // (… WHERE tx_id >= horizon)`: PostgreSQL planned that, prepared once, as a
        // scan of the whole table (0.6–1.2 s at a million events, run by the
        // freshness monitor all the time), where this is always one step of the index.
        let row = sqlx::query(
            "SELECT COALESCE((SELECT tx_id >= pg_snapshot_xmin(pg_current_snapshot())
                                FROM events ORDER BY tx_id DESC LIMIT 1), false) AS held",
        )
        .fetch_one(&self.db.any)
        .await?;
        Ok(row.try_get("held")?)
    }

    /// How many committed events lie after `position` (a rebuild's total).
    pub async fn count_after(&self, position: LogPosition) -> Result<i64, StoreError> {
        self.count(position, None).await
    }

    /// How many committed events lie after `position`, counted up to `up_to`: a
    /// follower's lag as `/readyz` and `/metrics` show it ([`LAG_COUNTED_UP_TO`]).
    /// Counting is a scan of the backlog, and a probe every few seconds must not cost
    /// more the further behind a follower is.
    pub async fn lag_after(&self, position: LogPosition, up_to: i64) -> Result<i64, StoreError> {
        self.count(position, Some(up_to)).await
    }

    async fn count(&self, position: LogPosition, up_to: Option<i64>) -> Result<i64, StoreError> {
        // Without a bound, a limit no log reaches.
        let up_to = up_to.unwrap_or(i64::MAX);
        let query = match self.db.backend {
            Backend::Postgres => sqlx::query(
                "SELECT count(*) AS n FROM (
                    SELECT 1 FROM events
                     WHERE (tx_id, global_position) > ($1::bigint::text::xid8, $2)
                     LIMIT $3) behind",
            )
            .bind(position.tx)
            .bind(position.position)
            .bind(up_to),
            Backend::Sqlite => sqlx::query(
                "SELECT count(*) AS n FROM (
                    SELECT 1 FROM events WHERE global_position > $1 LIMIT $2) behind",
            )
            .bind(position.position)
            .bind(up_to),
        };
        Ok(query.fetch_one(&self.db.any).await?.try_get("n")?)
    }

    /// The position of the newest event of one aggregate: once a projection has
    /// passed it, it has seen every change a just-returned command made.
    pub async fn last_of_aggregate(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<LogPosition>, StoreError> {
        let sql = match self.db.backend {
            Backend::Postgres => PG_LAST_OF_AGGREGATE,
            Backend::Sqlite => SQLITE_LAST_OF_AGGREGATE,
        };
        let row = sqlx::query(sql)
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_optional(&self.db.any)
            .await?;
        row.map(|row| {
            Ok(LogPosition {
                tx: row.try_get("tx")?,
                position: row.try_get("global_position")?,
            })
        })
        .transpose()
    }
}
