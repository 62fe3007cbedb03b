//! The whole permission matrix: every kind of person, asked about every kind of
//! resource and action, against a table written by hand from docs/domain.md,
//! "Permissions"; each row names the rules it checks. On both backends.

mod support;

use domain::invitation::SecretKey;
use domain::person::{Person, PersonCommand, PersonKind};
use domain::services::{DomainServices, FixedClock, FixedNonce};
use domain::task::{Task, TaskCommand, TaskRole};
use domain::workgroup::{MemberRole, Workgroup, WorkgroupCommand};
use domain::{
    AccountId, AggregateKey, Email, PersonId, PersonName, TaskId, Timestamp, WorkgroupId,
};
use projections::commands::CommandBus;
use projections::log::Metadata;
use projections::permission::{Candidates, Permissions, SqlPermissions, Unavailable, Viewer};
use projections::projector::Projector;
use projections::read_model::ReadModels;
use projections::Database;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The workspace:
/// - A: administrator. E1, E2: employees. X, Y: extranet users. G: a guest.
/// - G1: a company group, owner E1. X1: an extranet group, owner E1, member X.
///   X2: an extranet group, owner E2, member Y.
/// - T_G1: a task in G1 by E1. T_X1: a task in X1 by E1. T_guest: a task by E2 with G
///   as observer. T_A: a task of A's, in no group.
const PEOPLE: [&str; 6] = ["A", "E1", "E2", "X", "Y", "G"];

/// Rows are viewers in `PEOPLE` order; columns are given per table. 1 = allowed. Each
/// row's comment says why, by the rules of docs/domain.md ("Permissions" unless named).
const SEE_TASK: (&[&str], [&str; 6]) = (
    &["T_G1", "T_X1", "T_guest", "T_A"],
    [
        "1111", // A: an administrator sees every task of the account (3).
        "1100", // E1: the creator of T_G1 and T_X1 (4).
        "1010", // E2: T_G1 through the company group G1; T_guest as its creator; not T_X1
        // of the extranet group X1, which E2 is not in (4, 5).
        "0100", // X: T_X1 through X1, an extranet group X belongs to; nothing of G1 (4, 5).
        "0000", // Y: X2 has no task, and Y holds no role (4, 5).
        "0010", // G: only T_guest, which G observes (4; Tasks and guests 6).
    ],
);
const CHANGE_TASK: (&[&str], [&str; 6]) = (
    &["T_G1", "T_X1", "T_guest", "T_A"],
    [
        "1111", // A: administrators change every task (3, 7).
        "1100", // E1: the creator of T_G1 and T_X1 (7).
        "0010", // E2: the creator of T_guest; seeing T_G1 is not changing it (7).
        "0000", // X: sees T_X1 but is neither its creator nor an employee responsible (7).
        "0000", // Y: no task to change (7).
        "0000", // G: observes T_guest and may comment, not change it (7).
    ],
);
const SEE_GROUP: (&[&str], [&str; 6]) = (
    &["G1", "X1", "X2"],
    [
        "111", // A: every group of the account (3).
        "110", // E1: the company group G1; X1, which E1 owns; not X2 (5).
        "101", // E2: G1; X2, which E2 owns; not X1 (5).
        "010", // X: X1, an extranet group X belongs to; not the company group G1 (5).
        "001", // Y: X2 only (5).
        "000", // G: guests see no group (5).
    ],
);
const SEE_PERSON: (&[&str], [&str; 6]) = (
    &PEOPLE,
    [
        "111111", // A: everyone in the account (3).
        "111100", // E1: every employee; X through X1; not Y or G, who share nothing (6).
        "111011", // E2: every employee; Y through X2; G through T_guest; not X (6).
        "010100", // X: themselves and E1, who owns X1; no other employee (6, 10).
        "001010", // Y: themselves and E2, who owns X2 (6, 10).
        "001001", // G: themselves and E2, who created T_guest (6).
    ],
);
const MESSAGE: (&[&str], [&str; 6]) = (
    &PEOPLE,
    [
        "011000", // A: the other employees; an administrator messages as an employee
        // does, so not X or Y (3, 9).
        "101100", // E1: the other employees; X, through the extranet group X1 (9).
        "110010", // E2: the other employees; Y, through X2; never the guest G (9).
        "010000", // X: only E1, with whom X shares X1 (9).
        "001000", // Y: only E2, with whom Y shares X2 (9).
        "000000", // G: guests message nobody, and nobody messages themselves (9).
    ],
);

struct Workspace {
    /// The read models' projector, its handle, and the command bus: to change the
    /// workspace after it is built.
    projector: Option<(
        Projector<ReadModels>,
        projections::projector::ProjectorHandle,
        CommandBus,
    )>,
    account: AccountId,
    people: BTreeMap<&'static str, (PersonId, PersonKind, bool)>,
    tasks: BTreeMap<&'static str, TaskId>,
    groups: BTreeMap<&'static str, WorkgroupId>,
}

async fn build(db: &Database) -> Workspace {
    let services = DomainServices {
        clock: Arc::new(FixedClock(Timestamp(1_700_000_000_000))),
        nonces: Arc::new(FixedNonce("n".into())),
        secrets: SecretKey::from_bytes([8; 32]),
    };
    let bus = CommandBus::new(db, services);
    let meta = Metadata {
        actor: None,
        at: Timestamp(1_700_000_000_000),
        request_id: None,
    };
    let account = AccountId::new_random();
    let mut w = Workspace {
        projector: None,
        account,
        people: BTreeMap::new(),
        tasks: BTreeMap::new(),
        groups: BTreeMap::new(),
    };
    for (name, kind, administrator) in [
        ("A", PersonKind::Employee, true),
        ("E1", PersonKind::Employee, false),
        ("E2", PersonKind::Employee, false),
        ("X", PersonKind::Extranet, false),
        ("Y", PersonKind::Extranet, false),
        ("G", PersonKind::Guest, false),
    ] {
        let person = PersonId::new_random();
        bus.execute::<Person>(
            AggregateKey::new(account, person.0),
            PersonCommand::Join {
                person,
                kind,
                email: Email::parse(&format!("{}@acme.test", name.to_lowercase())).expect("email"),
                name: PersonName::parse(name, "Person").expect("name"),
                administrator,
                password_hash: "$argon2id$stub".into(),
                invitation: None,
                sponsor: None,
                previous: None,
            },
            &meta,
        )
        .await
        .expect("join");
        w.people.insert(name, (person, kind, administrator));
    }
    let id = |w: &Workspace, name: &str| w.people[name].0;
    for (name, extranet, owner, member) in [
        ("G1", false, "E1", None),
        ("X1", true, "E1", Some("X")),
        ("X2", true, "E2", Some("Y")),
    ] {
        let group = WorkgroupId::new_random();
        let key = AggregateKey::new(account, group.0);
        let create = WorkgroupCommand::Create {
            group,
            name: domain::WorkgroupName::parse(name).unwrap(),
            extranet,
            owner: id(&w, owner),
        };
        bus.execute::<Workgroup>(key, create, &meta)
            .await
            .expect("group");
        if let Some(member) = member {
            let add = WorkgroupCommand::AddMember {
                person: id(&w, member),
                role: MemberRole::Member,
                kind: PersonKind::Extranet,
                expires_at: None,
            };
            bus.execute::<Workgroup>(key, add, &meta)
                .await
                .expect("member");
        }
        w.groups.insert(name, group);
    }
    for (name, creator, group, guest) in [
        ("T_G1", "E1", Some("G1"), None),
        ("T_X1", "E1", Some("X1"), None),
        ("T_guest", "E2", None, Some("G")),
        ("T_A", "A", None, None),
    ] {
        let task = TaskId::new_random();
        let key = AggregateKey::new(account, task.0);
        let create = TaskCommand::Create {
            task,
            title: domain::TaskTitle::parse(name).unwrap(),
            description: domain::TaskDescription::parse("").unwrap(),
            creator: id(&w, creator),
            workgroup: group.map(|g| w.groups[g]),
            deadline: None,
        };
        bus.execute::<Task>(key, create, &meta).await.expect("task");
        if let Some(guest) = guest {
            let assign = TaskCommand::Assign {
                person: id(&w, guest),
                role: TaskRole::Observer,
            };
            bus.execute::<Task>(key, assign, &meta)
                .await
                .expect("assign");
        }
        w.tasks.insert(name, task);
    }
    let (projector, handle) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    projector.catch_up_to_head().await.expect("project");
    w.projector = Some((projector, handle, bus));
    w
}

impl Workspace {
    fn viewer(&self, name: &str) -> Viewer {
        let (person, kind, administrator) = self.people[name];
        Viewer {
            account: self.account,
            person,
            kind,
            administrator,
        }
    }
}

/// Collects every cell that differs from the table, so one run shows them all.
fn compare(
    question: &str,
    table: &(&[&str], [&str; 6]),
    answer: impl Fn(usize, usize) -> bool,
    wrong: &mut Vec<String>,
) {
    for (v, row) in table.1.iter().enumerate() {
        for (c, expected) in row.chars().enumerate() {
            let got = answer(v, c);
            if got != (expected == '1') {
                wrong.push(format!(
                    "{question}: {} about {} should be {expected}, is {}",
                    PEOPLE[v],
                    table.0[c],
                    u8::from(got)
                ));
            }
        }
    }
}

async fn the_matrix_holds(db: Database) {
    let w = build(&db).await;
    let (projector, handle, bus) = w.projector.as_ref().expect("built");
    let engine = Permissions::start(db.clone(), handle.clone())
        .await
        .expect("engine");
    let sql = SqlPermissions::new(db.clone());
    let mut answers: BTreeMap<(&str, usize, usize), bool> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let mut record = |question: &'static str, v: usize, c: usize, index: bool, sql: bool| {
        if index != sql {
            disagreements.push(format!("{question} {v} {c}: index {index}, SQL {sql}"));
        }
        answers.insert((question, v, c), index);
    };
    for (v, viewer_name) in PEOPLE.iter().enumerate() {
        let viewer = w.viewer(viewer_name);
        for (c, task) in SEE_TASK.0.iter().enumerate() {
            let task = w.tasks[task];
            let see = engine.may_see_task(&viewer, task).await.expect("ask");
            record(
                "see task",
                v,
                c,
                see,
                sql.may_see_task(&viewer, task).await.expect("ask"),
            );
            let change = engine.may_change_task(&viewer, task).await.expect("ask");
            record(
                "change task",
                v,
                c,
                change,
                sql.may_change_task(&viewer, task).await.expect("ask"),
            );
            let comment = engine.may_comment_task(&viewer, task).await.expect("ask");
            assert_eq!(comment, see, "whoever sees a task may comment on it");
        }
        for (c, group) in SEE_GROUP.0.iter().enumerate() {
            let group = w.groups[group];
            let see = engine.may_see_group(&viewer, group).await.expect("ask");
            record(
                "see group",
                v,
                c,
                see,
                sql.may_see_group(&viewer, group).await.expect("ask"),
            );
        }
        for (c, other) in PEOPLE.iter().enumerate() {
            let other = w.people[other].0;
            let see = engine.may_see_person(&viewer, other).await.expect("ask");
            record(
                "see person",
                v,
                c,
                see,
                sql.may_see_person(&viewer, other).await.expect("ask"),
            );
            let message = engine.may_message(&viewer, other).await.expect("ask");
            record(
                "message",
                v,
                c,
                message,
                sql.may_message(&viewer, other).await.expect("ask"),
            );
        }
        assert_eq!(engine.may_administer(&viewer), *viewer_name == "A");
        assert_eq!(
            engine.may_create_task(&viewer),
            viewer_name.starts_with(['A', 'E'])
        );
    }
    assert!(
        disagreements.is_empty(),
        "the index and the SQL engine disagree:\n{}",
        disagreements.join("\n")
    );
    let mut wrong = Vec::new();
    for (question, table) in [
        ("see task", &SEE_TASK),
        ("change task", &CHANGE_TASK),
        ("see group", &SEE_GROUP),
        ("see person", &SEE_PERSON),
        ("message", &MESSAGE),
    ] {
        compare(
            question,
            table,
            |v, c| answers[&(question, v, c)],
            &mut wrong,
        );
    }
    // Another account's viewer sees nothing here, whatever their role there.
    let stranger = Viewer {
        account: AccountId::new_random(),
        ..w.viewer("A")
    };
    for task in w.tasks.values() {
        if engine.may_see_task(&stranger, *task).await.expect("ask") {
            wrong.push("an administrator of another account sees a task".into());
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ from docs/domain.md:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Every answer can be explained, and the explanation agrees with the answer.
    for (v, viewer_name) in PEOPLE.iter().enumerate() {
        for (c, task) in SEE_TASK.0.iter().enumerate() {
            let why = engine
                .explain_see_task(&w.viewer(viewer_name), w.tasks[task])
                .await
                .expect("explain");
            assert_eq!(
                why.allowed,
                answers[&("see task", v, c)],
                "{viewer_name} about {task}: {why:?}"
            );
            assert!(!why.because.is_empty());
        }
    }
    for (v, viewer_name) in PEOPLE.iter().enumerate() {
        let viewer = w.viewer(viewer_name);
        for (c, group) in SEE_GROUP.0.iter().enumerate() {
            let why = engine
                .explain_see_group(&viewer, w.groups[group])
                .await
                .expect("explain");
            assert_eq!(
                why.allowed,
                answers[&("see group", v, c)],
                "{viewer_name} about {group}: {why:?}"
            );
        }
        for (c, other) in PEOPLE.iter().enumerate() {
            let why = engine
                .explain_see_person(&viewer, w.people[other].0)
                .await
                .expect("explain");
            assert_eq!(
                why.allowed,
                answers[&("see person", v, c)],
                "{viewer_name} about {other}: {why:?}"
            );
        }
    }
    let about_person = engine
        .explain_see_person(&w.viewer("X"), w.people["E1"].0)
        .await
        .expect("explain");
    assert_eq!(
        about_person.because,
        vec![format!(
            "you are both members of workgroup {}",
            w.groups["X1"]
        )]
    );
    let refused = engine
        .explain_see_group(&w.viewer("Y"), w.groups["X1"])
        .await
        .expect("explain");
    assert_eq!(
        refused.because,
        vec!["extranet users see only the extranet groups they belong to".to_string()]
    );
    let because = |viewer: &str, task: &str| {
        let engine = engine.clone();
        let (viewer, task) = (w.viewer(viewer), w.tasks[task]);
        async move {
            engine
                .explain_see_task(&viewer, task)
                .await
                .expect("explain")
                .because
        }
    };
    let x1 = w.groups["X1"];
    assert_eq!(
        because("X", "T_X1").await,
        vec![
            format!("the task belongs to workgroup {x1}"),
            "the workgroup allows access for external users".to_string(),
            "you are a member of the workgroup".to_string(),
        ]
    );
    assert_eq!(
        because("G", "T_guest").await,
        vec!["you are the task's observer".to_string()]
    );
    assert_eq!(
        because("G", "T_A").await,
        vec!["guests see only the tasks they hold a role in".to_string()]
    );
    assert_eq!(
        because("E2", "T_X1").await,
        vec![
            "the task's workgroup is an extranet group, and employees see those only as members"
                .to_string()
        ]
    );

    // Candidates: what a list reads for each viewer holds everyone and every group the
    // engine allows them; employees read the whole list, a guest only their task.
    for (v, viewer_name) in PEOPLE.iter().enumerate() {
        let viewer = w.viewer(viewer_name);
        let people = engine.person_candidates(&viewer).await.expect("candidates");
        let groups = engine.group_candidates(&viewer).await.expect("candidates");
        let employee = viewer_name.starts_with(['A', 'E']);
        assert_eq!(
            matches!(people, Candidates::All),
            employee,
            "{viewer_name}: {people:?}"
        );
        assert_eq!(
            matches!(groups, Candidates::All),
            employee,
            "{viewer_name}: {groups:?}"
        );
        if let Candidates::Only(ids) = &people {
            for (c, other) in PEOPLE.iter().enumerate() {
                if answers[&("see person", v, c)] {
                    assert!(
                        ids.contains(&w.people[other].0),
                        "{viewer_name} may see {other}, who is no candidate"
                    );
                }
            }
        }
        if let Candidates::Only(ids) = &groups {
            for (c, group) in SEE_GROUP.0.iter().enumerate() {
                if answers[&("see group", v, c)] {
                    assert!(
                        ids.contains(&w.groups[group]),
                        "{viewer_name} may see {group}, which is no candidate"
                    );
                }
            }
        }
    }
    let only = |candidates: Candidates<PersonId>| match candidates {
        Candidates::All => panic!("every person is a candidate"),
        Candidates::Only(ids) => ids,
    };
    let guest = only(
        engine
            .person_candidates(&w.viewer("G"))
            .await
            .expect("candidates"),
    );
    assert_eq!(
        guest,
        HashSet::from([w.people["G"].0, w.people["E2"].0]),
        "a guest's candidates are the people of their task, themselves included"
    );
    assert!(matches!(
        engine.group_candidates(&w.viewer("G")).await.expect("candidates"),
        Candidates::Only(ids) if ids.is_empty()
    ));

    // Revocation: once the read models hold a removal, the very next check refuses,
    // with no reload of the index.
    let x = w.viewer("X");
    let t_x1 = w.tasks["T_X1"];
    assert!(engine.may_see_task(&x, t_x1).await.expect("ask"));
    let meta = Metadata {
        actor: None,
        at: Timestamp(1_700_000_000_000),
        request_id: None,
    };
    let remove = WorkgroupCommand::RemoveMember { person: x.person };
    bus.execute::<Workgroup>(
        AggregateKey::new(w.account, w.groups["X1"].0),
        remove,
        &meta,
    )
    .await
    .expect("remove X from X1");
    projector.catch_up_to_head().await.expect("project");
    assert!(
        !engine.may_see_task(&x, t_x1).await.expect("ask"),
        "X no longer sees X1's task"
    );
    assert!(!engine.may_see_group(&x, w.groups["X1"]).await.expect("ask"));
    assert!(
        !engine.may_message(&x, w.people["E1"].0).await.expect("ask"),
        "nor messages its owner"
    );
    assert!(
        !only(engine.person_candidates(&x).await.expect("candidates")).contains(&w.people["E1"].0),
        "the very next list no longer reads X1's owner for X"
    );
    assert!(
        matches!(
            engine.group_candidates(&x).await.expect("candidates"),
            Candidates::Only(ids) if ids.is_empty()
        ),
        "nor X1"
    );
}

#[tokio::test]
async fn postgres_the_matrix_holds() {
    the_matrix_holds(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_the_matrix_holds() {
    the_matrix_holds(support::fresh_sqlite().await).await;
}

/// The activity stream shows each viewer the groups they may see, extranet groups
/// marked as such, newest first, a page at a time (docs/domain.md, Workgroups 9 and
/// Permissions 5).
async fn the_activity_stream_follows_the_rules(db: Database) {
    use projections::activity::{stream_for, Activity};
    let w = build(&db).await;
    let (_, handle, _) = w.projector.as_ref().expect("built");
    let (activity, _) = Projector::new(Activity, db.clone())
        .await
        .expect("activity");
    activity
        .behind(handle)
        .catch_up_to_head()
        .await
        .expect("project activity");

    let groups_seen = |entries: &[projections::activity::Entry]| {
        let mut seen: Vec<(&str, bool)> = entries
            .iter()
            .map(|e| {
                let name = w
                    .groups
                    .iter()
                    .find(|(_, id)| **id == e.workgroup)
                    .map(|(n, _)| *n)
                    .expect("known group");
                (name, e.extranet)
            })
            .collect();
        seen.sort();
        seen.dedup();
        seen
    };
    // (viewer, the groups in their stream with the extranet mark, how many entries)
    type Stream<'a> = (&'a str, &'a [(&'a str, bool)], usize);
    let expected: [Stream; 6] = [
        ("A", &[("G1", false), ("X1", true), ("X2", true)], 7),
        ("E1", &[("G1", false), ("X1", true)], 5),
        ("E2", &[("G1", false), ("X2", true)], 4),
        ("X", &[("X1", true)], 3),
        ("Y", &[("X2", true)], 2),
        ("G", &[], 0),
    ];
    for (viewer, groups, count) in expected {
        let entries = stream_for(&db, &w.viewer(viewer), None, 100)
            .await
            .expect("stream");
        assert_eq!(groups_seen(&entries), groups.to_vec(), "{viewer}'s stream");
        assert_eq!(entries.len(), count, "{viewer}'s stream: {entries:?}");
        assert!(
            entries.windows(2).all(|p| p[0].position > p[1].position),
            "newest first"
        );
    }
    // Pages: two at a time, continuing before the last entry seen.
    let viewer = w.viewer("A");
    let mut before = None;
    let mut paged = Vec::new();
    loop {
        let page = stream_for(&db, &viewer, before, 2).await.expect("page");
        let Some(last) = page.last() else { break };
        before = Some(last.position);
        paged.extend(page);
    }
    assert_eq!(paged.len(), 7);
    let task_created = paged
        .iter()
        .find(|e| e.kind == "task_created")
        .expect("a task entry");
    assert!(
        task_created.detail.starts_with("T_"),
        "the entry names the task: {task_created:?}"
    );
}

#[tokio::test]
async fn postgres_the_activity_stream_follows_the_rules() {
    the_activity_stream_follows_the_rules(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_the_activity_stream_follows_the_rules() {
    the_activity_stream_follows_the_rules(support::fresh_sqlite().await).await;
}

/// The index follows the read models on its own (`Permissions::follow`); a check that
/// finds it farther behind than it would bring it itself is refused at once, and
/// answered again once the follower has closed the gap.
async fn an_index_far_behind_refuses_until_its_follower_closes_the_gap(db: Database) {
    let w = build(&db).await;
    let (projector, handle, bus) = w.projector.as_ref().expect("built");
    let engine = Permissions::start(db.clone(), handle.clone())
        .await
        .expect("engine")
        .refusing_beyond(3);
    let admin = w.viewer("A");
    let task = w.tasks["T_A"];
    assert!(engine.may_see_task(&admin, task).await.expect("level"));

    let meta = meta();
    let rename = |n: usize| {
        let key = AggregateKey::new(w.account, task.0);
        let title = domain::TaskTitle::parse(&format!("Renamed {n}")).unwrap();
        bus.execute::<Task>(key, TaskCommand::Rename { title }, &meta)
    };
    for n in 0..5 {
        rename(n).await.expect("rename");
    }
    projector.catch_up_to_head().await.expect("project");
    let refused = engine.may_see_task(&admin, task).await;
    assert!(
        matches!(
            refused,
            Err(projections::StoreError::Unavailable(
                Unavailable::IndexBehind { events: 5 }
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(
        engine.unavailable(),
        Some(Unavailable::IndexBehind { events: 5 })
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let following = tokio::spawn(engine.clone().follow(stopped));
    let level = |engine: &Permissions| engine.position() == handle.position();
    wait_until("the follower closes the gap", || level(&engine)).await;
    assert_eq!(engine.unavailable(), None);
    assert!(engine.may_see_task(&admin, task).await.expect("answered"));

    // Woken by the read models' next move, with no check asking.
    rename(5).await.expect("rename");
    projector.catch_up_to_head().await.expect("project");
    wait_until("the follower takes the next change", || level(&engine)).await;

    stop.send(true).expect("stop");
    following.await.expect("the follower stops");
}

fn meta() -> Metadata {
    Metadata {
        actor: None,
        at: Timestamp(1_700_000_000_000),
        request_id: None,
    }
}

/// Polls `done` until it holds; fails the test after ten seconds.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what} within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn postgres_an_index_far_behind_refuses_until_its_follower_closes_the_gap() {
    an_index_far_behind_refuses_until_its_follower_closes_the_gap(support::fresh_postgres().await)
        .await;
}

#[tokio::test]
async fn sqlite_an_index_far_behind_refuses_until_its_follower_closes_the_gap() {
    an_index_far_behind_refuses_until_its_follower_closes_the_gap(support::fresh_sqlite().await)
        .await;
}
