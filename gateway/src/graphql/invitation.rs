//! Invitations: inviting many people at once (a result per address), the "invited"
//! list, resending a link and taking an invitation back.

use super::context::{state, viewer};
use super::error::ApiError;
use super::global_id::parse_id;
use super::page;
use super::refusal::{failure, refusal, Refusal};
use super::types::{Invitation, UserError, Workgroup};
use crate::usecase::command;
use crate::usecase::invite_people::{invite_many, Destination, InviteError, InviteMany, Outcome};
use crate::usecase::resend_invitation::{resend_invitation, ResendError};
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use domain::invitation::{Invitation as InvitationAggregate, InvitationCommand};
use domain::person::PersonKind as DomainPersonKind;
use domain::{AccountId, AggregateKey, InvitationId, WorkgroupName};
use projections::{invitations, workgroups};
use std::str::FromStr;

#[derive(Default)]
pub struct InvitationQuery;

#[derive(Default)]
pub struct InvitationMutation;

/// Whom an invitation into the company or a group makes of people.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum InviteeKind {
    /// Colleagues: into the company (or a department) or a workgroup.
    Employee,
    /// Outsiders who work in extranet workgroups.
    Extranet,
}

/// People to invite, as pasted.
#[derive(InputObject)]
pub struct InvitePeopleInput {
    /// Email addresses and phone numbers (starting with +), separated by commas,
    /// semicolons, spaces or new lines. Each is judged on its own.
    pub addresses: String,
    /// Employees or extranet users; guests are invited into a task with
    /// `inviteGuestToTask`.
    pub kind: InviteeKind,
    /// An existing workgroup to invite into.
    pub workgroup_id: Option<ID>,
    /// Or: the name of a new extranet workgroup to create for them. One line of 1 to 200 characters, without control or invisible formatting
    /// characters (see docs/domain.md, "Text").
    pub new_workgroup_name: Option<String>,
}

/// What happened to one address.
#[derive(SimpleObject)]
pub struct InviteResult {
    /// The address as it was understood.
    pub address: String,
    /// The invitation sent; null when this address was refused.
    pub invitation: Option<Invitation>,
    /// Why this address was refused; null when it was invited.
    pub error: Option<UserError>,
}

/// The outcome of inviting people.
#[derive(SimpleObject)]
pub struct InvitePeoplePayload {
    /// The group they were invited into (the new one, if one was created).
    pub workgroup: Option<Workgroup>,
    /// One result per address, in the order given.
    pub results: Vec<InviteResult>,
    /// Why nobody was invited (the request as a whole was refused); empty otherwise.
    pub user_errors: Vec<UserError>,
}

/// Names one invitation.
#[derive(InputObject)]
pub struct InvitationInput {
    /// The invitation.
    pub invitation_id: ID,
}

/// An invitation's link, as the person it was sent to has it: its path is
/// `/invitations/{accountId}/{invitationId}`. These two are the link's own ids, not
/// the ids the rest of the API gives out.
#[derive(InputObject)]
pub struct DeclineInvitationInput {
    /// The account, as the link's path has it.
    pub account_id: ID,
    /// The invitation, as the link's path has it.
    pub invitation_id: ID,
    /// The secret the link carries (its `secret` parameter).
    pub secret: String,
}

/// The outcome of a change to an invitation.
#[derive(SimpleObject)]
pub struct InvitationPayload {
    /// The invitation as it is now; null when refused.
    pub invitation: Option<Invitation>,
    /// Why the change was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

#[Object]
impl InvitationQuery {
    /// The "invited" list: invitations still waiting for their person (sent, or
    /// registrations awaiting approval), oldest first. Administrators only.
    #[graphql(complexity = "page::cost(first, child_complexity)")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, from 1 to 100; 20 if not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Connection<String, Invitation>, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        if !state.permissions.may_administer(viewer) {
            return Err(ApiError::Forbidden(
                "only administrators see the list of invitations",
            ));
        }
        let first = page::size(first)?;
        let from = page::after::<InvitationId>(after.as_deref())?;
        let rows = invitations::waiting(&state.db, viewer.account, from, first as i64 + 1).await?;
        Ok(page::connection(
            rows,
            first,
            after.is_some(),
            |i| page::cursor(i.issued_at, i.id),
            Invitation::from,
        ))
    }
}

#[Object]
impl InvitationMutation {
    /// Invites many people at once into the company or a workgroup (a new extranet
    /// workgroup, if named). Each address gets its own result: one refused address
    /// (invalid, taken, over the plan's limit, a blocked domain) does not stop the
    /// others.
    async fn invite_people(
        &self,
        ctx: &Context<'_>,
        input: InvitePeopleInput,
    ) -> Result<InvitePeoplePayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let destination = match (&input.workgroup_id, input.new_workgroup_name) {
            (Some(id), None) => Destination::Workgroup(parse_id(id)?),
            (None, Some(name)) => match WorkgroupName::parse(&name) {
                Ok(name) => Destination::NewExtranetGroup { name },
                Err(e) => {
                    let mut refusal = e.user_error();
                    refusal.field = vec!["input".into(), "newWorkgroupName".into()];
                    return Ok(InvitePeoplePayload {
                        workgroup: None,
                        results: Vec::new(),
                        user_errors: vec![refusal],
                    });
                }
            },
            (None, None) => Destination::Company { department: None },
            (Some(_), Some(_)) => {
                return Err(ApiError::BadInput(
                    "give a workgroupId or a newWorkgroupName, not both".into(),
                ))
            }
        };
        let request = InviteMany {
            addresses: input.addresses,
            kind: match input.kind {
                InviteeKind::Employee => DomainPersonKind::Employee,
                InviteeKind::Extranet => DomainPersonKind::Extranet,
            },
            destination,
        };
        let (group, outcomes) = match invite_many(state, viewer, request).await {
            Ok(done) => done,
            Err(InviteError::GroupNotFound) => return Err(ApiError::NotFound),
            Err(InviteError::Store(e)) => return Err(e.into()),
            Err(InviteError::EventStore(error)) => {
                tracing::error!(%error, "event store failure while inviting");
                return Err(ApiError::Internal);
            }
            Err(e) => {
                let code = match e {
                    InviteError::Forbidden => "FORBIDDEN",
                    InviteError::NoAddresses => "NO_ADDRESSES",
                    InviteError::GroupNotExtranet => "NOT_AN_EXTRANET_GROUP",
                    InviteError::ExtranetNeedsGroup => "EXTRANET_NEEDS_GROUP",
                    InviteError::GuestsOnlyInTasks => "GUESTS_ONLY_IN_TASKS",
                    _ => "INVALID_NAME",
                };
                return Ok(InvitePeoplePayload {
                    workgroup: None,
                    results: Vec::new(),
                    user_errors: vec![UserError::new(&["input"], e, code)],
                });
            }
        };
        let invited: Vec<InvitationId> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Outcome::Invited { invitation, .. } => Some(*invitation),
                Outcome::Refused { .. } => None,
            })
            .collect();
        let mut issued = invitations::get_many(&state.db.any, viewer.account, &invited).await?;
        let mut results = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            results.push(match outcome {
                Outcome::Invited {
                    address,
                    invitation,
                    ..
                } => InviteResult {
                    invitation: issued.remove(&invitation).map(Invitation::from),
                    address,
                    error: None,
                },
                Outcome::Refused {
                    address,
                    code,
                    message,
                } => InviteResult {
                    address,
                    invitation: None,
                    error: Some(UserError::new(&["input", "addresses"], message, code)),
                },
            });
        }
        let workgroup = match group {
            Some(group) => workgroups::get(&state.db, viewer.account, group)
                .await?
                .map(Workgroup::from),
            None => None,
        };
        Ok(InvitePeoplePayload {
            workgroup,
            results,
            user_errors: Vec::new(),
        })
    }

    /// Sends an invitation again with a new link; the old link stops working. An
    /// expired invitation takes a place under the plan's limit again, as a new one
    /// would (`PLAN_LIMIT_REACHED` when none is left). Its sponsor or an administrator.
    async fn resend_invitation(
        &self,
        ctx: &Context<'_>,
        input: InvitationInput,
    ) -> Result<InvitationPayload, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let id: InvitationId = parse_id(&input.invitation_id)?;
        let refused = match resend_invitation(state, viewer, id).await {
            Ok(()) => None,
            Err(ResendError::NotFound) => return Err(ApiError::NotFound),
            Err(ResendError::Seat(e)) => Some(e.user_error()),
            Err(ResendError::Invitation(e)) => Some(e.user_error()),
            Err(ResendError::Failed(e)) => Some(failure(e)?),
        };
        if let Some(refused) = refused {
            return Ok(InvitationPayload {
                invitation: None,
                user_errors: vec![refused],
            });
        }
        let record = invitations::get(&state.db.any, viewer.account, id).await?;
        Ok(InvitationPayload {
            invitation: record.map(Invitation::from),
            user_errors: Vec::new(),
        })
    }

    /// Says no to an invitation, by its link; no session needed. The place it held
    /// under the plan's limit is given back and the link stops working.
    async fn decline_invitation(
        &self,
        ctx: &Context<'_>,
        input: DeclineInvitationInput,
    ) -> Result<InvitationPayload, ApiError> {
        let state = state(ctx);
        let account: AccountId = from_link(&input.account_id)?;
        let id: InvitationId = from_link(&input.invitation_id)?;
        if invitations::get(&state.db.any, account, id)
            .await?
            .is_none()
        {
            return Err(ApiError::NotFound);
        }
        let key = AggregateKey::new(account, id.0);
        let decline = InvitationCommand::Decline {
            secret: input.secret,
        };
        if let Err(e) = command::run::<InvitationAggregate>(state, key, decline, None).await {
            return Ok(InvitationPayload {
                invitation: None,
                user_errors: vec![refusal(e)?],
            });
        }
        tracing::info!(%account, invitation = %id, "invitation declined");
        let record = invitations::get(&state.db.any, account, id).await?;
        Ok(InvitationPayload {
            invitation: record.map(Invitation::from),
            user_errors: Vec::new(),
        })
    }

    /// Takes a pending invitation back; its link stops working and its place under
    /// the plan's limit is given back. Its sponsor or an administrator.
    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        input: InvitationInput,
    ) -> Result<InvitationPayload, ApiError> {
        change(ctx, &input.invitation_id, InvitationCommand::Revoke).await
    }
}

/// An id as a link carries it. Links name things by their plain UUIDs (the secret is
/// signed over them, and links already sent must keep working), and the person who
/// declines has nothing but the link. Garbage is as unknown as an unknown id.
fn from_link<T: FromStr>(segment: &ID) -> Result<T, ApiError> {
    segment.parse().map_err(|_| ApiError::NotFound)
}

/// Runs a sponsor's or administrator's command on an invitation.
async fn change(
    ctx: &Context<'_>,
    invitation_id: &ID,
    change: InvitationCommand,
) -> Result<InvitationPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    let id: InvitationId = parse_id(invitation_id)?;
    let record = invitations::get(&state.db.any, viewer.account, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let sponsor = record.sponsor == Some(viewer.person);
    if !sponsor && !state.permissions.may_administer(viewer) {
        // Someone else's invitation: its existence is not theirs to learn.
        return Err(ApiError::NotFound);
    }
    let key = AggregateKey::new(viewer.account, id.0);
    if let Err(e) =
        command::run::<InvitationAggregate>(state, key, change, Some(viewer.person)).await
    {
        return Ok(InvitationPayload {
            invitation: None,
            user_errors: vec![refusal(e)?],
        });
    }
    let record = invitations::get(&state.db.any, viewer.account, id).await?;
    Ok(InvitationPayload {
        invitation: record.map(Invitation::from),
        user_errors: Vec::new(),
    })
}
