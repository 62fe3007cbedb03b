//! The permission index: the facts every rule needs (who is who, who is in which group
//! and task), held in memory so a check is a few hash lookups. It is loaded from the
//! durable read models and kept current by applying the log's events after them.

use crate::directory::parse_id;
use crate::read_model::parse_label;
use crate::{Database, LogPosition, StoreError, StoredEvent};
use cqrs_es::Aggregate;
use domain::person::{Person, PersonEvent, PersonKind};
use domain::task::{Task, TaskEvent, TaskRole};
use domain::workgroup::{InvitePolicy, MemberRole, Workgroup, WorkgroupEvent};
use domain::{AccountId, PersonId, TaskId, WorkgroupId};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

use super::{Candidates, Viewer};

#[derive(Debug, Clone)]
struct PersonFacts {
    account: AccountId,
    kind: PersonKind,
    active: bool,
}

#[derive(Debug, Clone)]
struct GroupFacts {
    account: AccountId,
    extranet: bool,
    policy: InvitePolicy,
    members: HashMap<PersonId, MemberRole>,
}

#[derive(Debug, Clone)]
struct TaskFacts {
    account: AccountId,
    creator: PersonId,
    workgroup: Option<WorkgroupId>,
    roles: HashMap<PersonId, TaskRole>,
}

impl TaskFacts {
    fn involves(&self, person: PersonId) -> bool {
        self.creator == person || self.roles.contains_key(&person)
    }
}

/// Why a check comes out as it does: the chain of facts that grants it, or the rule
/// that refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub allowed: bool,
    pub because: Vec<String>,
}

impl Explanation {
    fn yes(because: Vec<String>) -> Self {
        Self {
            allowed: true,
            because,
        }
    }

    fn no(rule: &str) -> Self {
        Self {
            allowed: false,
            because: vec![rule.to_string()],
        }
    }
}

fn role_name(role: TaskRole) -> &'static str {
    role.label()
}

fn member_role_name(role: MemberRole) -> &'static str {
    match role {
        MemberRole::Owner => "owner",
        MemberRole::Moderator => "moderator",
        MemberRole::Member => "member",
    }
}

#[derive(Debug, Default)]
pub struct Index {
    /// The last event the index includes.
    pub position: LogPosition,
    people: HashMap<PersonId, PersonFacts>,
    groups: HashMap<WorkgroupId, GroupFacts>,
    tasks: HashMap<TaskId, TaskFacts>,
    /// Reverse lookups, so "do these two share a group or a task" walks one person's
    /// few groups and tasks instead of all of them.
    groups_of: HashMap<PersonId, Vec<WorkgroupId>>,
    tasks_of: HashMap<PersonId, Vec<TaskId>>,
}

fn add_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl Index {
    // ---- the rules (in words: docs/domain.md, "Permissions") ----

    /// The task, if it exists in the viewer's account: nothing crosses accounts.
    fn task_in(&self, viewer: &Viewer, task: TaskId) -> Option<&TaskFacts> {
        self.tasks
            .get(&task)
            .filter(|t| t.account == viewer.account)
    }

    /// The group, if it exists in the viewer's account.
    fn group_in(&self, viewer: &Viewer, group: WorkgroupId) -> Option<&GroupFacts> {
        self.groups
            .get(&group)
            .filter(|g| g.account == viewer.account)
    }

    fn group_visible(&self, viewer: &Viewer, group: &GroupFacts) -> bool {
        if group.account != viewer.account {
            return false;
        }
        if viewer.administrator {
            return true;
        }
        let member = group.members.contains_key(&viewer.person);
        match viewer.kind {
            PersonKind::Employee => !group.extranet || member,
            PersonKind::Extranet => group.extranet && member,
            PersonKind::Guest => false,
        }
    }

    pub fn may_see_task(&self, viewer: &Viewer, task: TaskId) -> bool {
        let Some(t) = self.task_in(viewer, task) else {
            return false;
        };
        viewer.administrator
            || t.involves(viewer.person)
            || t.workgroup
                .and_then(|g| self.groups.get(&g))
                .is_some_and(|g| self.group_visible(viewer, g))
    }

    /// Why `viewer` may or may not see `task`. Agrees with [`Index::may_see_task`].
    pub fn explain_see_task(&self, viewer: &Viewer, task: TaskId) -> Explanation {
        let Some(t) = self.task_in(viewer, task) else {
            return Explanation::no("there is no such task in your account");
        };
        if viewer.administrator {
            return Explanation::yes(vec!["you are an administrator of this account".into()]);
        }
        if t.creator == viewer.person {
            return Explanation::yes(vec!["you created the task".into()]);
        }
        if let Some(role) = t.roles.get(&viewer.person) {
            return Explanation::yes(vec![format!("you are the task's {}", role_name(*role))]);
        }
        let group = t
            .workgroup
            .and_then(|g| self.groups.get(&g).map(|facts| (g, facts)));
        match (viewer.kind, group) {
            (PersonKind::Guest, _) => {
                Explanation::no("guests see only the tasks they hold a role in")
            }
            (_, None) => {
                Explanation::no("you hold no role in the task, and it belongs to no workgroup")
            }
            (kind, Some((id, g))) => {
                let member = g.members.get(&viewer.person);
                let mut facts = vec![format!("the task belongs to workgroup {id}")];
                match (kind, g.extranet, member) {
                    (_, _, Some(role)) if kind == PersonKind::Employee || g.extranet => {
                        if g.extranet {
                            facts.push("the workgroup allows access for external users".into());
                        }
                        facts.push(format!("you are a {} of the workgroup", member_role_name(*role)));
                        Explanation::yes(facts)
                    }
                    (PersonKind::Employee, false, None) => {
                        facts.push("it is a company workgroup, open to every employee".into());
                        Explanation::yes(facts)
                    }
                    (PersonKind::Employee, true, None) => Explanation::no(
                        "the task's workgroup is an extranet group, and employees see those only as members",
                    ),
                    _ => Explanation::no(
                        "extranet users see only the tasks they hold a role in and the tasks of extranet groups they belong to",
                    ),
                }
            }
        }
    }

    pub fn may_change_task(&self, viewer: &Viewer, task: TaskId) -> bool {
        let Some(t) = self.task_in(viewer, task) else {
            return false;
        };
        viewer.administrator
            || (viewer.is_employee()
                && (t.creator == viewer.person
                    || t.roles.get(&viewer.person) == Some(&TaskRole::Responsible)))
    }

    pub fn may_see_group(&self, viewer: &Viewer, group: WorkgroupId) -> bool {
        self.groups
            .get(&group)
            .is_some_and(|g| self.group_visible(viewer, g))
    }

    pub fn may_invite_into_group(&self, viewer: &Viewer, group: WorkgroupId) -> bool {
        let Some(g) = self.group_in(viewer, group) else {
            return false;
        };
        viewer.administrator
            || g.members
                .get(&viewer.person)
                .is_some_and(|role| g.policy.allows(*role))
    }

    /// Renaming a group, its settings and its members: administrators, and the
    /// group's owners and moderators.
    pub fn may_manage_group(&self, viewer: &Viewer, group: WorkgroupId) -> bool {
        let Some(g) = self.group_in(viewer, group) else {
            return false;
        };
        viewer.administrator
            || matches!(
                g.members.get(&viewer.person),
                Some(MemberRole::Owner | MemberRole::Moderator)
            )
    }

    /// A group both `a` and `b` are members of (an extranet group, if `extranet_only`).
    fn shared_group(&self, a: PersonId, b: PersonId, extranet_only: bool) -> Option<WorkgroupId> {
        self.groups_of.get(&a)?.iter().copied().find(|id| {
            self.groups
                .get(id)
                .is_some_and(|g| (!extranet_only || g.extranet) && g.members.contains_key(&b))
        })
    }

    /// A task both `a` and `b` hold a role in (or created).
    fn shared_task(&self, a: PersonId, b: PersonId) -> Option<TaskId> {
        self.tasks_of
            .get(&a)?
            .iter()
            .copied()
            .find(|id| self.tasks.get(id).is_some_and(|t| t.involves(b)))
    }

    fn share_group(&self, a: PersonId, b: PersonId, extranet_only: bool) -> bool {
        self.shared_group(a, b, extranet_only).is_some()
    }

    fn share_task(&self, a: PersonId, b: PersonId) -> bool {
        self.shared_task(a, b).is_some()
    }

    /// Why `viewer` may or may not see `group`. Agrees with [`Index::may_see_group`].
    pub fn explain_see_group(&self, viewer: &Viewer, group: WorkgroupId) -> Explanation {
        let Some(g) = self.group_in(viewer, group) else {
            return Explanation::no("there is no such workgroup in your account");
        };
        if viewer.administrator {
            return Explanation::yes(vec!["you are an administrator of this account".into()]);
        }
        let member = g.members.get(&viewer.person);
        match (viewer.kind, g.extranet, member) {
            (PersonKind::Guest, _, _) => {
                Explanation::no("guests see no workgroups, only their tasks")
            }
            (PersonKind::Employee, false, None) => Explanation::yes(vec![
                "it is a company workgroup, open to every employee".into(),
            ]),
            (PersonKind::Employee, true, None) => {
                Explanation::no("employees see extranet groups only as members")
            }
            (PersonKind::Extranet, false, _) | (PersonKind::Extranet, true, None) => {
                Explanation::no("extranet users see only the extranet groups they belong to")
            }
            (_, extranet, Some(role)) => {
                let mut facts = Vec::new();
                if extranet {
                    facts.push("the workgroup allows access for external users".to_string());
                }
                facts.push(format!(
                    "you are a {} of the workgroup",
                    member_role_name(*role)
                ));
                Explanation::yes(facts)
            }
        }
    }

    /// Why `viewer` may or may not see `person`. Agrees with [`Index::may_see_person`].
    pub fn explain_see_person(&self, viewer: &Viewer, person: PersonId) -> Explanation {
        if viewer.person == person {
            return Explanation::yes(vec!["it is you".into()]);
        }
        let Some(p) = self
            .people
            .get(&person)
            .filter(|p| p.account == viewer.account)
        else {
            return Explanation::no("there is no such person in your account");
        };
        if viewer.administrator {
            return Explanation::yes(vec!["you are an administrator of this account".into()]);
        }
        if viewer.kind == PersonKind::Employee && p.kind == PersonKind::Employee {
            return Explanation::yes(vec!["you are both employees of the company".into()]);
        }
        let extranet_only = viewer.kind == PersonKind::Extranet;
        if viewer.kind != PersonKind::Guest {
            if let Some(group) = self.shared_group(person, viewer.person, extranet_only) {
                return Explanation::yes(vec![format!(
                    "you are both members of workgroup {group}"
                )]);
            }
        }
        if let Some(task) = self.shared_task(person, viewer.person) {
            return Explanation::yes(vec![format!("you both hold a role in task {task}")]);
        }
        Explanation::no(match viewer.kind {
            PersonKind::Employee => "you share no workgroup or task with this external person",
            PersonKind::Extranet => {
                "extranet users see only the people of their extranet groups and of their tasks"
            }
            PersonKind::Guest => "guests see only the people of their tasks",
        })
    }

    pub fn may_see_person(&self, viewer: &Viewer, person: PersonId) -> bool {
        if viewer.person == person {
            return true;
        }
        let Some(p) = self
            .people
            .get(&person)
            .filter(|p| p.account == viewer.account)
        else {
            return false;
        };
        match viewer.kind {
            _ if viewer.administrator => true,
            PersonKind::Employee => {
                p.kind == PersonKind::Employee
                    || self.share_group(person, viewer.person, false)
                    || self.share_task(person, viewer.person)
            }
            PersonKind::Extranet => {
                self.share_group(person, viewer.person, true)
                    || self.share_task(person, viewer.person)
            }
            PersonKind::Guest => self.share_task(person, viewer.person),
        }
    }

    /// The people a list must read for `viewer`: the union of every fact through which
    /// [`Index::may_see_person`] can allow someone other than "everyone". It is a
    /// superset, not the answer: each candidate is still checked, so this repeats no
    /// rule, it only bounds the scan.
    pub fn person_candidates(&self, viewer: &Viewer) -> Candidates<PersonId> {
        // Administrators see the whole account and employees every employee: no set
        // smaller than the account bounds that, so the list keeps scanning it.
        if viewer.administrator || viewer.kind == PersonKind::Employee {
            return Candidates::All;
        }
        let mut ids = HashSet::from([viewer.person]);
        // An extranet user sees whoever shares an extranet group; every group they are
        // in is taken, extranet or not, because a superset is safe and cheaper to reason
        // about than repeating the extranet condition here.
        if viewer.kind == PersonKind::Extranet {
            for group in self.groups_of.get(&viewer.person).into_iter().flatten() {
                if let Some(g) = self.groups.get(group) {
                    ids.extend(g.members.keys().copied());
                }
            }
        }
        // Everyone sees the people of the tasks they are in (`share_task`).
        for task in self.tasks_of.get(&viewer.person).into_iter().flatten() {
            if let Some(t) = self.tasks.get(task) {
                ids.insert(t.creator);
                ids.extend(t.roles.keys().copied());
            }
        }
        Candidates::Only(ids)
    }

    /// The groups a list must read for `viewer`; a superset of what
    /// [`Index::may_see_group`] allows, as in [`Index::person_candidates`].
    pub fn group_candidates(&self, viewer: &Viewer) -> Candidates<WorkgroupId> {
        // Employees see every company group, which is most of the account's groups.
        if viewer.administrator || viewer.kind == PersonKind::Employee {
            return Candidates::All;
        }
        match viewer.kind {
            PersonKind::Extranet => Candidates::Only(
                self.groups_of
                    .get(&viewer.person)
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect(),
            ),
            _ => Candidates::Only(HashSet::new()),
        }
    }

    pub fn may_message(&self, viewer: &Viewer, person: PersonId) -> bool {
        if viewer.person == person || viewer.kind == PersonKind::Guest {
            return false;
        }
        let Some(p) = self
            .people
            .get(&person)
            .filter(|p| p.account == viewer.account && p.active)
        else {
            return false;
        };
        match (viewer.kind, p.kind) {
            (_, PersonKind::Guest) => false,
            (PersonKind::Employee, PersonKind::Employee) => true,
            _ => self.share_group(person, viewer.person, true),
        }
    }

    // ---- keeping the facts current ----

    fn add_member(&mut self, group: WorkgroupId, person: PersonId, role: MemberRole) {
        if let Some(g) = self.groups.get_mut(&group) {
            g.members.insert(person, role);
            add_unique(self.groups_of.entry(person).or_default(), group);
        }
    }

    fn remove_member(&mut self, group: WorkgroupId, person: PersonId) {
        if let Some(g) = self.groups.get_mut(&group) {
            g.members.remove(&person);
        }
        if let Some(list) = self.groups_of.get_mut(&person) {
            list.retain(|g| *g != group);
        }
    }

    fn set_role(&mut self, task: TaskId, person: PersonId, role: TaskRole) {
        if let Some(t) = self.tasks.get_mut(&task) {
            t.roles.insert(person, role);
            add_unique(self.tasks_of.entry(person).or_default(), task);
        }
    }

    fn drop_role(&mut self, task: TaskId, person: PersonId) {
        let Some(t) = self.tasks.get_mut(&task) else {
            return;
        };
        t.roles.remove(&person);
        if t.creator != person {
            if let Some(list) = self.tasks_of.get_mut(&person) {
                list.retain(|x| *x != task);
            }
        }
    }

    /// Applies one event of the log. The position moves only once the event is
    /// applied: one that cannot be stays the next to apply, so the index never claims
    /// facts it does not hold.
    pub fn apply(&mut self, event: &StoredEvent) -> Result<(), StoreError> {
        self.apply_facts(event)?;
        self.position = event.position;
        Ok(())
    }

    fn apply_facts(&mut self, event: &StoredEvent) -> Result<(), StoreError> {
        let Ok(account) = event.account_id.parse::<AccountId>() else {
            return Ok(());
        };
        let entity = event.entity_id();
        match event.aggregate_type.as_str() {
            Person::TYPE => {
                let Ok(person) = entity.parse::<PersonId>() else {
                    return Ok(());
                };
                let facts = self.people.get_mut(&person);
                match (event.decode::<PersonEvent>()?, facts) {
                    (PersonEvent::PersonJoined { kind, .. }, _) => {
                        self.people.insert(
                            person,
                            PersonFacts {
                                account,
                                kind,
                                active: true,
                            },
                        );
                    }
                    (PersonEvent::TransferredToEmployee { .. }, Some(p)) => {
                        p.kind = PersonKind::Employee
                    }
                    (PersonEvent::ConvertedToExtranet, Some(p)) => p.kind = PersonKind::Extranet,
                    (
                        PersonEvent::PersonDismissed
                        | PersonEvent::PersonSuspended { .. }
                        | PersonEvent::PersonalDataErased,
                        Some(p),
                    ) => p.active = false,
                    (
                        PersonEvent::PersonReinstated | PersonEvent::SuspensionLifted { .. },
                        Some(p),
                    ) => p.active = true,
                    _ => {}
                }
            }
            Workgroup::TYPE => {
                let Ok(group) = entity.parse::<WorkgroupId>() else {
                    return Ok(());
                };
                match event.decode::<WorkgroupEvent>()? {
                    WorkgroupEvent::WorkgroupCreated {
                        extranet, owner, ..
                    } => {
                        self.groups.insert(
                            group,
                            GroupFacts {
                                account,
                                extranet,
                                policy: InvitePolicy::default(),
                                members: HashMap::new(),
                            },
                        );
                        self.add_member(group, owner, MemberRole::Owner);
                    }
                    WorkgroupEvent::ExternalAccessChanged { extranet } => {
                        if let Some(g) = self.groups.get_mut(&group) {
                            g.extranet = extranet;
                        }
                    }
                    WorkgroupEvent::InvitePolicyChanged { policy } => {
                        if let Some(g) = self.groups.get_mut(&group) {
                            g.policy = policy;
                        }
                    }
                    WorkgroupEvent::MemberAdded { person, role, .. }
                    | WorkgroupEvent::MemberRoleChanged { person, role } => {
                        self.add_member(group, person, role)
                    }
                    WorkgroupEvent::MemberRemoved { person, .. } => {
                        self.remove_member(group, person)
                    }
                    WorkgroupEvent::WorkgroupRenamed { .. }
                    | WorkgroupEvent::MembershipExpiryChanged { .. } => {}
                }
            }
            Task::TYPE => {
                let Ok(task) = entity.parse::<TaskId>() else {
                    return Ok(());
                };
                match event.decode::<TaskEvent>()? {
                    TaskEvent::TaskCreated {
                        creator, workgroup, ..
                    } => {
                        self.tasks.insert(
                            task,
                            TaskFacts {
                                account,
                                creator,
                                workgroup,
                                roles: HashMap::new(),
                            },
                        );
                        add_unique(self.tasks_of.entry(creator).or_default(), task);
                    }
                    TaskEvent::PersonAssigned {
                        person,
                        role,
                        replaces,
                    } => {
                        if let Some(previous) = replaces {
                            self.drop_role(task, previous);
                        }
                        self.set_role(task, person, role);
                    }
                    TaskEvent::PersonUnassigned { person } => self.drop_role(task, person),
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Loads the facts from the durable read models, as of their checkpoint, in one
    /// consistent snapshot of the database.
    pub async fn load(db: &Database) -> Result<Self, StoreError> {
        let mut tx = db.begin_snapshot().await?;
        let mut index = Index {
            position: crate::checkpoint::load_in(&mut tx, "read_models").await?,
            ..Default::default()
        };
        for row in sqlx::query("SELECT account_id, person_id, kind, status FROM people")
            .fetch_all(&mut *tx)
            .await?
        {
            let kind: String = row.try_get("kind")?;
            let status: String = row.try_get("status")?;
            index.people.insert(
                parse_id(&row, "person_id")?,
                PersonFacts {
                    account: parse_id(&row, "account_id")?,
                    kind: parse_label("person kind", &kind)?,
                    active: status == "active",
                },
            );
        }
        for row in
            sqlx::query("SELECT account_id, workgroup_id, extranet, invite_policy FROM workgroups")
                .fetch_all(&mut *tx)
                .await?
        {
            let extranet: i16 = row.try_get("extranet")?;
            let policy: String = row.try_get("invite_policy")?;
            index.groups.insert(
                parse_id(&row, "workgroup_id")?,
                GroupFacts {
                    account: parse_id(&row, "account_id")?,
                    extranet: extranet != 0,
                    policy: parse_label("invite policy", &policy)?,
                    members: HashMap::new(),
                },
            );
        }
        for row in sqlx::query("SELECT workgroup_id, person_id, role FROM workgroup_members")
            .fetch_all(&mut *tx)
            .await?
        {
            let role: String = row.try_get("role")?;
            index.add_member(
                parse_id(&row, "workgroup_id")?,
                parse_id(&row, "person_id")?,
                parse_label("member role", &role)?,
            );
        }
        for row in sqlx::query("SELECT account_id, task_id, creator_id, workgroup_id FROM tasks")
            .fetch_all(&mut *tx)
            .await?
        {
            let task: TaskId = parse_id(&row, "task_id")?;
            let creator: PersonId = parse_id(&row, "creator_id")?;
            let workgroup: Option<String> = row.try_get("workgroup_id")?;
            index.tasks.insert(
                task,
                TaskFacts {
                    account: parse_id(&row, "account_id")?,
                    creator,
                    workgroup: workgroup.and_then(|w| w.parse().ok()),
                    roles: HashMap::new(),
                },
            );
            add_unique(index.tasks_of.entry(creator).or_default(), task);
        }
        for row in sqlx::query("SELECT task_id, person_id, role FROM task_roles")
            .fetch_all(&mut *tx)
            .await?
        {
            let role: String = row.try_get("role")?;
            index.set_role(
                parse_id(&row, "task_id")?,
                parse_id(&row, "person_id")?,
                parse_label("task role", &role)?,
            );
        }
        tx.commit().await?;
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Metadata;

    #[test]
    fn an_event_that_cannot_be_applied_does_not_move_the_position() {
        let account = uuid::Uuid::new_v4();
        let bad = StoredEvent {
            position: LogPosition { tx: 0, position: 7 },
            aggregate_type: Task::TYPE.to_string(),
            aggregate_id: format!("{account}:{}", uuid::Uuid::new_v4()),
            account_id: account.to_string(),
            sequence: 2,
            event_type: "TaskRenamed".into(),
            event_version: "1".into(),
            // No title: a known event whose payload does not decode.
            payload: serde_json::json!({ "TaskRenamed": {} }),
            metadata: Metadata {
                actor: None,
                at: domain::Timestamp(0),
                request_id: None,
            },
        };
        let mut index = Index::default();
        assert!(index.apply(&bad).is_err());
        assert_eq!(
            index.position,
            LogPosition::START,
            "the event stays the next to apply"
        );
    }
}
