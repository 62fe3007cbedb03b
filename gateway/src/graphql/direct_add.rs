//! `addPersonDirectly`: an administrator adds an employee by email address, name and
//! position (see `direct_add`).

use super::context::{state, viewer};
use super::error::ApiError;
use super::global_id::parse_id;
use super::refusal::{failure, forbidden, Refusal};
use super::types::{Invitation, Person, UserError};
use crate::usecase::add_person::{add_directly, AddDirectly, AddError, Added};
use crate::usecase::invite_people::Destination;
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use domain::{Email, PersonName, Position};
use projections::{directory, invitations};

#[derive(Default)]
pub struct DirectAddMutation;

/// An employee to add directly.
#[derive(InputObject)]
pub struct AddPersonDirectlyInput {
    /// Their address: it becomes their login, and where they are emailed.
    pub email: String,
    /// Given name. One line of 1 to 100 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub first_name: String,
    /// Family name, under the same rules as the first.
    pub last_name: String,
    /// Their position in the company, such as "Buyer". One line of 1 to 100 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub position: String,
    /// False (the default): they are in at once, and are emailed a generated password
    /// and where to log in. True: they are emailed a link where they choose their own
    /// password, and are listed as invited until they do.
    #[graphql(default)]
    pub confirm: bool,
    /// A workgroup they become a member of, besides the company.
    pub workgroup_id: Option<ID>,
}

/// The outcome of adding a person directly.
#[derive(SimpleObject)]
pub struct AddPersonDirectlyPayload {
    /// The new employee, when they are in at once; null when they confirm first or
    /// when refused.
    pub person: Option<Person>,
    /// The invitation behind the addition: accepted when they are in at once, pending
    /// while they are to confirm; null when refused.
    pub invitation: Option<Invitation>,
    /// Why nobody was added: `FORBIDDEN`, `INVALID_EMAIL`, `INVALID_NAME`,
    /// `INVALID_POSITION`, `DOMAIN_NOT_ALLOWED`, `EMAIL_TAKEN`, `PLAN_LIMIT_REACHED`,
    /// `TRIAL_OVER`, `CONFLICT`; empty on success.
    pub user_errors: Vec<UserError>,
}

impl AddPersonDirectlyPayload {
    fn refused(error: UserError) -> Self {
        Self {
            person: None,
            invitation: None,
            user_errors: vec![error],
        }
    }
}

#[Object]
impl DirectAddMutation {
    /// Adds an employee without an invitation to accept first: without confirmation
    /// they can log in at once with the password they are emailed, which is stored
    /// nowhere (only its hash); with confirmation they get a link to choose their own.
    /// Either way they take a place under the plan's limit. Administrators only.
    async fn add_person_directly(
        &self,
        ctx: &Context<'_>,
        input: AddPersonDirectlyInput,
    ) -> Result<AddPersonDirectlyPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let refused = AddPersonDirectlyPayload::refused;
        if !state.permissions.may_administer(viewer) {
            return Ok(refused(forbidden(
                "only administrators add people directly; ask one, or invite them",
            )));
        }
        let email = match Email::parse(&input.email) {
            Ok(email) => email,
            Err(e) => return Ok(refused(e.user_error())),
        };
        let name = match PersonName::parse(&input.first_name, &input.last_name) {
            Ok(name) => name,
            Err(e) => return Ok(refused(e.user_error())),
        };
        let position = match Position::parse(&input.position) {
            Ok(position) => position,
            Err(e) => return Ok(refused(e.user_error())),
        };
        let destination = match &input.workgroup_id {
            Some(id) => Destination::Workgroup(parse_id(id)?),
            None => Destination::Company { department: None },
        };
        let request = AddDirectly {
            email,
            name,
            position,
            confirm: input.confirm,
            destination,
        };
        let (invitation, person) = match add_directly(state, viewer, request).await {
            Ok(Added::Joined { invitation, person }) => (invitation, Some(person)),
            Ok(Added::Invited { invitation, .. }) => (invitation, None),
            Err(AddError::Forbidden) => {
                return Ok(refused(forbidden(
                    "only administrators add people directly; ask one, or invite them",
                )))
            }
            Err(AddError::GroupNotFound) => return Err(ApiError::NotFound),
            Err(AddError::Refused { code, message }) => {
                let field: &[&str] = match code {
                    "EMAIL_TAKEN" | "DOMAIN_NOT_ALLOWED" => &["input", "email"],
                    _ => &[],
                };
                return Ok(refused(UserError::new(field, message, code)));
            }
            Err(e @ AddError::Busy) => return Ok(refused(UserError::new(&[], e, "CONFLICT"))),
            Err(AddError::Store(e)) => return Err(e.into()),
            Err(AddError::Failed(e)) => return Ok(refused(failure(e)?)),
            Err(AddError::Internal(error)) => {
                tracing::error!(%error, "adding a person directly failed");
                return Err(ApiError::Internal);
            }
        };
        let person = match person {
            Some(person) => directory::by_id(&state.db, viewer.account, person)
                .await?
                .map(Person::from),
            None => None,
        };
        let invitation = invitations::get(&state.db.any, viewer.account, invitation)
            .await?
            .map(Invitation::from);
        Ok(AddPersonDirectlyPayload {
            person,
            invitation,
            user_errors: Vec::new(),
        })
    }
}
