//! The projection that keeps the gateway's tables: accounts, people, invitations,
//! tasks and their roles. Each event changes rows with plain upserts and updates, so
//! the projection is the whole story of how a table came to be.

use crate::bulk::{Inserts, Value};
use crate::created::Created;
use crate::personal_data::PersonalData;
use crate::projector::Projection;
use crate::{StoreError, StoredEvent};
use cqrs_es::Aggregate;
use domain::account::{Account, AccountEvent};
use domain::email_claim::EmailClaim;
use domain::invitation::{Delivery, Invitation, InvitationEvent, InvitationTarget};
use domain::person::{Person, PersonEvent};
use domain::seat::SeatHold;
use domain::task::{Task, TaskEvent};
use domain::workgroup::{InvitePolicy, Workgroup, WorkgroupEvent};
use sqlx::{Any, Transaction};

pub struct ReadModels;

/// The strings the read models store for domain enums: serde's own names, so the
/// mapping lives in one place (the domain's serde attributes).
pub(crate) fn label<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(crate) fn parse_label<T: serde::de::DeserializeOwned>(
    what: &'static str,
    value: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
        StoreError::UnknownValue {
            what,
            value: value.to_string(),
        }
    })
}

type Tx = Transaction<'static, Any>;

#[async_trait::async_trait]
impl Projection for ReadModels {
    fn name(&self) -> &'static str {
        "read_models"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "accounts",
            "people",
            "invitations",
            "tasks",
            "task_roles",
            "task_comments",
            "workgroups",
            "workgroup_members",
            "seat_holds",
            "claim_holds",
        ]
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), StoreError> {
        self.apply_all(tx, std::slice::from_ref(event))
            .await
            .map_err(|(_, e)| e)
    }

    /// A run of events of one kind that a list makes many of at once (a pasted list of
    /// invitations: its seats, then its invitations, `batch.rs`) is applied a statement
    /// per thousand rows, not a few per event; rows only ever added to a table nothing
    /// here reads (comments) and the tasks and groups the batch creates, with their
    /// changes folded in, are written together when the batch ends ([`Later`]);
    /// everything else one event at a time.
    async fn apply_all(
        &self,
        tx: &mut Tx,
        events: &[StoredEvent],
    ) -> Result<(), (usize, StoreError)> {
        let mut later = Later::new();
        let mut at = 0;
        while at < events.len() {
            let kind = Run::of(&events[at]);
            let len = match kind {
                Some(kind) => events[at..]
                    .iter()
                    .take_while(|e| Run::of(e) == Some(kind))
                    .count(),
                None => 1,
            };
            let run = &events[at..at + len];
            let applied = match kind {
                Some(Run::SeatsTaken) => match crate::holds::seats_taken(tx, run).await {
                    Ok(()) => seats_taken(tx, run).await,
                    Err(e) => Err(e),
                },
                Some(Run::InvitationsIssued) => {
                    match crate::holds::invitations_issued(tx, run).await {
                        Ok(()) => invitations_issued(tx, run).await,
                        Err(e) => Err(e),
                    }
                }
                None => {
                    // A group's members are written after the group: kept owners
                    // first, so a change of members meets the rows it changes.
                    if changes_members(&events[at]) && later.groups.contains(&key(&events[at])) {
                        later.write_groups(tx).await?;
                    }
                    apply_one(tx, &events[at], at, &mut later).await
                }
            };
            applied.map_err(|e| (at, e))?;
            at += len;
        }
        later.write(tx).await
    }
}

/// A row's account and id, as the tables key it.
type Key = (String, String);

fn key(event: &StoredEvent) -> Key {
    (event.account_id.clone(), event.entity_id().to_string())
}

/// Whether `event` writes `workgroup_members` rows of an existing group.
fn changes_members(event: &StoredEvent) -> bool {
    event.aggregate_type == Workgroup::TYPE
        && matches!(
            event.event_type.as_str(),
            "MemberAdded" | "MemberRoleChanged" | "MembershipExpiryChanged" | "MemberRemoved"
        )
}

/// Rows a batch adds that are written when it ends, not as each event is applied.
struct Later {
    comments: Inserts,
    tasks: Created<Key, NewTask>,
    groups: Created<Key, NewGroup>,
}

/// A `tasks` row the batch created, as its later events in the batch left it.
struct NewTask {
    title: String,
    description: String,
    status: String,
    creator: String,
    created_at: i64,
    workgroup: Option<String>,
    deadline: Option<i64>,
}

/// A `workgroups` row the batch created, and its owner's `workgroup_members` row.
struct NewGroup {
    name: String,
    extranet: i16,
    invite_policy: String,
    created_at: i64,
    owner: String,
}

impl Later {
    fn new() -> Self {
        Later {
            comments: Inserts::new(
                "INSERT INTO task_comments (account_id, task_id, comment_id, author_id, body, created_at)",
                6,
                "",
            ),
            tasks: Created::new(),
            groups: Created::new(),
        }
    }

    async fn write(&mut self, tx: &mut Tx) -> Result<(), (usize, StoreError)> {
        let mut tasks = Inserts::new(
            "INSERT INTO tasks (account_id, task_id, title, description, status, creator_id,
                                created_at, workgroup_id, deadline)",
            9,
            "",
        );
        for (made_by, (account, task), row) in self.tasks.take() {
            tasks.push(
                made_by,
                [
                    account.into(),
                    task.into(),
                    row.title.into(),
                    row.description.into(),
                    row.status.into(),
                    row.creator.into(),
                    row.created_at.into(),
                    row.workgroup.into(),
                    row.deadline.into(),
                ],
            );
        }
        tasks.write(tx).await?;
        self.write_groups(tx).await?;
        self.comments.write(tx).await
    }

    /// Writes the kept groups and their owners now.
    async fn write_groups(&mut self, tx: &mut Tx) -> Result<(), (usize, StoreError)> {
        let mut groups = Inserts::new(
            "INSERT INTO workgroups (account_id, workgroup_id, name, extranet, invite_policy, created_at)",
            6,
            "",
        );
        let mut owners = Inserts::new(
            "INSERT INTO workgroup_members (account_id, workgroup_id, person_id, role, external)",
            5,
            "",
        );
        for (made_by, (account, group), row) in self.groups.take() {
            owners.push(
                made_by,
                [
                    account.as_str().into(),
                    group.as_str().into(),
                    row.owner.into(),
                    "owner".into(),
                    Value::Small(0),
                ],
            );
            groups.push(
                made_by,
                [
                    account.into(),
                    group.into(),
                    row.name.into(),
                    Value::Small(row.extranet),
                    row.invite_policy.into(),
                    row.created_at.into(),
                ],
            );
        }
        groups.write(tx).await?;
        owners.write(tx).await
    }
}

/// Event number `at` of its batch.
async fn apply_one(
    tx: &mut Tx,
    event: &StoredEvent,
    at: usize,
    later: &mut Later,
) -> Result<(), StoreError> {
    crate::holds::apply(tx, event).await?;
    match event.aggregate_type.as_str() {
        Account::TYPE => apply_account(tx, event, event.decode()?).await,
        Person::TYPE => apply_person(tx, event, event.decode()?).await,
        // Claims guard uniqueness on the command side; the directory has the emails.
        EmailClaim::TYPE => Ok(()),
        // Holds are all in `holds`; the count is the account's.
        SeatHold::TYPE => Ok(()),
        Invitation::TYPE => apply_invitation(tx, event, event.decode()?).await,
        // An update of several fields is applied as each of its changes alone.
        Task::TYPE => {
            for change in event.decode::<TaskEvent>()?.one_by_one() {
                apply_task_event(tx, event, change, at, later).await?;
            }
            Ok(())
        }
        Workgroup::TYPE => apply_workgroup(tx, event, event.decode()?, at, later).await,
        other => {
            tracing::warn!(
                aggregate_type = other,
                "event of an unknown aggregate type skipped"
            );
            Ok(())
        }
    }
}

/// The kinds of event applied a run at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    SeatsTaken,
    InvitationsIssued,
}

impl Run {
    fn of(event: &StoredEvent) -> Option<Run> {
        match (event.aggregate_type.as_str(), event.event_type.as_str()) {
            (Account::TYPE, "SeatTaken") => Some(Run::SeatsTaken),
            (Invitation::TYPE, "InvitationIssued") => Some(Run::InvitationsIssued),
            _ => None,
        }
    }
}

async fn apply_account(
    tx: &mut Tx,
    e: &StoredEvent,
    event: AccountEvent,
) -> Result<(), StoreError> {
    let update = |sql: &'static str| sqlx::query(sql).bind(e.account_id.clone());
    let query = match event {
        AccountEvent::AccountCreated {
            account,
            name,
            plan,
            trial_ends_at,
            created_at,
        } => sqlx::query(
            "INSERT INTO accounts (account_id, name, plan, trial_ends_at, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(account.to_string())
        .bind(name)
        .bind(label(&plan))
        .bind(trial_ends_at.map(|t| t.0))
        .bind(created_at.0),
        AccountEvent::PlanChanged { to, .. } => update(
            "UPDATE accounts SET plan = $2, trial_ends_at = CASE WHEN $2 = 'trial' THEN trial_ends_at END
              WHERE account_id = $1",
        )
        .bind(label(&to)),
        AccountEvent::InvitationSettingsChanged { settings } => {
            let json = serde_json::to_string(&settings).map_err(|source| StoreError::Corrupt {
                what: "invitation settings",
                source,
            })?;
            update("UPDATE accounts SET invitation_settings = $2 WHERE account_id = $1").bind(json)
        }
        AccountEvent::RegistrationLinkRotated { nonce } => {
            update("UPDATE accounts SET registration_nonce = $2 WHERE account_id = $1").bind(nonce)
        }
        AccountEvent::SeatTaken { .. } => return seats_taken(tx, std::slice::from_ref(e)).await,
        AccountEvent::SeatReleased { .. } => update(
            "UPDATE accounts SET seats_in_use = seats_in_use - 1 WHERE account_id = $1 AND seats_in_use > 0",
        ),
        AccountEvent::TrialExpired => {
            update("UPDATE accounts SET trial_expired = 1 WHERE account_id = $1")
        }
        // Warnings are for the notifier; they change no table.
        AccountEvent::TrialEndingSoon { .. } => return Ok(()),
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

async fn apply_person(tx: &mut Tx, e: &StoredEvent, event: PersonEvent) -> Result<(), StoreError> {
    let id = e.entity_id().to_string();
    let account = e.account_id.clone();
    // Every UPDATE of a person names its row the same way: $1 and $2.
    let update = |sql: &'static str| sqlx::query(sql).bind(account.clone()).bind(id.clone());
    let query = match event {
        PersonEvent::PersonJoined {
            person,
            kind,
            email,
            name,
            administrator,
            password_hash,
            invitation: _,
            sponsor,
            previous,
        } => sqlx::query(
            "INSERT INTO people (account_id, person_id, kind, status, email, first_name, last_name,
                                 administrator, password_hash, sponsor_id, joined_at, previous_id)
             VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&e.account_id)
        .bind(person.to_string())
        .bind(label(&kind))
        .bind(email.as_str().to_string())
        .bind(name.first)
        .bind(name.last)
        .bind(i16::from(administrator))
        .bind(password_hash)
        .bind(sponsor.map(|s| s.to_string()))
        .bind(e.metadata.at.0)
        .bind(previous.map(|p| p.to_string())),
        PersonEvent::ProfileChanged { name } => update(
            "UPDATE people SET first_name = $3, last_name = $4 WHERE account_id = $1 AND person_id = $2",
        )
        .bind(name.first)
        .bind(name.last),
        PersonEvent::EmailChanged { to, .. } => {
            update("UPDATE people SET email = $3 WHERE account_id = $1 AND person_id = $2")
                .bind(to.as_str().to_string())
        }
        PersonEvent::PasswordChanged { password_hash }
        | PersonEvent::PasswordResetCompleted { password_hash } => {
            update("UPDATE people SET password_hash = $3 WHERE account_id = $1 AND person_id = $2")
                .bind(password_hash)
        }
        // The link is the notifier's to send; the request changes no table.
        PersonEvent::PasswordResetRequested { .. } => return Ok(()),
        PersonEvent::TransferredToEmployee { .. } => update(
            "UPDATE people SET kind = 'employee', access_expires_at = NULL
              WHERE account_id = $1 AND person_id = $2",
        ),
        PersonEvent::ConvertedToExtranet => {
            update("UPDATE people SET kind = 'extranet' WHERE account_id = $1 AND person_id = $2")
        }
        PersonEvent::PersonDismissed => {
            update("UPDATE people SET status = 'dismissed' WHERE account_id = $1 AND person_id = $2")
        }
        PersonEvent::PersonReinstated | PersonEvent::SuspensionLifted { .. } => update(
            "UPDATE people SET status = 'active', suspension_reason = NULL
              WHERE account_id = $1 AND person_id = $2",
        ),
        PersonEvent::PersonSuspended { reason } => update(
            "UPDATE people SET status = 'suspended', suspension_reason = $3
              WHERE account_id = $1 AND person_id = $2",
        )
        .bind(label(&reason)),
        PersonEvent::AccessExpirySet { expires_at } => update(
            "UPDATE people SET access_expires_at = $3 WHERE account_id = $1 AND person_id = $2",
        )
        .bind(expires_at.map(|t| t.0)),
        PersonEvent::PersonalDataErased => {
            // Everything readable about them goes: their key (so the log's sealed
            // copies stay sealed), their aggregate's snapshots, the emails queued or
            // sent to them, and the invited list's copy of their address.
            PersonalData::erase(tx, &account, &id).await?;
            sqlx::query("DELETE FROM snapshots WHERE aggregate_type = 'person' AND aggregate_id = $1")
                .bind(&e.aggregate_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "DELETE FROM outbox WHERE account_id = $1
                    AND recipient = (SELECT email FROM people WHERE account_id = $1 AND person_id = $2)",
            )
            .bind(&account)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "UPDATE invitations SET address = '', first_name = '', last_name = ''
                  WHERE account_id = $1 AND person_id = $2",
            )
            .bind(&account)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
            update(
            "UPDATE people SET status = 'erased', email = '', first_name = '', last_name = '',
                               password_hash = ''
              WHERE account_id = $1 AND person_id = $2",
            )
        }
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

async fn apply_invitation(
    tx: &mut Tx,
    e: &StoredEvent,
    event: InvitationEvent,
) -> Result<(), StoreError> {
    let id = e.entity_id();
    let set_status = |status: &'static str| {
        sqlx::query(
            "UPDATE invitations SET status = $3 WHERE account_id = $1 AND invitation_id = $2",
        )
        .bind(e.account_id.clone())
        .bind(id.to_string())
        .bind(status)
    };
    match event {
        InvitationEvent::InvitationIssued { .. } => {
            invitations_issued(tx, std::slice::from_ref(e)).await?;
        }
        InvitationEvent::InvitationResent { nonce, expires_at } => {
            sqlx::query(
                "UPDATE invitations SET nonce = $3, expires_at = $4, status = 'pending'
                  WHERE account_id = $1 AND invitation_id = $2",
            )
            .bind(&e.account_id)
            .bind(id)
            .bind(nonce)
            .bind(expires_at.0)
            .execute(&mut **tx)
            .await?;
        }
        InvitationEvent::RegistrationRequested {
            invitation,
            person,
            email,
            name,
            ..
        } => {
            sqlx::query(
                "INSERT INTO invitations (account_id, invitation_id, person_id, address, first_name,
                     last_name, person_kind, target, status, nonce, issued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'employee', 'company', 'awaiting_approval', '', $7)",
            )
            .bind(&e.account_id)
            .bind(invitation.to_string())
            .bind(person.to_string())
            .bind(email.as_str())
            .bind(name.first)
            .bind(name.last)
            .bind(e.metadata.at.0)
            .execute(&mut **tx)
            .await?;
        }
        InvitationEvent::InvitationAccepted { .. }
        | InvitationEvent::RegistrationApproved { .. } => {
            set_status("accepted").execute(&mut **tx).await?;
        }
        InvitationEvent::InvitationDeclined => {
            set_status("declined").execute(&mut **tx).await?;
        }
        InvitationEvent::InvitationRevoked => {
            set_status("revoked").execute(&mut **tx).await?;
        }
        InvitationEvent::InvitationExpired => {
            set_status("expired").execute(&mut **tx).await?;
        }
        InvitationEvent::RegistrationRejected { .. } => {
            set_status("rejected").execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// A run of `SeatTaken` events: each account's count moves once, by the run's takes.
async fn seats_taken(tx: &mut Tx, events: &[StoredEvent]) -> Result<(), StoreError> {
    let mut taken: Vec<(&str, i64)> = Vec::new();
    for e in events {
        match taken.last_mut() {
            Some((account, n)) if *account == e.account_id => *n += 1,
            _ => taken.push((&e.account_id, 1)),
        }
    }
    for (account, n) in taken {
        sqlx::query("UPDATE accounts SET seats_in_use = seats_in_use + $2 WHERE account_id = $1")
            .bind(account)
            .bind(n)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A run of `InvitationIssued` events: their rows, a statement per thousand.
async fn invitations_issued(tx: &mut Tx, events: &[StoredEvent]) -> Result<(), StoreError> {
    const COLUMNS: &str = "account_id, invitation_id, person_id, address, first_name, last_name,
        person_kind, target, department_id, workgroup_id, task_id, task_role, sponsor_id,
        status, nonce, expires_at, issued_at, delivery, position";
    const WIDTH: usize = 19;
    let mut issued = Vec::with_capacity(events.len());
    for e in events {
        if let InvitationEvent::InvitationIssued {
            invitation,
            person,
            address,
            name,
            target,
            sponsor,
            nonce,
            expires_at,
            delivery,
        } = e.decode()?
        {
            issued.push((
                e, invitation, person, address, name, target, sponsor, nonce, expires_at, delivery,
            ));
        }
    }
    for chunk in issued.chunks(crate::bulk::rows_per_statement(WIDTH)) {
        let sql = format!(
            "INSERT INTO invitations ({COLUMNS}) VALUES {}",
            crate::bulk::placeholders(chunk.len(), &[""; WIDTH])
        );
        let mut query = sqlx::query(&sql);
        for (e, invitation, person, address, name, target, sponsor, nonce, expires_at, delivery) in
            chunk
        {
            let (first, last) = name
                .as_ref()
                .map(|n| (n.first.clone(), n.last.clone()))
                .unwrap_or_default();
            let (department, workgroup, task, role) = match target {
                InvitationTarget::Company { department } => {
                    (department.map(|d| d.to_string()), None, None, None)
                }
                InvitationTarget::Workgroup { group, .. } => {
                    (None, Some(group.to_string()), None, None)
                }
                InvitationTarget::Task { task, role } => {
                    (None, None, Some(task.to_string()), Some(label(role)))
                }
            };
            let (delivery, position) = delivery_columns(delivery);
            query = query
                .bind(e.account_id.as_str())
                .bind(invitation.to_string())
                .bind(person.to_string())
                .bind(address.to_string())
                .bind(first)
                .bind(last)
                .bind(label(&target.person_kind()))
                .bind(target_label(target))
                .bind(department)
                .bind(workgroup)
                .bind(task)
                .bind(role)
                .bind(sponsor.to_string())
                .bind("pending")
                .bind(nonce.as_str())
                .bind(expires_at.0)
                .bind(e.metadata.at.0)
                .bind(delivery)
                .bind(position);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The `delivery` and `position` columns of an invitation; `invitations::get` reads
/// them back.
fn delivery_columns(delivery: &Delivery) -> (&'static str, Option<String>) {
    match delivery {
        Delivery::Link => ("link", None),
        Delivery::Direct {
            position,
            confirm: false,
        } => ("direct", Some(position.to_string())),
        Delivery::Direct {
            position,
            confirm: true,
        } => ("direct_confirm", Some(position.to_string())),
    }
}

fn target_label(target: &InvitationTarget) -> &'static str {
    match target {
        InvitationTarget::Company { .. } => "company",
        InvitationTarget::Workgroup { .. } => "workgroup",
        InvitationTarget::Task { .. } => "task",
    }
}

async fn apply_task_event(
    tx: &mut Tx,
    e: &StoredEvent,
    event: TaskEvent,
    at: usize,
    later: &mut Later,
) -> Result<(), StoreError> {
    let id = e.entity_id();
    match event {
        // Never here: `one_by_one` gave its changes instead.
        TaskEvent::TaskUpdated { .. } => {}
        TaskEvent::TaskCreated {
            task,
            title,
            description,
            creator,
            workgroup,
            deadline,
        } => {
            let row = NewTask {
                title: title.to_string(),
                description: description.to_string(),
                status: "new".into(),
                creator: creator.to_string(),
                created_at: e.metadata.at.0,
                workgroup: workgroup.map(|w| w.to_string()),
                deadline: deadline.map(|d| d.0),
            };
            later
                .tasks
                .push(at, (e.account_id.clone(), task.to_string()), row);
        }
        TaskEvent::TaskRenamed { title } => {
            let title = title.to_string();
            change_task(tx, later, e, "title", title.clone().into(), |row| {
                row.title = title
            })
            .await?;
        }
        TaskEvent::TaskDescriptionChanged { description } => {
            let description = description.to_string();
            change_task(
                tx,
                later,
                e,
                "description",
                description.clone().into(),
                |row| row.description = description,
            )
            .await?;
        }
        TaskEvent::TaskDeadlineChanged { deadline } => {
            let deadline = deadline.map(|d| d.0);
            change_task(tx, later, e, "deadline", deadline.into(), |row| {
                row.deadline = deadline
            })
            .await?;
        }
        TaskEvent::PersonUnassigned { person } => {
            sqlx::query(
                "DELETE FROM task_roles WHERE account_id = $1 AND task_id = $2 AND person_id = $3",
            )
            .bind(&e.account_id)
            .bind(id)
            .bind(person.to_string())
            .execute(&mut **tx)
            .await?;
        }
        TaskEvent::CommentAdded {
            comment,
            author,
            text,
        } => {
            later.comments.push(
                at,
                [
                    e.account_id.as_str().into(),
                    id.into(),
                    comment.to_string().into(),
                    author.to_string().into(),
                    text.into(),
                    e.metadata.at.0.into(),
                ],
            );
        }
        TaskEvent::TaskStatusChanged { status } => {
            let status = label(&status);
            change_task(tx, later, e, "status", status.clone().into(), |row| {
                row.status = status
            })
            .await?;
        }
        TaskEvent::PersonAssigned {
            person,
            role,
            replaces,
        } => {
            if let Some(previous) = replaces {
                sqlx::query(
                    "DELETE FROM task_roles WHERE account_id = $1 AND task_id = $2 AND person_id = $3",
                )
                .bind(&e.account_id)
                .bind(id)
                .bind(previous.to_string())
                .execute(&mut **tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO task_roles (account_id, task_id, person_id, role) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account_id, task_id, person_id) DO UPDATE SET role = excluded.role",
            )
            .bind(&e.account_id)
            .bind(id)
            .bind(person.to_string())
            .bind(label(&role))
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// A change of one of a task's own columns: folded into the kept row when the batch
/// created the task, else one `UPDATE`.
async fn change_task(
    tx: &mut Tx,
    later: &mut Later,
    e: &StoredEvent,
    column: &'static str,
    value: Value,
    fold: impl FnOnce(&mut NewTask),
) -> Result<(), StoreError> {
    if let Some(row) = later.tasks.get_mut(&key(e)) {
        fold(row);
        return Ok(());
    }
    let sql = format!("UPDATE tasks SET {column} = $3 WHERE account_id = $1 AND task_id = $2");
    let query = sqlx::query(&sql).bind(&e.account_id).bind(e.entity_id());
    value.bind(query).execute(&mut **tx).await?;
    Ok(())
}

/// Event number `at` of its batch; a group the batch created is kept in `later`, with
/// its changes of name and settings folded in (its members' changes write it first,
/// `ReadModels::apply_all`).
async fn apply_workgroup(
    tx: &mut Tx,
    e: &StoredEvent,
    event: WorkgroupEvent,
    at: usize,
    later: &mut Later,
) -> Result<(), StoreError> {
    let id = e.entity_id().to_string();
    let account = e.account_id.clone();
    let kept = later.groups.get_mut(&key(e));
    let query = match (event, kept) {
        (
            WorkgroupEvent::WorkgroupCreated {
                group,
                name,
                extranet,
                owner,
            },
            _,
        ) => {
            let row = NewGroup {
                name: name.to_string(),
                extranet: i16::from(extranet),
                invite_policy: label(&InvitePolicy::default()),
                created_at: e.metadata.at.0,
                owner: owner.to_string(),
            };
            later.groups.push(at, (account, group.to_string()), row);
            return Ok(());
        }
        (WorkgroupEvent::WorkgroupRenamed { name }, Some(row)) => {
            row.name = name.to_string();
            return Ok(());
        }
        (WorkgroupEvent::ExternalAccessChanged { extranet }, Some(row)) => {
            row.extranet = i16::from(extranet);
            return Ok(());
        }
        (WorkgroupEvent::InvitePolicyChanged { policy }, Some(row)) => {
            row.invite_policy = label(&policy);
            return Ok(());
        }
        (WorkgroupEvent::WorkgroupRenamed { name }, None) => {
            sqlx::query("UPDATE workgroups SET name = $3 WHERE account_id = $1 AND workgroup_id = $2")
                .bind(account)
                .bind(id)
                .bind(name)
        }
        (WorkgroupEvent::ExternalAccessChanged { extranet }, None) => {
            sqlx::query("UPDATE workgroups SET extranet = $3 WHERE account_id = $1 AND workgroup_id = $2")
                .bind(account)
                .bind(id)
                .bind(i16::from(extranet))
        }
        (WorkgroupEvent::InvitePolicyChanged { policy }, None) => sqlx::query(
            "UPDATE workgroups SET invite_policy = $3 WHERE account_id = $1 AND workgroup_id = $2",
        )
        .bind(account)
        .bind(id)
        .bind(label(&policy)),
        (
            WorkgroupEvent::MemberAdded {
                person,
                role,
                external,
                expires_at,
            },
            _,
        ) => sqlx::query(
            "INSERT INTO workgroup_members (account_id, workgroup_id, person_id, role, external, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account)
        .bind(id)
        .bind(person.to_string())
        .bind(label(&role))
        .bind(i16::from(external))
        .bind(expires_at.map(|t| t.0)),
        (WorkgroupEvent::MemberRoleChanged { person, role }, _) => sqlx::query(
            "UPDATE workgroup_members SET role = $4 WHERE account_id = $1 AND workgroup_id = $2 AND person_id = $3",
        )
        .bind(account)
        .bind(id)
        .bind(person.to_string())
        .bind(label(&role)),
        (WorkgroupEvent::MembershipExpiryChanged { person, expires_at }, _) => sqlx::query(
            "UPDATE workgroup_members SET expires_at = $4
              WHERE account_id = $1 AND workgroup_id = $2 AND person_id = $3",
        )
        .bind(account)
        .bind(id)
        .bind(person.to_string())
        .bind(expires_at.map(|t| t.0)),
        (WorkgroupEvent::MemberRemoved { person, .. }, _) => sqlx::query(
            "DELETE FROM workgroup_members WHERE account_id = $1 AND workgroup_id = $2 AND person_id = $3",
        )
        .bind(account)
        .bind(id)
        .bind(person.to_string()),
    };
    query.execute(&mut **tx).await?;
    Ok(())
}
