//! The directory of people: who is who in an account, read from the `people` table.

use crate::permission::Candidates;
use crate::read_model::parse_label;
use crate::{Database, StoreError};
use domain::person::{PersonKind, PersonStatus};
use domain::{AccountId, Email, PersonId};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};
use std::collections::HashSet;
use std::fmt::Display;

#[derive(Debug, Clone)]
pub struct PersonRecord {
    pub account: AccountId,
    pub id: PersonId,
    pub kind: PersonKind,
    pub active: bool,
    pub dismissed: bool,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub administrator: bool,
    pub password_hash: String,
    /// `active`, `suspended`, `dismissed` or `erased`.
    pub status: String,
    /// Why they are suspended (the domain's label), if they are.
    pub suspension_reason: Option<String>,
    /// When their access ends, if it has an end (milliseconds since the epoch).
    pub access_expires_at: Option<i64>,
    /// Who invited them, if anyone did.
    pub sponsor: Option<PersonId>,
    pub joined_at: i64,
}

const COLUMNS: &str = "account_id, person_id, kind, status, email, first_name, last_name, administrator, password_hash, suspension_reason, access_expires_at, sponsor_id, joined_at";

pub(crate) fn parse_id<T: std::str::FromStr>(
    row: &AnyRow,
    column: &'static str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| StoreError::UnknownValue {
        what: column,
        value: text,
    })
}

impl PersonRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let kind: String = row.try_get("kind")?;
        let status: String = row.try_get("status")?;
        let administrator: i16 = row.try_get("administrator")?;
        Ok(Self {
            account: parse_id(row, "account_id")?,
            id: parse_id(row, "person_id")?,
            kind: parse_label("person kind", &kind)?,
            active: status == "active",
            dismissed: status == "dismissed",
            email: row.try_get("email")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
            administrator: administrator != 0,
            password_hash: row.try_get("password_hash")?,
            suspension_reason: row.try_get("suspension_reason")?,
            access_expires_at: row.try_get("access_expires_at")?,
            sponsor: row
                .try_get::<Option<String>, _>("sponsor_id")?
                .and_then(|id| id.parse().ok()),
            joined_at: row.try_get("joined_at")?,
            status,
        })
    }
}

/// A page of the account's people in the order they joined (ties by id), after the
/// `(joined_at, id)` of the last one shown.
pub async fn page(
    db: &Database,
    account: AccountId,
    after: Option<(i64, PersonId)>,
    limit: i64,
) -> Result<Vec<PersonRecord>, StoreError> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (at, id.to_string()),
        None => (i64::MIN, String::new()),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM people
          WHERE account_id = $1 AND (joined_at > $2 OR (joined_at = $2 AND person_id > $3))
          ORDER BY joined_at, person_id
          LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(account.to_string())
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&db.any)
        .await?;
    rows.iter().map(PersonRecord::from_row).collect()
}

/// Ids bound in one `IN (…)`: far below what SQLite (32766) and PostgreSQL (65535)
/// take as bound parameters, so one query never fails for the size of a set.
const IDS_PER_QUERY: usize = 500;

/// The rows of `sql` for the ids of `among`, a chunk of ids at a time. `sql` holds
/// `{ids}` where the chunk's `$n` placeholders go, numbered from `first`; `bind` binds
/// the parameters before them. Each chunk's rows come back in its own order, so the
/// caller merges them; with the chunk's `LIMIT`, the first `limit` of the merge are
/// the first `limit` of the whole set.
pub(crate) async fn rows_among<Id: Display>(
    db: &Database,
    sql: &str,
    first: usize,
    among: &HashSet<Id>,
    bind: impl for<'q> Fn(Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>>,
) -> Result<Vec<AnyRow>, StoreError> {
    let mut ids: Vec<String> = among.iter().map(ToString::to_string).collect();
    // The same set reads as the same queries, whatever the hash order.
    ids.sort_unstable();
    let mut rows = Vec::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let placeholders = (first..first + chunk.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = sql.replace("{ids}", &placeholders);
        let mut query = bind(sqlx::query(&sql));
        for id in chunk {
            query = query.bind(id.as_str());
        }
        rows.extend(query.fetch_all(&db.any).await?);
    }
    Ok(rows)
}

/// A page of the people a viewer's [`Candidates`] name: [`page`] for all of them,
/// [`page_among`] for a set.
pub async fn page_of(
    db: &Database,
    account: AccountId,
    candidates: &Candidates<PersonId>,
    after: Option<(i64, PersonId)>,
    limit: i64,
) -> Result<Vec<PersonRecord>, StoreError> {
    match candidates {
        Candidates::All => page(db, account, after, limit).await,
        Candidates::Only(ids) => page_among(db, account, ids, after, limit).await,
    }
}

/// [`page`], read only among the people of `among`: the same order, cursor and limit.
pub async fn page_among(
    db: &Database,
    account: AccountId,
    among: &HashSet<PersonId>,
    after: Option<(i64, PersonId)>,
    limit: i64,
) -> Result<Vec<PersonRecord>, StoreError> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (at, id.to_string()),
        None => (i64::MIN, String::new()),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM people
          WHERE account_id = $1 AND (joined_at > $2 OR (joined_at = $2 AND person_id > $3))
            AND person_id IN ({{ids}})
          ORDER BY joined_at, person_id
          LIMIT $4"
    );
    let rows = rows_among(db, &sql, 5, among, |q| {
        q.bind(account.to_string())
            .bind(after_at)
            .bind(after_id.clone())
            .bind(limit)
    })
    .await?;
    let mut people = rows
        .iter()
        .map(PersonRecord::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    // The ids' text order, as `ORDER BY person_id` has it (a uuid's text sorts as its
    // bytes).
    people.sort_by_cached_key(|p| (p.joined_at, p.id.to_string()));
    people.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(people)
}

pub async fn by_id(
    db: &Database,
    account: AccountId,
    person: PersonId,
) -> Result<Option<PersonRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM people WHERE account_id = $1 AND person_id = $2");
    let row = sqlx::query(&sql)
        .bind(account.to_string())
        .bind(person.to_string())
        .fetch_optional(&db.any)
        .await?;
    row.as_ref().map(PersonRecord::from_row).transpose()
}

/// The current (active) person with this address, if any.
pub async fn by_email(
    db: &Database,
    account: AccountId,
    email: &Email,
) -> Result<Option<PersonRecord>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM people WHERE account_id = $1 AND email = $2 AND status = 'active'"
    );
    let row = sqlx::query(&sql)
        .bind(account.to_string())
        .bind(email.as_str())
        .fetch_optional(&db.any)
        .await?;
    row.as_ref().map(PersonRecord::from_row).transpose()
}

/// Where to reach a person, and what to call them: a person who has joined, or one
/// who is invited and has not accepted yet (a guest is emailed about their task from
/// the moment they are invited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl Contact {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

pub async fn contact_of(
    conn: &mut sqlx::AnyConnection,
    account: AccountId,
    person: PersonId,
) -> Result<Option<Contact>, StoreError> {
    let row = sqlx::query(
        "SELECT email, first_name, last_name FROM people
          WHERE account_id = $1 AND person_id = $2 AND status = 'active'
         UNION ALL
         SELECT address AS email, first_name, last_name FROM invitations
          WHERE account_id = $1 AND person_id = $2 AND status = 'pending' AND address LIKE '%@%'
         LIMIT 1",
    )
    .bind(account.to_string())
    .bind(person.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| {
        Ok(Contact {
            email: row.try_get("email")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
        })
    })
    .transpose()
}

/// Everyone of an account with their kind and standing, as the trial policy needs them.
pub async fn standing_of_all(
    db: &Database,
    account: AccountId,
) -> Result<Vec<(PersonId, PersonKind, PersonStatus)>, StoreError> {
    let rows = sqlx::query(
        "SELECT person_id, kind, status, suspension_reason FROM people WHERE account_id = $1",
    )
    .bind(account.to_string())
    .fetch_all(&db.any)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let status: String = row.try_get("status")?;
            let reason: Option<String> = row.try_get("suspension_reason")?;
            let status = match (status.as_str(), reason) {
                ("active", _) => PersonStatus::Active,
                ("suspended", Some(reason)) => {
                    PersonStatus::Suspended(parse_label("suspension reason", &reason)?)
                }
                ("dismissed", _) => PersonStatus::Dismissed,
                ("erased", _) => PersonStatus::Erased,
                (other, _) => {
                    return Err(StoreError::UnknownValue {
                        what: "person status",
                        value: other.to_string(),
                    })
                }
            };
            Ok((
                parse_id(row, "person_id")?,
                parse_label("person kind", &kind)?,
                status,
            ))
        })
        .collect()
}
