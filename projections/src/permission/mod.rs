//! The permission engine: the one place that answers "may this person see or do
//! that". The gateway asks it for every field and mutation and holds no rule of its
//! own. Answers come from the read models.
//!
//! The rules are stated in docs/domain.md, "Permissions"; in short, each with the
//! rules it comes from:
//! - administrators: everything in their account (Permissions 3);
//! - employees: every employee, the company's groups, the extranet groups they belong
//!   to, the tasks they hold a role in or that belong to a group they can see, and the
//!   people they share a group or a task with (Permissions 4, 5, 6);
//! - extranet users: themselves, the extranet groups they belong to with their members
//!   and tasks, the tasks they hold a role in and the people of those tasks; not the
//!   company's structure, other people or other groups (Permissions 4, 5, 6, 10);
//! - guests: themselves, the tasks they hold a role in and the people of those tasks
//!   (Permissions 4, 6; Tasks and guests 6);
//! - direct messages: employees with each other; an extranet user only with people
//!   who share an extranet group with them; guests with nobody (Permissions 9);
//! - dismissed or suspended people are no viewers at all (Permissions 2,
//!   `Viewer::from_record`).
//!
//! Nothing ever crosses accounts (Permissions 1): every query is bound to the viewer's
//! account. Each question is one SQL query over the read models, built from the
//! fragments below; `$1` is the account, `$2` the thing asked about, `$3` the viewer.

mod index;
pub(crate) mod sql;
mod unavailable;

pub use index::{Explanation, Index};
pub use sql::SqlPermissions;
pub use unavailable::Unavailable;

use crate::applied::Events;
use crate::directory::PersonRecord;
use crate::freshness::Freshness;
use crate::health::{EventRef, Health, HealthWatch, ProjectionError, Vitals};
use crate::projector::ProjectorHandle;
use crate::{Database, EventLog, LogPosition, StoreError, StoredEvent};
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

/// The permission engine. Answers from the in-memory [`Index`], which follows the read
/// models on its own ([`Permissions::follow`]); before answering, a check brings it the
/// last few events it lacks, so a change that a command has returned from (a
/// dismissal, a removal) is in force for the very next check. It answers nothing
/// ([`Unavailable`]) while the read models are stalled or behind the log, while the
/// index is more than [`FAR_BEHIND`] events behind them (a check would wait seconds
/// for it), or while the index cannot apply an event: the index is then a follower
/// stalled like any other (`permission_index` at `/readyz` and `/metrics`).
#[derive(Clone)]
pub struct Permissions {
    index: Arc<RwLock<Index>>,
    catching_up: Arc<Mutex<()>>,
    read_models: ProjectorHandle,
    freshness: Freshness,
    /// The newest change answered as not yet in force: until the read models pass
    /// it, they are known to be behind, whatever the monitor last measured.
    not_in_force: Arc<std::sync::Mutex<LogPosition>>,
    vitals: Arc<Vitals>,
    log: EventLog,
    /// [`FAR_BEHIND`], unless a test asks for less.
    far_behind: i64,
}

const BATCH: i64 = 1000;

/// How far behind the read models a check still brings the index itself: ten reads of
/// the log, some milliseconds. Farther (the read models moved on while another process
/// applied the log, or after a long catch-up) a check refuses at once and
/// [`Permissions::follow`] closes the gap.
pub const FAR_BEHIND: i64 = 10 * BATCH;

/// The index's name as a follower, at `/readyz` and `/metrics`.
const INDEX: &str = "permission_index";

/// Applies one event to the index. The fail point `permission_index.apply` makes an
/// apply fail, as a bug in the index's rules would (`tests/tests/fail_closed.rs`):
/// `return(TaskCreated)` for events of that type, `return` for every event.
fn apply(index: &mut Index, event: &StoredEvent) -> Result<(), StoreError> {
    if let Some(only) = fail::eval("permission_index.apply", |arg| arg) {
        if only.is_none_or(|event_type| event_type == event.event_type) {
            return Err(StoreError::UnknownValue {
                what: "permission index event (fail point permission_index.apply)",
                value: event.event_type.clone(),
            });
        }
    }
    index.apply(event)
}

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
            freshness: Freshness::default(),
            not_in_force: Arc::default(),
            vitals: Vitals::new(INDEX),
            log: EventLog::new(db),
            far_behind: FAR_BEHIND,
        })
    }

    /// The same engine, refusing checks while the index is more than `events` behind
    /// the read models (a test's few events stand for [`FAR_BEHIND`]).
    pub fn refusing_beyond(mut self, events: i64) -> Self {
        self.far_behind = events;
        self
    }

    /// The same engine, refusing to answer whenever `freshness` says the read models
    /// are behind the log.
    pub fn watching(mut self, freshness: Freshness) -> Self {
        self.freshness = freshness;
        self
    }

    /// Records that a change ending at `at` was answered as not yet in force: no check
    /// is answered until the read models have passed it, so the change (a revocation)
    /// is in force by the time anything is allowed again.
    pub fn not_yet_in_force(&self, at: LogPosition) {
        let mut awaited = self
            .not_in_force
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *awaited = (*awaited).max(at);
    }

    /// The index as a follower of the log, for `/readyz` and `/metrics`.
    pub fn health_watch(&self) -> HealthWatch {
        self.vitals.watch()
    }

    /// Keeps the index level with the read models until `shutdown` fires: woken by
    /// each move of theirs, it applies what they applied, however far that is (a
    /// batch this process applied, else the log). A failure is retried, backing off;
    /// an index stall ends when an apply goes through.
    pub async fn follow(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut moved = self.read_models.subscribe();
        let mut failures = 0;
        tracing::info!(follower = INDEX, at = ?self.position(), "permission index following the read models");
        loop {
            let target = *moved.borrow_and_update();
            match self.apply_up_to(target).await {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures += 1;
                    // A stall is logged by the vitals; a database error only here.
                    if !matches!(error, StoreError::Unavailable(_)) {
                        tracing::warn!(%error, follower = INDEX, "cannot read the log; retrying");
                    }
                    if !crate::health::back_off(failures, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
            }
            tokio::select! {
                changed = moved.changed() => if changed.is_err() { break },
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
        tracing::info!(follower = INDEX, "permission index stopped");
    }

    /// Where the index is: the last event of the log it has applied.
    pub fn position(&self) -> LogPosition {
        self.index.read().map(|i| i.position).unwrap_or_default()
    }

    /// Why a check would be refused now, if it would.
    pub fn unavailable(&self) -> Option<Unavailable> {
        self.stale_source()
            .or_else(|| match self.vitals.watch().health() {
                Health::Running => None,
                Health::Stalled(_) => Some(Unavailable::IndexStalled),
            })
            .or_else(|| self.far_behind())
    }

    /// How many events the read models have applied and the index has not, by global
    /// position (no database asked: `/readyz` and `/metrics` report it as is).
    pub fn behind(&self) -> i64 {
        self.read_models
            .position()
            .position
            .saturating_sub(self.position().position)
            .max(0)
    }

    /// Whether the index is too far behind the read models for a check to close the
    /// gap itself.
    fn far_behind(&self) -> Option<Unavailable> {
        let events = self.behind();
        (events > self.far_behind).then_some(Unavailable::IndexBehind { events })
    }

    /// Whether the read models the index follows are known to be stale: for a reader
    /// of them that does not ask the index (a login checking a password).
    pub fn read_models_stale(&self) -> Option<Unavailable> {
        self.stale_source()
    }

    /// Whether the read models the index follows are known to be stale.
    fn stale_source(&self) -> Option<Unavailable> {
        if let Health::Stalled(_) = self.read_models.health() {
            return Some(Unavailable::ReadModelsStalled);
        }
        let measured = self.freshness.measured();
        let awaited = *self
            .not_in_force
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (measured.behind || self.read_models.position() < awaited)
            .then_some(Unavailable::ReadModelsBehind { lag: measured.lag })
    }

    /// Applies what the read models have applied and the index has not, for a check;
    /// refuses when what it would answer from is known to be stale, or when the gap
    /// is one for [`Permissions::follow`] to close.
    async fn bring_up_to_date(&self) -> Result<(), StoreError> {
        if let Some(stale) = self.stale_source().or_else(|| self.far_behind()) {
            return Err(stale.into());
        }
        self.apply_up_to(self.read_models.position()).await
    }

    /// Applies the events after the index's position up to `target`.
    async fn apply_up_to(&self, target: LogPosition) -> Result<(), StoreError> {
        if self.position() >= target {
            return Ok(());
        }
        let _one_at_a_time = self.catching_up.lock().await;
        while self.position() < target {
            let after = self.position();
            let failed = |event: Option<&StoredEvent>, cause: StoreError| ProjectionError {
                follower: INDEX,
                after,
                event: event.map(EventRef::of),
                cause,
            };
            // The read models' own batch when this process applied it, else the log.
            let events: Events = match self.read_models.applied_after(after) {
                Some(events) => events,
                None => match self.log.read(after, target, BATCH).await {
                    Ok(events) => events.into(),
                    // Reaching the database is not the index's fault: no stall, an error.
                    Err(cause) => return Err(cause),
                },
            };
            if events.is_empty() {
                break;
            }
            let mut index = self.index.write().map_err(|_| poisoned())?;
            for event in events.iter() {
                if let Err(cause) = apply(&mut index, event) {
                    self.vitals.failed(&failed(Some(event), cause));
                    return Err(Unavailable::IndexStalled.into());
                }
            }
        }
        self.vitals.succeeded();
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
    /// person, when they are employees (Permissions 7).
    pub async fn may_change_task(&self, viewer: &Viewer, task: TaskId) -> Result<bool, StoreError> {
        self.ask(|i| i.may_change_task(viewer, task)).await
    }

    /// Commenting: everyone who can see the task, guests included (Permissions 7).
    pub async fn may_comment_task(
        &self,
        viewer: &Viewer,
        task: TaskId,
    ) -> Result<bool, StoreError> {
        self.may_see_task(viewer, task).await
    }

    /// Inviting a guest into a task: the employees who may change it (Permissions 7;
    /// Invitations 2).
    pub async fn may_invite_guest_to_task(
        &self,
        viewer: &Viewer,
        task: TaskId,
    ) -> Result<bool, StoreError> {
        self.may_change_task(viewer, task).await
    }

    /// Creating a task: employees (Permissions 7).
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
    /// erasing, changing the plan or the invitation settings: administrators only
    /// (Permissions 3).
    pub fn may_administer(&self, viewer: &Viewer) -> bool {
        viewer.administrator
    }

    /// Inviting people into the company or a department: administrators, and every
    /// employee when the account allows everyone to invite (Invitations 2).
    pub fn may_invite_into_account(&self, viewer: &Viewer, settings: &InvitationSettings) -> bool {
        viewer.administrator || (viewer.is_employee() && settings.everyone_may_invite)
    }

    /// Inviting into a workgroup: administrators, and the members the group's invite
    /// policy allows (an extranet member too, when the group lets every member invite;
    /// Workgroups 6).
    pub async fn may_invite_into_group(
        &self,
        viewer: &Viewer,
        group: WorkgroupId,
    ) -> Result<bool, StoreError> {
        self.ask(|i| i.may_invite_into_group(viewer, group)).await
    }

    /// Renaming a group, changing its settings and members: administrators, and the
    /// group's owners and moderators (Workgroups 5).
    pub async fn may_manage_group(
        &self,
        viewer: &Viewer,
        group: WorkgroupId,
    ) -> Result<bool, StoreError> {
        self.ask(|i| i.may_manage_group(viewer, group)).await
    }

    /// Creating a workgroup: employees (Permissions 8).
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
    /// share an extranet group with them; guests with nobody (Permissions 9).
    pub async fn may_message(&self, viewer: &Viewer, person: PersonId) -> Result<bool, StoreError> {
        self.ask(|i| i.may_message(viewer, person)).await
    }
}
