//! Administering people: dismissal and reinstatement, suspension, moving between
//! kinds, access end dates and erasure. Only administrators may; a person the viewer
//! may not see is "not found".

use super::context::{parse_id, state, viewer};
use super::error::ApiError;
use super::refusal::{forbidden, refusal};
use super::types::{Person, UserError};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use domain::person::{Person as PersonAggregate, PersonCommand, SuspensionReason};
use domain::{AggregateKey, PersonId, Timestamp};
use projections::directory;

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

    /// Brings a dismissed person back as they were.
    async fn reinstate_person(
        &self,
        ctx: &Context<'_>,
        input: PersonInput,
    ) -> Result<PersonPayload, ApiError> {
        administer(ctx, &input.person_id, PersonCommand::Reinstate).await
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

/// Runs an administrator's command on a person of their account and answers with the
/// person as they are afterwards.
async fn administer(
    ctx: &Context<'_>,
    person_id: &ID,
    command: PersonCommand,
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
    if let Err(e) = state
        .execute::<PersonAggregate>(key, command, Some(viewer.person))
        .await
    {
        return Ok(PersonPayload::refused(refusal(e)?));
    }
    tracing::info!(account = %viewer.account, %person, by = %viewer.person, "person changed by an administrator");
    let record = directory::by_id(&state.db, viewer.account, person).await?;
    Ok(PersonPayload {
        person: record.map(Person::from),
        user_errors: Vec::new(),
    })
}
