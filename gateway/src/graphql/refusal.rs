//! How each domain refusal reads to a GraphQL client: one place maps every typed
//! domain error to a `UserError` with a stable code.

use super::error::ApiError;
use super::types::UserError;
use crate::usecase::{refusal_of, Failure};
use domain::account::AccountError;
use domain::invitation::InvitationError;
use domain::person::PersonError;
use domain::task::TaskError;
use domain::workgroup::WorkgroupError;
use domain::{EmailError, Field, TextError};
use projections::commands::CommandError;

pub trait Refusal: std::error::Error {
    fn user_error(&self) -> UserError;
}

impl Refusal for TaskError {
    fn user_error(&self) -> UserError {
        let (field, code): (&[&str], &str) = match self {
            TaskError::NotFound => (&["input", "taskId"], "NOT_FOUND"),
            TaskError::AlreadyExists => (&[], "CONFLICT"),
            TaskError::CreatorHasRole => (&["input", "email"], "CREATOR_HAS_ROLE"),
            TaskError::NotOnTask => (&["input", "personId"], "NOT_ON_TASK"),
        };
        UserError::new(field, self, code)
    }
}

impl Refusal for InvitationError {
    fn user_error(&self) -> UserError {
        let code = match self {
            InvitationError::AlreadyIssued => "CONFLICT",
            InvitationError::InvalidLink => "INVALID_LINK",
            InvitationError::Expired => "EXPIRED",
            InvitationError::AlreadyAccepted => "ALREADY_ACCEPTED",
            InvitationError::Declined => "DECLINED",
            InvitationError::Revoked => "REVOKED",
            InvitationError::Rejected => "REJECTED",
            InvitationError::NotYetExpired => "NOT_YET_EXPIRED",
            InvitationError::NotAwaitingApproval => "NOT_AWAITING_APPROVAL",
            InvitationError::GuestNeedsEmail | InvitationError::DirectNeedsEmail => {
                "EMAIL_REQUIRED"
            }
            InvitationError::GuestsOnlyInTasks => "GUESTS_ONLY_IN_TASKS",
            InvitationError::NameRequired => "NAME_REQUIRED",
            InvitationError::DirectOnlyForEmployees => "EMPLOYEES_ONLY",
        };
        UserError::new(&[], self, code)
    }
}

impl Refusal for AccountError {
    fn user_error(&self) -> UserError {
        let code = match self {
            AccountError::PlanLimitReached { .. } | AccountError::TooManyForPlan { .. } => {
                "PLAN_LIMIT_REACHED"
            }
            AccountError::NoExtranetOnPlan => "NO_EXTRANET_ON_PLAN",
            AccountError::TrialOver => "TRIAL_OVER",
            AccountError::NotFound => "NOT_FOUND",
            AccountError::AlreadyExists => "CONFLICT",
            AccountError::SamePlan(_) => "SAME_PLAN",
            AccountError::TrialOnlyAtStart => "TRIAL_ONLY_AT_START",
            AccountError::DomainOnBothLists(_) => "DOMAIN_ON_BOTH_LISTS",
            AccountError::DomainNotAllowed(_) => "DOMAIN_NOT_ALLOWED",
        };
        UserError::new(&[], self, code)
    }
}

impl Refusal for PersonError {
    fn user_error(&self) -> UserError {
        let code = match self {
            PersonError::NotFound => "NOT_FOUND",
            PersonError::AlreadyJoined => "CONFLICT",
            PersonError::AdministratorMustBeEmployee
            | PersonError::AdministratorCannotBeExternal => "ADMINISTRATOR",
            PersonError::AlreadyEmployee => "ALREADY_EMPLOYEE",
            PersonError::NotAnEmployee => "NOT_AN_EMPLOYEE",
            PersonError::Dismissed => "DISMISSED",
            PersonError::Erased => "ERASED",
            PersonError::NotDismissed => "NOT_DISMISSED",
            PersonError::EraseNeedsDismissal => "DISMISS_FIRST",
            PersonError::AlreadySuspended => "ALREADY_SUSPENDED",
            PersonError::NotSuspendedFor(_) => "NOT_SUSPENDED",
            PersonError::NotExternal => "NOT_EXTERNAL",
            PersonError::AccessNotExpired => "ACCESS_NOT_EXPIRED",
            PersonError::SameEmail => "SAME_EMAIL",
            PersonError::Suspended => "SUSPENDED",
            PersonError::ResetLinkInvalid => "INVALID_LINK",
            PersonError::ResetLinkExpired => "EXPIRED",
            PersonError::ResetLinkUsed => "ALREADY_USED",
        };
        UserError::new(&["input", "personId"], self, code)
    }
}

impl Refusal for WorkgroupError {
    fn user_error(&self) -> UserError {
        let (field, code): (&[&str], &str) = match self {
            WorkgroupError::NotFound => (&["input", "workgroupId"], "NOT_FOUND"),
            WorkgroupError::AlreadyExists => (&[], "CONFLICT"),
            WorkgroupError::NotAnExtranetGroup => (&["input", "personId"], "NOT_AN_EXTRANET_GROUP"),
            WorkgroupError::ExternalMembersInside { .. } => {
                (&["input", "extranet"], "EXTERNAL_MEMBERS_INSIDE")
            }
            WorkgroupError::GuestsOnlyInTasks => (&["input", "personId"], "GUESTS_ONLY_IN_TASKS"),
            WorkgroupError::AlreadyMember => (&["input", "personId"], "ALREADY_MEMBER"),
            WorkgroupError::NotMember => (&["input", "personId"], "NOT_MEMBER"),
            WorkgroupError::ExternalCannotOwn => (&["input", "role"], "EXTERNAL_CANNOT_OWN"),
            WorkgroupError::LastOwner => (&["input", "personId"], "LAST_OWNER"),
            WorkgroupError::NotYetExpired => (&[], "NOT_YET_EXPIRED"),
        };
        UserError::new(field, self, code)
    }
}

impl Refusal for EmailError {
    fn user_error(&self) -> UserError {
        UserError::new(&["input", "email"], self, "INVALID_EMAIL")
    }
}

/// Text refused by the rules of `domain::text`: the input field it came from, and a
/// code per kind of field.
impl Refusal for TextError {
    fn user_error(&self) -> UserError {
        let (field, code) = match self.field {
            Field::FirstName => ("firstName", "INVALID_NAME"),
            Field::LastName => ("lastName", "INVALID_NAME"),
            Field::AccountName | Field::WorkgroupName => ("name", "INVALID_NAME"),
            Field::Position => ("position", "INVALID_POSITION"),
            Field::TaskTitle => ("title", "INVALID_TITLE"),
            Field::TaskDescription => ("description", "INVALID_DESCRIPTION"),
            Field::Comment => ("text", "INVALID_COMMENT"),
        };
        UserError::new(&["input", field], self, code)
    }
}

/// A command's failure as the payload's user error, or as a GraphQL error when it is
/// nothing the user can fix.
pub fn refusal<E: Refusal>(error: CommandError<E>) -> Result<UserError, ApiError> {
    match refusal_of(error) {
        Ok(refused) => Ok(refused.user_error()),
        Err(failed) => failure(failed),
    }
}

/// What every use case can meet besides its refusals: a race is the user's to retry
/// (`CONFLICT`), the rest is a GraphQL error.
pub fn failure(failure: Failure) -> Result<UserError, ApiError> {
    match failure {
        Failure::Busy => Ok(UserError::new(&[], Failure::Busy, "CONFLICT")),
        Failure::Store(e) => Err(e.into()),
        Failure::EventStore(message) | Failure::Internal(message) => {
            tracing::error!(%message, "a use case failed");
            Err(ApiError::Internal)
        }
        Failure::NotYetShown(stall) => {
            // The stall itself is logged by the projector; this is the one request.
            tracing::warn!(%stall, "a change was recorded but cannot be shown");
            Err(ApiError::ReadModelsStalled)
        }
        Failure::NotYetInForce { waited } => {
            tracing::warn!(?waited, "a change was recorded but is not yet in force");
            Err(ApiError::NotYetInForce)
        }
    }
}

pub fn forbidden(message: &str) -> UserError {
    UserError::new(&[], message, "FORBIDDEN")
}

/// Too many attempts to get in; the message says how long to wait.
pub fn rate_limited(limited: crate::rate_limit::Limited) -> UserError {
    UserError::new(&[], limited.message(), "RATE_LIMITED")
}
