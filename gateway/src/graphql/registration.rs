//! The account's registration link and the approval of the registrations made through
//! it, for administrators. Registrations waiting for approval are in the invited list
//! (`invitations`, status `AWAITING_APPROVAL`).
//!
//! The link itself is served by `pages::registration`; approving joins the person the
//! same way accepting an invitation does (`joining`).

use super::context::{site, state, viewer};
use super::error::ApiError;
use super::global_id::{id_of, parse_id};
use super::refusal::{failure, forbidden, refusal, Refusal};
use super::types::{Person, UserError};
use crate::state::AppState;
use crate::usecase::command;
use crate::usecase::decide_registration::{
    decide_registration, DecideRegistration, DecideRegistrationError, Decision,
};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use domain::account::{Account, AccountCommand};
use domain::invitation::{InvitationError, InvitationState, Link};
use domain::{AccountId, AggregateKey, DomainPattern, InvitationId};
use projections::accounts::{self, AccountRecord};
use projections::directory;
use projections::invitations::{self, InvitationRecord};
use projections::permission::Viewer;

#[derive(Default)]
pub struct RegistrationMutation;

/// The account's registration link, and how people who use it are let in.
#[derive(SimpleObject, Clone, Debug)]
pub struct RegistrationLink {
    /// The link to share. Anyone who has it can register while it is enabled;
    /// `rotateRegistrationLink` replaces it, and the old one stops working.
    pub url: String,
    /// Whether the link takes registrations.
    pub enabled: bool,
    /// Whether people who register wait for an administrator's approval.
    pub approval_required: bool,
    /// Email domains whose people are let in without approval, e.g. `partner.com` or
    /// `*.partner.com`.
    pub approval_free_domains: Vec<String>,
}

/// How registration through the link works.
#[derive(InputObject)]
pub struct ConfigureRegistrationLinkInput {
    /// Turns registration through the link on or off.
    pub enabled: bool,
    /// Whether people who register wait for an administrator's approval.
    pub approval_required: bool,
    /// Email domains whose people skip approval (`partner.com`, `*.partner.com`);
    /// left out, the current list stays.
    pub approval_free_domains: Option<Vec<String>>,
}

/// The registration link after a change.
#[derive(SimpleObject)]
pub struct RegistrationLinkPayload {
    /// The link as it is now; null when refused.
    pub link: Option<RegistrationLink>,
    /// Why the change was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

/// A registration to decide on.
#[derive(InputObject)]
pub struct RegistrationInput {
    /// The registration's id, as the invited list shows it.
    pub invitation_id: ID,
}

/// Where a registration stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RegistrationStatus {
    /// Waiting for an administrator.
    AwaitingApproval,
    /// Let in: the person has joined.
    Approved,
    /// Turned down: the person was not let in and their address is free again.
    Rejected,
}

/// Someone who registered through the account's link.
#[derive(SimpleObject, Clone, Debug)]
pub struct Registration {
    /// The registration's id (an invitation id).
    pub id: ID,
    /// The id the person has once let in.
    pub person_id: ID,
    /// The address they registered with; their login.
    pub email: String,
    /// Given name, as they typed it.
    pub first_name: String,
    /// Family name, as they typed it.
    pub last_name: String,
    /// Whether it waits, was approved or was rejected.
    pub status: RegistrationStatus,
}

impl Registration {
    fn from_record(record: InvitationRecord) -> Self {
        Self {
            id: id_of(record.id),
            person_id: id_of(record.person),
            email: record.address,
            first_name: record.first_name,
            last_name: record.last_name,
            status: match record.state {
                InvitationState::Accepted => RegistrationStatus::Approved,
                InvitationState::Rejected => RegistrationStatus::Rejected,
                _ => RegistrationStatus::AwaitingApproval,
            },
        }
    }
}

/// The outcome of approving or rejecting a registration.
#[derive(SimpleObject)]
pub struct RegistrationPayload {
    /// The registration as it stands now; null when refused.
    pub registration: Option<Registration>,
    /// The person let in by an approval; null otherwise.
    pub person: Option<Person>,
    /// Why the decision was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

fn link_of(
    ctx: &Context<'_>,
    account: AccountId,
    record: &AccountRecord,
) -> Result<RegistrationLink, ApiError> {
    let secret = state(ctx)
        .secrets
        .link_secret(Link::Registration(account), &record.registration_nonce);
    let url = format!(
        "{}/register/{account}?secret={secret}",
        site(ctx)?.public_url.trim_end_matches('/')
    );
    Ok(RegistrationLink {
        url,
        enabled: record.settings.registration_link,
        approval_required: record.settings.approval_required,
        approval_free_domains: record
            .settings
            .approval_free_domains
            .iter()
            .map(|d| d.as_str().to_string())
            .collect(),
    })
}

async fn account_of(state: &AppState, viewer: &Viewer) -> Result<AccountRecord, ApiError> {
    accounts::get(&state.db, viewer.account)
        .await?
        .ok_or(ApiError::NotFound)
}

const ADMINISTRATORS_ONLY: &str = "only administrators manage registration through the link";

#[derive(Default)]
pub struct RegistrationQuery;

#[Object]
impl RegistrationQuery {
    /// The account's registration link and how it lets people in. Administrators only.
    async fn registration_link(&self, ctx: &Context<'_>) -> Result<RegistrationLink, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        if !state.permissions.may_administer(viewer) {
            return Err(ApiError::Forbidden(ADMINISTRATORS_ONLY));
        }
        let record = account_of(state, viewer).await?;
        link_of(ctx, viewer.account, &record)
    }
}

#[Object]
impl RegistrationMutation {
    /// Turns registration through the account's link on or off, and sets who waits
    /// for approval. Administrators only.
    async fn configure_registration_link(
        &self,
        ctx: &Context<'_>,
        input: ConfigureRegistrationLinkInput,
    ) -> Result<RegistrationLinkPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let fail = |e: UserError| RegistrationLinkPayload {
            link: None,
            user_errors: vec![e],
        };
        if !viewer.administrator {
            return Ok(fail(forbidden(ADMINISTRATORS_ONLY)));
        }
        let record = account_of(state, viewer).await?;
        let mut settings = record.settings.clone();
        settings.registration_link = input.enabled;
        settings.approval_required = input.approval_required;
        if let Some(domains) = input.approval_free_domains {
            let mut parsed = Vec::with_capacity(domains.len());
            for domain in domains {
                match DomainPattern::parse(&domain) {
                    Ok(pattern) => parsed.push(pattern),
                    Err(e) => {
                        return Ok(fail(UserError::new(
                            &["input", "approvalFreeDomains"],
                            format!("{domain:?}: {e}"),
                            "INVALID_DOMAIN",
                        )))
                    }
                }
            }
            settings.approval_free_domains = parsed;
        }
        let change = AccountCommand::ChangeInvitationSettings { settings };
        let key = AggregateKey::account(viewer.account);
        if let Err(e) = command::run::<Account>(state, key, change, Some(viewer.person)).await {
            return Ok(fail(refusal(e)?));
        }
        let record = account_of(state, viewer).await?;
        Ok(RegistrationLinkPayload {
            link: Some(link_of(ctx, viewer.account, &record)?),
            user_errors: Vec::new(),
        })
    }

    /// Replaces the registration link with a new one: the old link stops working at
    /// once. Administrators only.
    async fn rotate_registration_link(
        &self,
        ctx: &Context<'_>,
    ) -> Result<RegistrationLinkPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        if !viewer.administrator {
            return Ok(RegistrationLinkPayload {
                link: None,
                user_errors: vec![forbidden(ADMINISTRATORS_ONLY)],
            });
        }
        let key = AggregateKey::account(viewer.account);
        let rotate = AccountCommand::RotateRegistrationLink;
        if let Err(e) = command::run::<Account>(state, key, rotate, Some(viewer.person)).await {
            return Ok(RegistrationLinkPayload {
                link: None,
                user_errors: vec![refusal(e)?],
            });
        }
        let record = account_of(state, viewer).await?;
        tracing::info!(account = %viewer.account, "registration link rotated");
        Ok(RegistrationLinkPayload {
            link: Some(link_of(ctx, viewer.account, &record)?),
            user_errors: Vec::new(),
        })
    }

    /// Lets in someone who registered through the link and waits for approval: they
    /// join as an employee and can log in with the password they chose. Sending it
    /// again for an approved registration finishes a join that was cut short.
    /// Administrators only.
    async fn approve_registration(
        &self,
        ctx: &Context<'_>,
        input: RegistrationInput,
    ) -> Result<RegistrationPayload, ApiError> {
        decide(ctx, input, Decision::Approve).await
    }

    /// Turns down someone who registered through the link: they are not let in, and
    /// their address and place under the plan's limit are free again. Administrators
    /// only.
    async fn reject_registration(
        &self,
        ctx: &Context<'_>,
        input: RegistrationInput,
    ) -> Result<RegistrationPayload, ApiError> {
        decide(ctx, input, Decision::Reject).await
    }
}

async fn decide(
    ctx: &Context<'_>,
    input: RegistrationInput,
    decision: Decision,
) -> Result<RegistrationPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    let fail = |e: UserError| {
        Ok(RegistrationPayload {
            registration: None,
            person: None,
            user_errors: vec![e],
        })
    };
    let invitation: InvitationId = parse_id(&input.invitation_id)?;
    let request = DecideRegistration {
        invitation,
        decision,
    };
    let decided = match decide_registration(state, viewer, request).await {
        Ok(decided) => decided,
        Err(e @ DecideRegistrationError::Forbidden) => return fail(forbidden(&e.to_string())),
        Err(DecideRegistrationError::NotFound) => return Err(ApiError::NotFound),
        Err(DecideRegistrationError::Refused(e @ InvitationError::NotAwaitingApproval)) => {
            return fail(UserError::new(
                &["input", "invitationId"],
                e,
                "NOT_AWAITING_APPROVAL",
            ))
        }
        Err(DecideRegistrationError::Refused(e)) => return fail(e.user_error()),
        Err(DecideRegistrationError::Failed(e)) => return fail(failure(e)?),
    };
    let person = match decided.joined {
        Some(person) => directory::by_id(&state.db, viewer.account, person)
            .await?
            .map(Person::from),
        None => None,
    };
    let record = invitations::get(&state.db.any, viewer.account, invitation).await?;
    Ok(RegistrationPayload {
        registration: record.map(Registration::from_record),
        person,
        user_errors: Vec::new(),
    })
}
