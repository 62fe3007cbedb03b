//! A person's history, for audit: every event that concerns them, in log order, with
//! who did it and when, across re-invitations; and their state as of any past moment.
//!
//! The `History` projection records, for each event, the people it is about and the
//! person who caused it. It follows behind the read models, whose invitations table
//! names the person an invitation is for.

use crate::bulk::Inserts;
use crate::personal_data::PersonalData;
use crate::projector::Projection;
use crate::{invitations, Backend, Database, StoreError, StoredEvent};
use cqrs_es::Aggregate;
use domain::account::{Account, AccountEvent};
use domain::email_claim::{EmailClaim, EmailClaimEvent};
use domain::invitation::{Invitation, InvitationEvent};
use domain::person::{Person, PersonEvent, PersonStatus};
use domain::task::{Task, TaskEvent};
use domain::workgroup::{Workgroup, WorkgroupEvent};
use domain::{AccountId, InvitationId, PersonId, Timestamp};
use sqlx::{Any, Row, Transaction};

pub struct History;

type Tx = Transaction<'static, Any>;

/// The people an event is about (not who caused it).
async fn subjects(
    tx: &mut Tx,
    account: AccountId,
    e: &StoredEvent,
) -> Result<Vec<PersonId>, StoreError> {
    let entity = e.entity_id();
    Ok(match e.aggregate_type.as_str() {
        Person::TYPE => {
            let mut people: Vec<PersonId> = entity.parse().into_iter().collect();
            if let PersonEvent::PersonJoined {
                previous: Some(previous),
                ..
            } = e.decode()?
            {
                people.push(previous);
            }
            people
        }
        Invitation::TYPE => match e.decode::<InvitationEvent>()? {
            InvitationEvent::InvitationIssued { person, .. }
            | InvitationEvent::RegistrationRequested { person, .. }
            | InvitationEvent::InvitationAccepted { person, .. } => vec![person],
            _ => {
                let Ok(id) = entity.parse::<InvitationId>() else {
                    return Ok(Vec::new());
                };
                invitations::get(&mut **tx, account, id)
                    .await?
                    .map(|i| i.person)
                    .into_iter()
                    .collect()
            }
        },
        Task::TYPE => match e.decode::<TaskEvent>()? {
            TaskEvent::TaskCreated { creator, .. } => vec![creator],
            TaskEvent::PersonAssigned {
                person, replaces, ..
            } => std::iter::once(person).chain(replaces).collect(),
            TaskEvent::PersonUnassigned { person } => vec![person],
            TaskEvent::CommentAdded { author, .. } => vec![author],
            _ => Vec::new(),
        },
        Workgroup::TYPE => match e.decode::<WorkgroupEvent>()? {
            WorkgroupEvent::WorkgroupCreated { owner, .. } => vec![owner],
            WorkgroupEvent::MemberAdded { person, .. }
            | WorkgroupEvent::MemberRoleChanged { person, .. }
            | WorkgroupEvent::MembershipExpiryChanged { person, .. }
            | WorkgroupEvent::MemberRemoved { person, .. } => vec![person],
            _ => Vec::new(),
        },
        EmailClaim::TYPE => match e.decode::<EmailClaimEvent>()? {
            EmailClaimEvent::EmailClaimed { person, .. }
            | EmailClaimEvent::EmailReleased { person } => vec![person],
        },
        Account::TYPE => match e.decode::<AccountEvent>()? {
            AccountEvent::SeatTaken { person } | AccountEvent::SeatReleased { person, .. } => {
                vec![person]
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    })
}

#[async_trait::async_trait]
impl Projection for History {
    fn name(&self) -> &'static str {
        "history"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["person_history"]
    }

    fn added_to_only(&self) -> &'static [&'static str] {
        &["person_history"]
    }

    async fn apply(&self, tx: &mut Tx, e: &StoredEvent) -> Result<(), StoreError> {
        self.apply_all(tx, std::slice::from_ref(e))
            .await
            .map_err(|(_, e)| e)
    }

    /// Every row of the batch in a statement per thousand: history rows are only ever
    /// added, and nothing here reads them back.
    async fn apply_all(
        &self,
        tx: &mut Tx,
        events: &[StoredEvent],
    ) -> Result<(), (usize, StoreError)> {
        let mut rows = Inserts::new(
            "INSERT INTO person_history (account_id, person_id, tx, position, relation)",
            5,
            "ON CONFLICT DO NOTHING",
        );
        for (at, e) in events.iter().enumerate() {
            let Ok(account) = e.account_id.parse::<AccountId>() else {
                continue;
            };
            let subjects = subjects(tx, account, e).await.map_err(|err| (at, err))?;
            let mut people: Vec<(PersonId, &str)> = subjects
                .into_iter()
                .map(|p| (p, "subject"))
                .chain(e.metadata.actor.map(|actor| (actor, "actor")))
                .collect();
            // Each row once: a rebuild writes them before the table has its key.
            people.sort_unstable();
            people.dedup();
            for (person, relation) in people {
                rows.push(
                    at,
                    [
                        e.account_id.as_str().into(),
                        person.to_string().into(),
                        e.position.tx.into(),
                        e.position.position.into(),
                        relation.into(),
                    ],
                );
            }
        }
        rows.write(tx).await
    }
}

/// One event in a person's history.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event: StoredEvent,
    /// The person of the account this entry was recorded under: the one asked about,
    /// or an earlier person they were before a re-invitation.
    pub as_person: PersonId,
    /// Whether they were what the event is about (true) or only who caused it.
    pub subject: bool,
}

/// The ids this human has had in the account: the person, and the earlier persons
/// their joins link back to.
async fn lineage(
    db: &Database,
    account: AccountId,
    person: PersonId,
) -> Result<Vec<PersonId>, StoreError> {
    let mut chain = vec![person];
    while let Some(last) = chain.last().copied() {
        let row =
            sqlx::query("SELECT previous_id FROM people WHERE account_id = $1 AND person_id = $2")
                .bind(account.to_string())
                .bind(last.to_string())
                .fetch_optional(&db.any)
                .await?;
        let previous: Option<String> = match row {
            Some(row) => row.try_get("previous_id")?,
            None => None,
        };
        match previous.and_then(|p| p.parse().ok()) {
            Some(p) if !chain.contains(&p) => chain.push(p),
            _ => break,
        }
    }
    Ok(chain)
}

/// Everything that concerned `person` (and the earlier persons they were), in log
/// order, with personal data opened where it has not been erased.
pub async fn history_of(
    db: &Database,
    account: AccountId,
    person: PersonId,
) -> Result<Vec<Entry>, StoreError> {
    let personal = PersonalData::new(db.clone());
    let (tx_col, payload, metadata, join) = match db.backend {
        Backend::Postgres => (
            "e.tx_id::text::bigint",
            "e.payload::text",
            "e.metadata::text",
            "e.global_position = h.position AND e.tx_id::text::bigint = h.tx",
        ),
        Backend::Sqlite => (
            "0",
            "e.payload",
            "e.metadata",
            "e.global_position = h.position",
        ),
    };
    let mut entries: Vec<Entry> = Vec::new();
    for who in lineage(db, account, person).await? {
        let sql = format!(
            "SELECT {tx_col} AS tx, e.global_position, e.aggregate_type, e.aggregate_id, e.account_id,
                    e.sequence, e.event_type, e.event_version, {payload} AS payload, {metadata} AS metadata,
                    h.subject
               FROM (SELECT tx, position, MAX(CASE WHEN relation = 'subject' THEN 1 ELSE 0 END) AS subject
                       FROM person_history WHERE account_id = $1 AND person_id = $2
                      GROUP BY tx, position) h
               JOIN events e ON {join}"
        );
        for row in sqlx::query(&sql)
            .bind(account.to_string())
            .bind(who.to_string())
            .fetch_all(&db.any)
            .await?
        {
            let mut event = StoredEvent::from_row(&row)?;
            // A re-invitation names both persons; it is told once, as the newer one's.
            if entries.iter().any(|e| e.event.position == event.position) {
                continue;
            }
            personal
                .open(&event.aggregate_id, &event.event_type, &mut event.payload)
                .await?;
            let subject: i32 = row.try_get("subject")?;
            entries.push(Entry {
                event,
                as_person: who,
                subject: subject != 0,
            });
        }
    }
    entries.sort_by_key(|e| e.event.position);
    Ok(entries)
}

/// Where the person stood at moment `at`: their status, folded from their own events
/// up to then.
pub async fn status_at(
    db: &Database,
    account: AccountId,
    person: PersonId,
    at: Timestamp,
) -> Result<PersonStatus, StoreError> {
    let mut state = Person::default();
    for entry in history_of(db, account, person).await? {
        let own = entry.as_person == person
            && entry.event.aggregate_type == Person::TYPE
            && entry.event.entity_id() == person.to_string();
        if own && entry.event.metadata.at <= at {
            state.apply(entry.event.decode()?);
        }
    }
    Ok(state.status())
}
