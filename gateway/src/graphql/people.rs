//! Administering people: dismissal and reinstatement, suspension, moving between
//! kinds, access end dates and erasure. Only administrators may; a person the viewer
//! may not see is "not found".

use super::context::{auth, follower_caught_up, state, viewer};
use super::error::ApiError;
use super::global_id::{id_of, parse_id, GlobalId, Kind};
use super::page;
use super::refusal::{failure, forbidden, refusal, Refusal};
use super::types::{time, Person, PersonStatus, UserError};
use crate::state::AppState;
use crate::usecase::change_email::{change_email, ChangeEmail, ChangeEmailError};
use crate::usecase::change_password::{change_password, ChangePassword, ChangePasswordError};
use crate::usecase::command;
use crate::usecase::reinstate_person::{reinstate_person, ReinstateError};
use async_graphql::connection::Connection;
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::person::{Person as PersonAggregate, PersonCommand, SuspensionReason};
use domain::{AccountId, AggregateKey, Email, PersonId, PersonName, Timestamp};
use projections::permission::{Explanation, Viewer};
use projections::{directory, history, StoredEvent};
use uuid::Uuid;

#[derive(Default)]
pub struct PeopleMutation;

/// Names one person of the viewer's account.
#[derive(InputObject)]
pub struct PersonInput {
    /// The person.
    pub person_id: ID,
}

/// When an external person's access ends.
#[derive(InputObject)]
pub struct SetAccessExpiryInput {
    /// The extranet user or guest.
    pub person_id: ID,
    /// When their access ends; null removes the end date. A date that has passed
    /// suspends them at the next check; a later date lets someone it suspended back.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The viewer's own name.
#[derive(InputObject)]
pub struct UpdateMyProfileInput {
    /// Given name. One line of 1 to 100 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub first_name: String,
    /// Family name, under the same rules as the first.
    pub last_name: String,
}

/// A new password for the viewer.
#[derive(InputObject)]
pub struct ChangeMyPasswordInput {
    /// The password they log in with now.
    pub current_password: String,
    /// The new one: at least 10 characters.
    pub new_password: String,
}

/// A new login address for the viewer.
#[derive(InputObject)]
pub struct ChangeMyEmailInput {
    /// The new address; it must not belong to anyone else in the account.
    pub email: String,
    /// Their password, to show it is them.
    pub current_password: String,
}

/// The outcome of a change to a person.
#[derive(SimpleObject)]
pub struct PersonPayload {
    /// The person as they are now; null when refused.
    pub person: Option<Person>,
    /// Why the change was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

impl PersonPayload {
    fn refused(error: UserError) -> Self {
        Self {
            person: None,
            user_errors: vec![error],
        }
    }
}

#[Object]
impl PeopleMutation {
    /// Changes the viewer's own name.
    async fn update_my_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateMyProfileInput,
    ) -> Result<PersonPayload, ApiError> {
        let name = match PersonName::parse(&input.first_name, &input.last_name) {
            Ok(name) => name,
            Err(e) => return Ok(PersonPayload::refused(e.user_error())),
        };
        change_self(ctx, PersonCommand::ChangeProfile { name }).await
    }

    /// Changes the viewer's password; every other session of theirs ends.
    async fn change_my_password(
        &self,
        ctx: &Context<'_>,
        input: ChangeMyPasswordInput,
    ) -> Result<PersonPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let request = ChangePassword {
            current_password: input.current_password,
            new_password: input.new_password,
            session_token: auth(ctx).token.clone(),
        };
        match change_password(state, viewer, request).await {
            Ok(()) => answer(state, viewer.account, viewer.person).await,
            Err(e @ ChangePasswordError::WrongPassword) => Ok(wrong_password(e)),
            Err(ChangePasswordError::InvalidPassword(e)) => Ok(PersonPayload::refused(
                UserError::new(&["input", "newPassword"], e, "INVALID_PASSWORD"),
            )),
            Err(ChangePasswordError::Refused(e)) => Ok(PersonPayload::refused(e.user_error())),
            Err(ChangePasswordError::Failed(e)) => Ok(PersonPayload::refused(failure(e)?)),
        }
    }

    /// Changes the address the viewer logs in with and is emailed at.
    async fn change_my_email(
        &self,
        ctx: &Context<'_>,
        input: ChangeMyEmailInput,
    ) -> Result<PersonPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let email = match Email::parse(&input.email) {
            Ok(email) => email,
            Err(e) => return Ok(PersonPayload::refused(e.user_error())),
        };
        let request = ChangeEmail {
            email,
            current_password: input.current_password,
        };
        match change_email(state, viewer, request).await {
            Ok(()) => answer(state, viewer.account, viewer.person).await,
            Err(e @ ChangeEmailError::WrongPassword) => Ok(wrong_password(e)),
            Err(e @ ChangeEmailError::EmailTaken(_)) => Ok(PersonPayload::refused(UserError::new(
                &["input", "email"],
                e,
                "EMAIL_TAKEN",
            ))),
            Err(ChangeEmailError::Refused(e)) => Ok(PersonPayload::refused(e.user_error())),
            Err(ChangeEmailError::Failed(e)) => Ok(PersonPayload::refused(failure(e)?)),
        }
    }

    /// Dismisses a person: their sessions end at once, they can no longer log in,
    /// their email address and their place under the plan's limit are freed. Their
    /// history stays; `reinstatePerson` brings them back.
    async fn dismiss_person(
        &self,
        ctx: &Context<'_>,
        input: PersonInput,
    ) -> Result<PersonPayload, ApiError> {
        administer(ctx, &input.person_id, PersonCommand::Dismiss).await
    }

    /// Brings a dismissed person back as they were. Their email address and a place
    /// under the plan's limit are taken back first; if someone else has the address
    /// now, or the plan is full, they stay dismissed and the refusal says why.
    async fn reinstate_person(
        &self,
        ctx: &Context<'_>,
        input: PersonInput,
    ) -> Result<PersonPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let person: PersonId = parse_id(&input.person_id)?;
        let refused = |e: UserError| Ok(PersonPayload::refused(e));
        match reinstate_person(state, viewer, person).await {
            Ok(()) => answer(state, viewer.account, person).await,
            Err(ReinstateError::NotFound) => Err(ApiError::NotFound),
            Err(e @ ReinstateError::Forbidden) => refused(forbidden(&e.to_string())),
            Err(e @ ReinstateError::OwnPerson) => {
                refused(UserError::new(&["input", "personId"], e, "SELF"))
            }
            Err(e @ ReinstateError::EmailTaken(_)) => {
                refused(UserError::new(&["input", "personId"], e, "EMAIL_TAKEN"))
            }
            Err(e @ ReinstateError::DismissalInProgress) => {
                refused(UserError::new(&[], e, "DISMISSAL_IN_PROGRESS"))
            }
            Err(ReinstateError::Seat(e)) => refused(e.user_error()),
            Err(ReinstateError::Person(e)) => refused(e.user_error()),
            Err(ReinstateError::Failed(e)) => refused(failure(e)?),
        }
    }

    /// Locks a person out until `liftSuspension`; their sessions end at once.
    async fn suspend_person(
        &self,
        ctx: &Context<'_>,
        input: PersonInput,
    ) -> Result<PersonPayload, ApiError> {
        administer(
            ctx,
            &input.person_id,
            PersonCommand::Suspend {
                reason: SuspensionReason::Administrative,
            },
        )
        .await
    }

    /// Lets a person an administrator suspended back in. Suspensions for an ended
    /// trial or access end date are lifted by a paid plan or a later end date.
    async fn lift_suspension(
        &self,
        ctx: &Context<'_>,
        input: PersonInput,
    ) -> Result<PersonPayload, ApiError> {
        administer(
            ctx,
            &input.person_id,
            PersonCommand::LiftSuspension {
                reason: SuspensionReason::Administrative,
            },
        )
        .await
    }

    /// Makes an extranet user or guest an employee, keeping their id, tasks and groups.
    async fn transfer_to_employee(
        &self,
        ctx: &Context<'_>,
        input: PersonInput,
    ) -> Result<PersonPayload, ApiError> {
        administer(ctx, &input.person_id, PersonCommand::TransferToEmployee).await
    }

    /// Makes an employee an extranet user, keeping their id; they leave the groups
    /// that do not allow external users.
    async fn convert_to_extranet(
        &self,
        ctx: &Context<'_>,
        input: PersonInput,
    ) -> Result<PersonPayload, ApiError> {
        administer(ctx, &input.person_id, PersonCommand::ConvertToExtranet).await
    }

    /// Sets, moves or removes when an external person's access ends.
    async fn set_access_expiry(
        &self,
        ctx: &Context<'_>,
        input: SetAccessExpiryInput,
    ) -> Result<PersonPayload, ApiError> {
        let expires_at = input.expires_at.map(|t| Timestamp(t.timestamp_millis()));
        administer(
            ctx,
            &input.person_id,
            PersonCommand::SetAccessExpiry { expires_at },
        )
        .await
    }

    /// Erases a dismissed person's personal data for good: names and addresses in the
    /// log become unreadable, and every copy is deleted. Their history stays, nameless.
    async fn erase_personal_data(
        &self,
        ctx: &Context<'_>,
        input: PersonInput,
    ) -> Result<PersonPayload, ApiError> {
        administer(ctx, &input.person_id, PersonCommand::ErasePersonalData).await
    }
}

/// Runs the viewer's command on themselves.
async fn change_self(ctx: &Context<'_>, change: PersonCommand) -> Result<PersonPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    let key = AggregateKey::new(viewer.account, viewer.person.0);
    if let Err(e) = command::run::<PersonAggregate>(state, key, change, Some(viewer.person)).await {
        return Ok(PersonPayload::refused(refusal(e)?));
    }
    answer(state, viewer.account, viewer.person).await
}

/// The refusal of a change to one's own login for a wrong current password.
fn wrong_password(error: impl std::fmt::Display) -> PersonPayload {
    PersonPayload::refused(UserError::new(
        &["input", "currentPassword"],
        error,
        "INVALID_CREDENTIALS",
    ))
}

/// The person as they are after a successful change.
async fn answer(
    state: &AppState,
    account: AccountId,
    person: PersonId,
) -> Result<PersonPayload, ApiError> {
    let record = directory::by_id(&state.db, account, person).await?;
    Ok(PersonPayload {
        person: record.map(Person::from),
        user_errors: Vec::new(),
    })
}

/// Runs an administrator's command on a person of their account and answers with the
/// person as they are afterwards.
async fn administer(
    ctx: &Context<'_>,
    person_id: &ID,
    change: PersonCommand,
) -> Result<PersonPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    let person: PersonId = parse_id(person_id)?;
    if !state.permissions.may_see_person(viewer, person).await? {
        return Err(ApiError::NotFound);
    }
    if !state.permissions.may_administer(viewer) {
        return Ok(PersonPayload::refused(forbidden(
            "only an administrator of the account can do this",
        )));
    }
    if person == viewer.person {
        return Ok(PersonPayload::refused(UserError::new(
            &["input", "personId"],
            "administrators cannot do this to themselves; ask another administrator",
            "SELF",
        )));
    }
    let key = AggregateKey::new(viewer.account, person.0);
    if let Err(e) = command::run::<PersonAggregate>(state, key, change, Some(viewer.person)).await {
        return Ok(PersonPayload::refused(refusal(e)?));
    }
    tracing::info!(account = %viewer.account, %person, by = %viewer.person, "person changed by an administrator");
    answer(state, viewer.account, person).await
}

#[derive(Default)]
pub struct PeopleQuery;

/// Why a person may or may not see something: the facts that grant it (membership,
/// role, the group's external-access flag, a shared group or task), or the rule that
/// refuses it.
#[derive(SimpleObject)]
pub struct AccessExplanation {
    /// Whether they may see it.
    pub allowed: bool,
    /// The chain of facts that grants it, or the one rule that refuses it, in words
    /// addressed to the person asked about ("you ...").
    pub because: Vec<String>,
}

impl From<Explanation> for AccessExplanation {
    fn from(e: Explanation) -> Self {
        Self {
            allowed: e.allowed,
            because: e.because,
        }
    }
}

/// One event in a person's history.
#[derive(SimpleObject)]
pub struct HistoryEntry {
    /// When it happened.
    pub at: Option<DateTime<Utc>>,
    /// What happened: the event's name, e.g. `PersonDismissed`, `MemberAdded`.
    pub event: String,
    /// What kind of thing it happened to: person, task, workgroup, invitation, account.
    pub about: String,
    /// The id of the thing it happened to.
    pub about_id: ID,
    /// Who made it happen; null for the system (expiry, the trial's end).
    pub actor_id: Option<ID>,
    /// Whether the person was what the event is about (true) or only who caused it.
    pub subject: bool,
    /// The person id they had then: an earlier one before a re-invitation.
    pub as_person_id: ID,
}

/// What to explain: exactly one of the three.
#[derive(InputObject)]
pub struct AccessQuestion {
    /// Whose access: the viewer when null. Only administrators may ask about others.
    pub person_id: Option<ID>,
    /// A task.
    pub task_id: Option<ID>,
    /// A workgroup.
    pub workgroup_id: Option<ID>,
    /// Another person.
    pub other_person_id: Option<ID>,
}

#[Object]
impl PeopleQuery {
    /// The people the viewer may see, in the order they joined: employees see every
    /// employee and the external people they share a group or task with; extranet
    /// users see the members of their groups and the people of their tasks; guests
    /// see the people of their tasks.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn people(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, from 1 to 100; 20 if not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, Person>, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let first = page::size(first)?;
        let from = page::after::<PersonId>(after.as_deref())?;
        // A guest or an extranet user sees a few people of a possibly huge account:
        // read only the ones the engine could allow, not every row up to a page.
        let candidates = state.permissions.person_candidates(viewer).await?;
        let candidates = &candidates;
        let rows = page::visible(
            first,
            from,
            |after, n| {
                Box::pin(async move {
                    Ok(directory::page_of(&state.db, viewer.account, candidates, after, n).await?)
                })
            },
            |p: &directory::PersonRecord| {
                let person = p.id;
                Box::pin(async move { Ok(state.permissions.may_see_person(viewer, person).await?) })
            },
            |p| (p.joined_at, p.id),
        )
        .await?;
        Ok(page::connection(
            rows,
            first,
            after.is_some(),
            |p| page::cursor(p.joined_at, p.id),
            Person::from,
        ))
    }

    /// Whether the viewer may send `personId` a direct message: employees with each
    /// other; an extranet user and an employee only when both belong to one extranet
    /// group; guests with nobody.
    async fn can_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The person to message.")] person_id: ID,
    ) -> Result<bool, ApiError> {
        let viewer = viewer(ctx)?;
        let permissions = &state(ctx).permissions;
        let person: PersonId = parse_id(&person_id)?;
        if !permissions.may_see_person(viewer, person).await? {
            return Err(ApiError::NotFound);
        }
        Ok(permissions.may_message(viewer, person).await?)
    }

    /// Why someone may or may not see a task, a workgroup or a person. About
    /// themselves anyone may ask; about others only administrators.
    async fn explain_access(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who, and about what.")] question: AccessQuestion,
    ) -> Result<AccessExplanation, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let asked_about = match &question.person_id {
            None => viewer.clone(),
            Some(id) => {
                let person: PersonId = parse_id(id)?;
                if person != viewer.person && !state.permissions.may_administer(viewer) {
                    return Err(ApiError::Forbidden(
                        "only administrators may ask about someone else's access",
                    ));
                }
                let record = directory::by_id(&state.db, viewer.account, person)
                    .await?
                    .ok_or(ApiError::NotFound)?;
                Viewer::from_record(&record).ok_or_else(|| {
                    ApiError::BadInput("this person cannot log in, so sees nothing".into())
                })?
            }
        };
        let permissions = &state.permissions;
        let explanation = match (
            &question.task_id,
            &question.workgroup_id,
            &question.other_person_id,
        ) {
            (Some(task), None, None) => {
                permissions
                    .explain_see_task(&asked_about, parse_id(task)?)
                    .await?
            }
            (None, Some(group), None) => {
                permissions
                    .explain_see_group(&asked_about, parse_id(group)?)
                    .await?
            }
            (None, None, Some(person)) => {
                permissions
                    .explain_see_person(&asked_about, parse_id(person)?)
                    .await?
            }
            _ => {
                return Err(ApiError::BadInput(
                    "give exactly one of taskId, workgroupId and otherPersonId".into(),
                ))
            }
        };
        // "Why not" is for administrators; anyone else learns of something they may
        // not see exactly what "not found" tells.
        if !explanation.allowed && !state.permissions.may_administer(viewer) {
            return Err(ApiError::NotFound);
        }
        Ok(explanation.into())
    }

    /// Everything that concerned a person, oldest first, across re-invitations, for
    /// audit. Administrators only.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn person_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The person.")] person_id: ID,
        #[graphql(desc = "How many, from 1 to 100; 20 if not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, HistoryEntry>, ApiError> {
        let (viewer, person) = audited(ctx, &person_id).await?;
        let state = state(ctx);
        let first = page::size(first)?;
        let from = page::after::<i64>(after.as_deref())?;
        let entries = history::history_of(&state.db, viewer.account, person).await?;
        let rows = entries
            .into_iter()
            .filter(|e| {
                from.is_none_or(|(tx, position)| {
                    (e.event.position.tx, e.event.position.position) > (tx, position)
                })
            })
            .take(first + 1)
            .map(|e| {
                let position = e.event.position;
                let entry = HistoryEntry {
                    at: time(e.event.metadata.at.0),
                    about_id: about_id(&e.event)?,
                    about: e.event.aggregate_type,
                    event: e.event.event_type,
                    actor_id: e.event.metadata.actor.map(id_of),
                    subject: e.subject,
                    as_person_id: id_of(e.as_person),
                };
                Ok((position, entry))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(page::connection(
            rows,
            first,
            after.is_some(),
            |(position, _)| page::cursor(position.tx, position.position),
            |(_, entry)| entry,
        ))
    }

    /// Where a person stood at a past moment, folded from their own history.
    /// Administrators only.
    async fn person_status_at(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The person.")] person_id: ID,
        #[graphql(desc = "The moment.")] at: DateTime<Utc>,
    ) -> Result<Option<PersonStatus>, ApiError> {
        let (viewer, person) = audited(ctx, &person_id).await?;
        let status = history::status_at(
            &state(ctx).db,
            viewer.account,
            person,
            Timestamp(at.timestamp_millis()),
        )
        .await?;
        Ok(PersonStatus::at(status))
    }
}

/// The API's id of what a history event happened to. Every aggregate is keyed by a
/// UUID and has a kind, so failing here is a bug, not a client's mistake.
fn about_id(event: &StoredEvent) -> Result<ID, ApiError> {
    let kind = Kind::of_aggregate(&event.aggregate_type);
    match (kind, event.entity_id().parse::<Uuid>()) {
        (Some(kind), Ok(uuid)) => Ok(GlobalId::encode(kind, uuid)),
        _ => {
            tracing::error!(
                aggregate_type = %event.aggregate_type,
                aggregate_id = %event.aggregate_id,
                "a history event about something the API has no id for"
            );
            Err(ApiError::Internal)
        }
    }
}

/// The person an administrator asks an audit question about.
async fn audited<'a>(
    ctx: &Context<'a>,
    person_id: &ID,
) -> Result<(&'a Viewer, PersonId), ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    let person: PersonId = parse_id(person_id)?;
    if !state.permissions.may_see_person(viewer, person).await? {
        return Err(ApiError::NotFound);
    }
    if !state.permissions.may_administer(viewer) {
        return Err(ApiError::Forbidden(
            "only administrators may read a person's history",
        ));
    }
    // History follows the read models a moment behind; an audit read right after a
    // change must show it.
    follower_caught_up(ctx, "history").await?;
    Ok((viewer, person))
}
