//! The permission engine: the one place that answers "may this person see or do
//! that". The gateway asks it for every field and mutation and holds no rule of its
//! own. Answers come from the read models.
//!
//! Rules (DOMAIN.md, "Who may see and do what") covered so far:
//! - administrators see every task and person of their account;
//! - an employee sees every person of the account, and the tasks they created or hold
//!   a role in;
//! - a guest or extranet user sees themself, the tasks they hold a role in, and the
//!   people of those tasks; nothing else.
//!
//! Nothing ever crosses accounts: every query is bound to the viewer's account.

use crate::directory::PersonRecord;
use crate::workgroups;
use crate::{Database, StoreError};
use domain::account::InvitationSettings;
use domain::person::PersonKind;
use domain::{AccountId, PersonId, TaskId, WorkgroupId};

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

#[derive(Clone)]
pub struct Permissions {
    db: Database,
}

const HOLDS_A_ROLE: &str = "(t.creator_id = $3 OR EXISTS (SELECT 1 FROM task_roles r
     WHERE r.account_id = t.account_id AND r.task_id = t.task_id AND r.person_id = $3))";

const IS_RESPONSIBLE_OR_CREATOR: &str = "(t.creator_id = $3 OR EXISTS (SELECT 1 FROM task_roles r
     WHERE r.account_id = t.account_id AND r.task_id = t.task_id AND r.person_id = $3
       AND r.role = 'responsible'))";

impl Permissions {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn task_matches(
        &self,
        viewer: &Viewer,
        task: TaskId,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT 1 AS found FROM tasks t WHERE t.account_id = $1 AND t.task_id = $2 AND {condition}"
        );
        let row = sqlx::query(&sql)
            .bind(viewer.account.to_string())
            .bind(task.to_string())
            .bind(viewer.person.to_string())
            .fetch_optional(&self.db.any)
            .await?;
        Ok(row.is_some())
    }

    pub async fn may_see_task(&self, viewer: &Viewer, task: TaskId) -> Result<bool, StoreError> {
        let condition = if viewer.administrator {
            "1 = 1"
        } else {
            HOLDS_A_ROLE
        };
        self.task_matches(viewer, task, condition).await
    }

    /// Renaming, changing status: administrators, the creator and the responsible
    /// person.
    pub async fn may_change_task(&self, viewer: &Viewer, task: TaskId) -> Result<bool, StoreError> {
        let condition = if viewer.administrator {
            "1 = 1"
        } else if viewer.is_employee() {
            IS_RESPONSIBLE_OR_CREATOR
        } else {
            "1 = 0"
        };
        self.task_matches(viewer, task, condition).await
    }

    /// Inviting a guest into a task: the employees who may change it.
    pub async fn may_invite_guest_to_task(
        &self,
        viewer: &Viewer,
        task: TaskId,
    ) -> Result<bool, StoreError> {
        self.may_change_task(viewer, task).await
    }

    /// Creating a task: employees. (Extranet users will create tasks in their
    /// extranet groups once workgroups exist.)
    pub fn may_create_task(&self, viewer: &Viewer) -> bool {
        viewer.is_employee()
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
        if viewer.administrator {
            return Ok(true);
        }
        let Some(record) = workgroups::get(&self.db, viewer.account, group).await? else {
            return Ok(false);
        };
        let role = workgroups::role_of(&self.db, viewer.account, group, viewer.person).await?;
        Ok(role.is_some_and(|role| record.invite_policy.allows(role)))
    }

    pub async fn may_see_person(
        &self,
        viewer: &Viewer,
        person: PersonId,
    ) -> Result<bool, StoreError> {
        if viewer.person == person {
            return Ok(true);
        }
        let condition = if viewer.is_employee() {
            "1 = 1"
        } else {
            // Someone who shares a task with the viewer.
            "EXISTS (
               SELECT 1 FROM tasks t
                WHERE t.account_id = $1
                  AND (t.creator_id = $3 OR EXISTS (SELECT 1 FROM task_roles r WHERE r.account_id = $1
                        AND r.task_id = t.task_id AND r.person_id = $3))
                  AND (t.creator_id = $2 OR EXISTS (SELECT 1 FROM task_roles r WHERE r.account_id = $1
                        AND r.task_id = t.task_id AND r.person_id = $2)))"
        };
        let sql = format!(
            "SELECT 1 AS found FROM people p WHERE p.account_id = $1 AND p.person_id = $2 AND {condition}"
        );
        let row = sqlx::query(&sql)
            .bind(viewer.account.to_string())
            .bind(person.to_string())
            .bind(viewer.person.to_string())
            .fetch_optional(&self.db.any)
            .await?;
        Ok(row.is_some())
    }
}
