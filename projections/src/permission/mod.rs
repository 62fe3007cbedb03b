//! The permission engine: the one place that answers "may this person see or do
//! that". The gateway asks it for every field and mutation and holds no rule of its
//! own. Answers come from the read models.
//!
//! The rules (DOMAIN.md, "Who may see and do what"):
//! - administrators: everything in their account;
//! - employees: every employee, the company's groups, the extranet groups they belong
//!   to, the tasks they hold a role in or that belong to a group they can see, and the
//!   people they share a group or a task with;
//! - extranet users: themselves, the extranet groups they belong to with their members
//!   and tasks, the tasks they hold a role in and the people of those tasks; not the
//!   company's structure, other people or other groups;
//! - guests: themselves, the tasks they hold a role in and the people of those tasks;
//! - direct messages: employees with each other; an extranet user only with people
//!   who share an extranet group with them; guests with nobody;
//! - dismissed or suspended people are no viewers at all (`Viewer::from_record`).
//!
//! Nothing ever crosses accounts: every query is bound to the viewer's account. Each
//! question is one SQL query over the read models, built from the fragments below;
//! `$1` is the account, `$2` the thing asked about, `$3` the viewer.

mod index;
pub(crate) mod sql;

pub use index::{Explanation, Index};
pub use sql::SqlPermissions;

use crate::directory::PersonRecord;
use crate::projector::ProjectorHandle;
use crate::{Database, EventLog, LogPosition, StoreError};
use domain::account::InvitationSettings;
use domain::person::PersonKind;
use domain::{AccountId, PersonId, TaskId, WorkgroupId};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use tokio::sync::Mutex;

/// The person asking, as the session resolved them. Only active people become viewers.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub account: AccountId,
    pub person: PersonId,
    pub kind: PersonKind,
    pub administrator: bool,
}

impl Viewer {
    pub fn from_record(record: &PersonRecord) -> Option<Self> {
        record.active.then_some(Self {
            account: record.account,
            person: record.id,
            kind: record.kind,
            administrator: record.administrator,
        })
    }

    pub fn is_employee(&self) -> bool {
        self.kind == PersonKind::Employee
    }
}

/// What a list the viewer sees only part of must read: every row, or only these.
/// `Only` is a superset of what the viewer may see, never the answer itself: each row
/// read is still put to the engine, so no rule lives in two places.
#[derive(Debug, Clone)]
pub enum Candidates<Id> {
    /// The viewer may see most of the list; scanning it is cheaper than a set of it.
    All,
    Only(HashSet<Id>),
}

/// The permission engine. Answers from the in-memory [`Index`]; before answering, it
/// brings the index up to the read models, so a change that a command has returned
/// from (a dismissal, a removal) is in force for the very next check.
#[derive(Clone)]
pub struct Permissions {
    index: Arc<RwLock<Index>>,
    catching_up: Arc<Mutex<()>>,
    read_models: ProjectorHandle,
    log: EventLog,
}

const BATCH: i64 = 1000;

/// A panic while the index was being changed leaves it unusable; checks then fail
/// rather than answer from half-applied facts.
fn poisoned() -> StoreError {
    StoreError::UnknownValue {
        what: "permission index",
        value: "poisoned by a panic".into(),
    }
}

impl Permissions {
    /// Loads the index from the read models; it then follows `read_models`.
    pub async fn start(db: Database, read_models: ProjectorHandle) -> Result<Self, StoreError> {
        let index = Index::load(&db).await?;
        Ok(Self {
            index: Arc::new(RwLock::new(index)),
            catching_up: Arc::new(Mutex::new(())),
            read_models,
            log: EventLog::new(db),
        })
    }

    fn position(&self) -> LogPosition {
        self.index.read().map(|i| i.position).unwrap_or_default()
    }

    /// Applies what the read models have applied and the index has not.
    async fn bring_up_to_date(&self) -> Result<(), StoreError> {
        let target = self.read_models.position();
        if self.position() >= target {
            return Ok(());
        }
        let _one_at_a_time = self.catching_up.lock().await;
        while self.position() < target {
            let events = self.log.read(self.position(), target, BATCH).await?;
            if events.is_empty() {
                break;
            }
            let mut index = self.index.write().map_err(|_| poisoned())?;
            for event in &events {
                index.apply(event)?;
            }
        }
        Ok(())
    }

    /// Answers `question` from the index, once it is up to date.
    async fn ask<R>(&self, question: impl FnOnce(&Index) -> R) -> Result<R, StoreError> {
        self.bring_up_to_date().await?;
        let index = self.index.read().map_err(|_| poisoned())?;
        Ok(question(&index))
    }

    pub async fn may_see_task(&self, viewer: &Viewer, task: TaskId) -> Result<bool, StoreError> {
        self.ask(|i| i.may_see_task(viewer, task)).await
    }

    /// Why `viewer` may or may not see `task`: the facts that grant it, or the rule
    /// that refuses it.
    pub async fn explain_see_task(
        &self,
        viewer: &Viewer,
        task: TaskId,
    ) -> Result<Explanation, StoreError> {
        self.ask(|i| i.explain_see_task(viewer, task)).await
    }

    /// Why `viewer` may or may not see `group`.
    pub async fn explain_see_group(
        &self,
        viewer: &Viewer,
        group: WorkgroupId,
    ) -> Result<Explanation, StoreError> {
        self.ask(|i| i.explain_see_group(viewer, group)).await
    }

    /// Why `viewer` may or may not see `person`.
    pub async fn explain_see_person(
        &self,
        viewer: &Viewer,
        person: PersonId,
    ) -> Result<Explanation, StoreError> {
        self.ask(|i| i.explain_see_person(viewer, person)).await
    }

    /// Renaming, changing status: administrators, the creator and the responsible
    /// person.
    pub async fn may_change_task(&self, viewer: &Viewer, task: TaskId) -> Result<bool, StoreError> {
        self.ask(|i| i.may_change_task(viewer, task)).await
    }

    /// Commenting: everyone who can see the task, guests included.
    pub async fn may_comment_task(
        &self,
        viewer: &Viewer,
        task: TaskId,
    ) -> Result<bool, StoreError> {
        self.may_see_task(viewer, task).await
    }

    /// Inviting a guest into a task: the employees who may change it.
    pub async fn may_invite_guest_to_task(
        &self,
        viewer: &Viewer,
        task: TaskId,
    ) -> Result<bool, StoreError> {
        self.may_change_task(viewer, task).await
    }

    /// Creating a task: employees.
    pub fn may_create_task(&self, viewer: &Viewer) -> bool {
        viewer.is_employee()
    }

    pub async fn may_see_group(
        &self,
        viewer: &Viewer,
        group: WorkgroupId,
    ) -> Result<bool, StoreError> {
        self.ask(|i| i.may_see_group(viewer, group)).await
    }

    /// Approving registrations, transferring, converting, dismissing, reinstating,
    /// erasing, changing the plan or the invitation settings: administrators only.
    pub fn may_administer(&self, viewer: &Viewer) -> bool {
        viewer.administrator
    }

    /// Inviting people into the company or a department: administrators, and every
    /// employee when the account allows everyone to invite.
    pub fn may_invite_into_account(&self, viewer: &Viewer, settings: &InvitationSettings) -> bool {
        viewer.administrator || (viewer.is_employee() && settings.everyone_may_invite)
    }

    /// Inviting into a workgroup: administrators, and the members the group's invite
    /// policy allows (an extranet member too, when the group lets every member invite).
    pub async fn may_invite_into_group(
        &self,
        viewer: &Viewer,
        group: WorkgroupId,
    ) -> Result<bool, StoreError> {
        self.ask(|i| i.may_invite_into_group(viewer, group)).await
    }

    /// Renaming a group, changing its settings and members: administrators, and the
    /// group's owners and moderators.
    pub async fn may_manage_group(
        &self,
        viewer: &Viewer,
        group: WorkgroupId,
    ) -> Result<bool, StoreError> {
        self.ask(|i| i.may_manage_group(viewer, group)).await
    }

    /// Creating a workgroup: employees.
    pub fn may_create_group(&self, viewer: &Viewer) -> bool {
        viewer.is_employee()
    }

    pub async fn may_see_person(
        &self,
        viewer: &Viewer,
        person: PersonId,
    ) -> Result<bool, StoreError> {
        self.ask(|i| i.may_see_person(viewer, person)).await
    }

    /// The people the `people` list must read for `viewer`, as of the same catch-up
    /// as every check, so a list never misses someone a check would allow.
    pub async fn person_candidates(
        &self,
        viewer: &Viewer,
    ) -> Result<Candidates<PersonId>, StoreError> {
        self.ask(|i| i.person_candidates(viewer)).await
    }

    /// The groups the `workgroups` list must read for `viewer`.
    pub async fn group_candidates(
        &self,
        viewer: &Viewer,
    ) -> Result<Candidates<WorkgroupId>, StoreError> {
        self.ask(|i| i.group_candidates(viewer)).await
    }

    /// Direct messages: employees with each other; an extranet user with those who
    /// share an extranet group with them; guests with nobody.
    pub async fn may_message(&self, viewer: &Viewer, person: PersonId) -> Result<bool, StoreError> {
        self.ask(|i| i.may_message(viewer, person)).await
    }
}
