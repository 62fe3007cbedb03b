//! The permission rules as SQL over the durable read models. The live engine answers
//! from the in-memory index (`index.rs`); this one is the yardstick it is measured and
//! tested against, and it must always agree with it.

use super::Viewer;
use crate::{Database, StoreError};
use domain::person::PersonKind;
use domain::{PersonId, TaskId, WorkgroupId};

#[derive(Clone)]
pub struct SqlPermissions {
    db: Database,
}

/// `$2`'s person or `$3`'s person holds a role in task `t` (or created it).
fn on_task(person: &str) -> String {
    format!(
        "(t.creator_id = {person} OR EXISTS (SELECT 1 FROM task_roles r
            WHERE r.account_id = t.account_id AND r.task_id = t.task_id AND r.person_id = {person}))"
    )
}

fn member_of(group: &str, person: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM workgroup_members m
                  WHERE m.account_id = $1 AND m.workgroup_id = {group} AND m.person_id = {person})"
    )
}

/// Group `w` is one the viewer can see; `person` is the viewer's placeholder (`$3`
/// in this module's queries).
pub(crate) fn group_visible(viewer: &Viewer, person: &str) -> String {
    match viewer.kind {
        _ if viewer.administrator => "1 = 1".to_string(),
        PersonKind::Employee => {
            format!(
                "(w.extranet = 0 OR {})",
                member_of("w.workgroup_id", person)
            )
        }
        PersonKind::Extranet => {
            format!(
                "(w.extranet = 1 AND {})",
                member_of("w.workgroup_id", person)
            )
        }
        PersonKind::Guest => "1 = 0".to_string(),
    }
}

/// Task `t` is one the viewer (`$3`) can see.
fn task_visible(viewer: &Viewer) -> String {
    if viewer.administrator {
        return "1 = 1".to_string();
    }
    format!(
        "({on_task} OR (t.workgroup_id IS NOT NULL AND EXISTS (SELECT 1 FROM workgroups w
              WHERE w.account_id = $1 AND w.workgroup_id = t.workgroup_id AND {group})))",
        on_task = on_task("$3"),
        group = group_visible(viewer, "$3"),
    )
}

/// `$2` and `$3` are both members of one group (an extranet group, if `extranet`).
fn share_group(extranet: bool) -> String {
    let only_extranet = if extranet {
        "AND EXISTS (SELECT 1 FROM workgroups w WHERE w.account_id = a.account_id
                      AND w.workgroup_id = a.workgroup_id AND w.extranet = 1)"
    } else {
        ""
    };
    format!(
        "EXISTS (SELECT 1 FROM workgroup_members a
                   JOIN workgroup_members b ON b.account_id = a.account_id AND b.workgroup_id = a.workgroup_id
                  WHERE a.account_id = $1 AND a.person_id = $2 AND b.person_id = $3 {only_extranet})"
    )
}

/// `$2` and `$3` both hold a role in one task.
fn share_task() -> String {
    format!(
        "EXISTS (SELECT 1 FROM tasks t WHERE t.account_id = $1 AND {} AND {})",
        on_task("$2"),
        on_task("$3")
    )
}

const IS_RESPONSIBLE_OR_CREATOR: &str = "(t.creator_id = $3 OR EXISTS (SELECT 1 FROM task_roles r
     WHERE r.account_id = t.account_id AND r.task_id = t.task_id AND r.person_id = $3
       AND r.role = 'responsible'))";

impl SqlPermissions {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Whether `SELECT 1 FROM {from} WHERE {condition}` finds a row, with `$1` the
    /// viewer's account, `$2` the target and `$3` the viewer.
    async fn exists(
        &self,
        viewer: &Viewer,
        target: &str,
        from: &str,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!("SELECT 1 AS found FROM {from} WHERE {condition}");
        let row = sqlx::query(&sql)
            .bind(viewer.account.to_string())
            .bind(target)
            .bind(viewer.person.to_string())
            .fetch_optional(&self.db.any)
            .await?;
        Ok(row.is_some())
    }

    async fn task_matches(
        &self,
        viewer: &Viewer,
        task: TaskId,
        condition: &str,
    ) -> Result<bool, StoreError> {
        let condition = format!("t.account_id = $1 AND t.task_id = $2 AND {condition}");
        self.exists(viewer, &task.to_string(), "tasks t", &condition)
            .await
    }

    pub async fn may_see_task(&self, viewer: &Viewer, task: TaskId) -> Result<bool, StoreError> {
        self.task_matches(viewer, task, &task_visible(viewer)).await
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

    pub async fn may_see_group(
        &self,
        viewer: &Viewer,
        group: WorkgroupId,
    ) -> Result<bool, StoreError> {
        let condition = format!(
            "w.account_id = $1 AND w.workgroup_id = $2 AND {}",
            group_visible(viewer, "$3")
        );
        self.exists(viewer, &group.to_string(), "workgroups w", &condition)
            .await
    }

    pub async fn may_see_person(
        &self,
        viewer: &Viewer,
        person: PersonId,
    ) -> Result<bool, StoreError> {
        if viewer.person == person {
            return Ok(true);
        }
        let condition = match viewer.kind {
            _ if viewer.administrator => "1 = 1".to_string(),
            PersonKind::Employee => format!(
                "(p.kind = 'employee' OR {} OR {})",
                share_group(false),
                share_task()
            ),
            PersonKind::Extranet => format!("({} OR {})", share_group(true), share_task()),
            PersonKind::Guest => share_task(),
        };
        let condition = format!("p.account_id = $1 AND p.person_id = $2 AND {condition}");
        self.exists(viewer, &person.to_string(), "people p", &condition)
            .await
    }

    /// Direct messages: employees with each other; an extranet user with those who
    /// share an extranet group with them; guests with nobody. Only with people who
    /// are active.
    pub async fn may_message(&self, viewer: &Viewer, person: PersonId) -> Result<bool, StoreError> {
        if viewer.person == person || viewer.kind == PersonKind::Guest {
            return Ok(false);
        }
        let condition = if viewer.is_employee() {
            format!(
                "(p.kind = 'employee' OR (p.kind = 'extranet' AND {}))",
                share_group(true)
            )
        } else {
            format!("p.kind <> 'guest' AND {}", share_group(true))
        };
        let condition = format!(
            "p.account_id = $1 AND p.person_id = $2 AND p.status = 'active' AND {condition}"
        );
        self.exists(viewer, &person.to_string(), "people p", &condition)
            .await
    }
}
