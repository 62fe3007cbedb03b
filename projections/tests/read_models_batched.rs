//! The read models apply a batch as its events one at a time would: the tasks and
//! groups a batch creates are kept in memory with their later changes folded in and
//! written when it ends (`projections/src/created.rs`), and whatever else touches
//! them (a change of members) writes them first. The same story, projected a batch of
//! one event at a time and a batch of the whole log at once, leaves the same rows, and
//! the rows the story says. On both backends.

mod support;

use domain::person::PersonKind;
use domain::task::{Task, TaskCommand, TaskRole, TaskStatus};
use domain::workgroup::{InvitePolicy, MemberRole, Workgroup, WorkgroupCommand};
use domain::{
    AccountId, AggregateKey, CommentId, CommentText, PersonId, TaskDescription, TaskId, TaskTitle,
    Timestamp, WorkgroupId, WorkgroupName,
};
use projections::commands::CommandBus;
use projections::log::Metadata;
use projections::projector::Projector;
use projections::read_model::ReadModels;
use projections::Database;
use sqlx::Row;

/// The ids the story uses, the same in both databases.
struct Ids {
    account: AccountId,
    owner: PersonId,
    moderator: PersonId,
    passing: PersonId,
    group: WorkgroupId,
    renamed_group: WorkgroupId,
    task: TaskId,
    updated: TaskId,
    older: TaskId,
}

impl Ids {
    fn new() -> Self {
        Ids {
            account: AccountId::new_random(),
            owner: PersonId::new_random(),
            moderator: PersonId::new_random(),
            passing: PersonId::new_random(),
            group: WorkgroupId::new_random(),
            renamed_group: WorkgroupId::new_random(),
            task: TaskId::new_random(),
            updated: TaskId::new_random(),
            older: TaskId::new_random(),
        }
    }
}

fn meta() -> Metadata {
    Metadata {
        actor: None,
        at: Timestamp(1_700_000_000_000),
        request_id: None,
    }
}

fn created(
    task: TaskId,
    title: &str,
    creator: PersonId,
    group: Option<WorkgroupId>,
) -> TaskCommand {
    TaskCommand::Create {
        task,
        title: TaskTitle::parse(title).unwrap(),
        description: TaskDescription::parse("").unwrap(),
        creator,
        workgroup: group,
        deadline: None,
    }
}

/// A task made before the rest, projected before the rest is told.
async fn tell_first(db: &Database, ids: &Ids) {
    let bus = CommandBus::new(db, support::services());
    bus.execute::<Task>(
        AggregateKey::new(ids.account, ids.older.0),
        created(ids.older, "Older", ids.owner, None),
        &meta(),
    )
    .await
    .expect("task");
}

/// Groups and tasks created and changed, their members changed; the older task
/// renamed.
async fn tell(db: &Database, ids: &Ids) {
    let bus = CommandBus::new(db, support::services());
    let meta = meta();
    let task = |id: TaskId| AggregateKey::new(ids.account, id.0);
    let group = |id: WorkgroupId| AggregateKey::new(ids.account, id.0);
    let run_task = |id: TaskId, command: TaskCommand| {
        let meta = meta.clone();
        let bus = &bus;
        async move {
            bus.execute::<Task>(task(id), command, &meta)
                .await
                .expect("task")
        }
    };
    let run_group = |id: WorkgroupId, command: WorkgroupCommand| {
        let meta = meta.clone();
        let bus = &bus;
        async move {
            bus.execute::<Workgroup>(group(id), command, &meta)
                .await
                .expect("group")
        }
    };

    // A group created, renamed, opened to external users, its policy changed, then
    // its members changed: the owner's row must be there when they are.
    run_group(
        ids.group,
        WorkgroupCommand::Create {
            group: ids.group,
            name: WorkgroupName::parse("Suppliers").unwrap(),
            extranet: false,
            owner: ids.owner,
        },
    )
    .await;
    run_group(
        ids.group,
        WorkgroupCommand::Rename {
            name: WorkgroupName::parse("Suppliers 2027").unwrap(),
        },
    )
    .await;
    run_group(
        ids.group,
        WorkgroupCommand::SetExternalAccess { extranet: true },
    )
    .await;
    run_group(
        ids.group,
        WorkgroupCommand::SetInvitePolicy {
            policy: InvitePolicy::Moderators,
        },
    )
    .await;
    for person in [ids.moderator, ids.passing] {
        run_group(
            ids.group,
            WorkgroupCommand::AddMember {
                person,
                role: MemberRole::Member,
                kind: PersonKind::Employee,
                expires_at: None,
            },
        )
        .await;
    }
    // Ownership handed over: the first owner's row is changed.
    run_group(
        ids.group,
        WorkgroupCommand::ChangeRole {
            person: ids.moderator,
            role: MemberRole::Owner,
        },
    )
    .await;
    run_group(
        ids.group,
        WorkgroupCommand::ChangeRole {
            person: ids.owner,
            role: MemberRole::Moderator,
        },
    )
    .await;
    run_group(
        ids.group,
        WorkgroupCommand::SetMembershipExpiry {
            person: ids.moderator,
            expires_at: Some(Timestamp(1_800_000_000_000)),
        },
    )
    .await;
    run_group(
        ids.group,
        WorkgroupCommand::RemoveMember {
            person: ids.passing,
        },
    )
    .await;
    // A group renamed after its members changed: a change of a written row.
    run_group(
        ids.renamed_group,
        WorkgroupCommand::Create {
            group: ids.renamed_group,
            name: WorkgroupName::parse("Partners").unwrap(),
            extranet: true,
            owner: ids.owner,
        },
    )
    .await;
    run_group(
        ids.renamed_group,
        WorkgroupCommand::AddMember {
            person: ids.moderator,
            role: MemberRole::Member,
            kind: PersonKind::Employee,
            expires_at: None,
        },
    )
    .await;
    run_group(
        ids.renamed_group,
        WorkgroupCommand::Rename {
            name: WorkgroupName::parse("Partners 2027").unwrap(),
        },
    )
    .await;

    // A task created and changed every way, one change at a time.
    run_task(
        ids.task,
        created(ids.task, "Draft", ids.owner, Some(ids.group)),
    )
    .await;
    run_task(
        ids.task,
        TaskCommand::Rename {
            title: TaskTitle::parse("Contract").unwrap(),
        },
    )
    .await;
    run_task(
        ids.task,
        TaskCommand::ChangeDescription {
            description: TaskDescription::parse("Signed by both").unwrap(),
        },
    )
    .await;
    run_task(
        ids.task,
        TaskCommand::SetDeadline {
            deadline: Some(Timestamp(1_750_000_000_000)),
        },
    )
    .await;
    run_task(
        ids.task,
        TaskCommand::Assign {
            person: ids.moderator,
            role: TaskRole::Observer,
        },
    )
    .await;
    run_task(
        ids.task,
        TaskCommand::Comment {
            comment: CommentId::new_random(),
            author: ids.owner,
            text: CommentText::parse("Sent").unwrap(),
        },
    )
    .await;
    run_task(
        ids.task,
        TaskCommand::ChangeStatus {
            status: TaskStatus::Completed,
        },
    )
    .await;
    // A task changed by one update of several fields, its deadline removed.
    run_task(ids.updated, created(ids.updated, "Quote", ids.owner, None)).await;
    run_task(
        ids.updated,
        TaskCommand::SetDeadline {
            deadline: Some(Timestamp(1_760_000_000_000)),
        },
    )
    .await;
    run_task(
        ids.updated,
        TaskCommand::Update {
            title: Some(TaskTitle::parse("Quote, revised").unwrap()),
            status: Some(TaskStatus::InProgress),
            description: None,
            deadline: Some(None),
        },
    )
    .await;
    // The older task, changed in the same batch as the rest.
    run_task(
        ids.older,
        TaskCommand::Rename {
            title: TaskTitle::parse("Older, renamed").unwrap(),
        },
    )
    .await;
}

/// Every row of the tables the story changes, each column as text.
async fn rows(db: &Database) -> Vec<String> {
    let mut all = Vec::new();
    for sql in [
        "SELECT 'task', task_id, title, description, status, creator_id,
                CAST(created_at AS TEXT), COALESCE(workgroup_id, '-'),
                COALESCE(CAST(deadline AS TEXT), '-')
           FROM tasks ORDER BY title",
        "SELECT 'group', workgroup_id, name, CAST(extranet AS TEXT), invite_policy,
                CAST(created_at AS TEXT), '', '', ''
           FROM workgroups ORDER BY name",
        "SELECT 'member', workgroup_id, person_id, role, CAST(external AS TEXT),
                COALESCE(CAST(expires_at AS TEXT), '-'), '', '', ''
           FROM workgroup_members ORDER BY workgroup_id, role, person_id",
        "SELECT 'role', task_id, person_id, role, '', '', '', '', '' FROM task_roles
          ORDER BY task_id, person_id",
        "SELECT 'comment', task_id, author_id, body, '', '', '', '', '' FROM task_comments
          ORDER BY task_id, body",
    ] {
        let found = sqlx::query(sql).fetch_all(&db.any).await.expect(sql);
        all.extend(found.iter().map(|row| {
            (0..9)
                .map(|column| row.try_get::<String, _>(column).expect("text"))
                .collect::<Vec<_>>()
                .join(" | ")
        }));
    }
    all
}

async fn project(db: &Database, batch: i64) {
    let (projector, _) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    projector
        .batch_size(batch)
        .catch_up_to_head()
        .await
        .expect("projected");
}

async fn a_batch_leaves_the_rows_its_events_one_at_a_time_leave(one: Database, whole: Database) {
    let ids = Ids::new();
    tell_first(&one, &ids).await;
    tell(&one, &ids).await;
    project(&one, 1).await;
    // The older task alone first, so its rename meets a row already written.
    tell_first(&whole, &ids).await;
    project(&whole, 1_000).await;
    tell(&whole, &ids).await;
    project(&whole, 1_000).await;

    let by_one = rows(&one).await;
    assert_eq!(by_one, rows(&whole).await, "one at a time, then whole");

    let owner = ids.owner.to_string();
    let moderator = ids.moderator.to_string();
    let (group, renamed) = (ids.group.to_string(), ids.renamed_group.to_string());
    let expected = [
        format!("task | {} | Contract | Signed by both | completed | {owner} | 1700000000000 | {group} | 1750000000000", ids.task),
        format!("task | {} | Older, renamed |  | new | {owner} | 1700000000000 | - | -", ids.older),
        format!("task | {} | Quote, revised |  | in_progress | {owner} | 1700000000000 | - | -", ids.updated),
        format!("group | {renamed} | Partners 2027 | 1 | owner | 1700000000000 |  |  | "),
        format!("group | {group} | Suppliers 2027 | 1 | moderators | 1700000000000 |  |  | "),
    ];
    for row in expected {
        assert!(by_one.contains(&row), "{row} in {by_one:#?}");
    }
    let members: Vec<&String> = by_one.iter().filter(|r| r.starts_with("member")).collect();
    let mut wanted = vec![
        format!("member | {group} | {moderator} | owner | 0 | 1800000000000 |  |  | "),
        format!("member | {group} | {owner} | moderator | 0 | - |  |  | "),
        format!("member | {renamed} | {moderator} | member | 0 | - |  |  | "),
        format!("member | {renamed} | {owner} | owner | 0 | - |  |  | "),
    ];
    let mut members: Vec<String> = members.into_iter().cloned().collect();
    members.sort();
    wanted.sort();
    assert_eq!(members, wanted);
}

#[tokio::test]
async fn postgres_a_batch_leaves_the_rows_its_events_one_at_a_time_leave() {
    a_batch_leaves_the_rows_its_events_one_at_a_time_leave(
        support::fresh_postgres().await,
        support::fresh_postgres().await,
    )
    .await;
}

#[tokio::test]
async fn sqlite_a_batch_leaves_the_rows_its_events_one_at_a_time_leave() {
    a_batch_leaves_the_rows_its_events_one_at_a_time_leave(
        support::fresh_sqlite().await,
        support::fresh_sqlite().await,
    )
    .await;
}
