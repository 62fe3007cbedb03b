//! The account itself: its plan and places under the plan's limit, and who may
//! invite or register. Changing either is for administrators.

use super::context::{state, viewer};
use super::error::ApiError;
use super::refusal::{forbidden, refusal};
use super::types::UserError;
use crate::usecase::command;
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use domain::account::{
    Account as AccountAggregate, AccountCommand, InvitationSettings, Plan as DomainPlan,
};
use domain::{AggregateKey, DomainPattern};
use projections::accounts::{self, AccountRecord};

#[derive(Default)]
pub struct AccountQuery;

#[derive(Default)]
pub struct AccountMutation;

/// What the account pays for.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Plan {
    /// 30 days of everything for up to 100 people; external people are locked out when it ends unpaid.
    Trial,
    /// Up to 5 people, no external people.
    Free,
    /// Up to 50 people.
    Standard,
    /// No limit.
    Professional,
}

impl From<DomainPlan> for Plan {
    fn from(plan: DomainPlan) -> Self {
        match plan {
            DomainPlan::Trial => Plan::Trial,
            DomainPlan::Free => Plan::Free,
            DomainPlan::Standard => Plan::Standard,
            DomainPlan::Professional => Plan::Professional,
        }
    }
}

impl From<Plan> for DomainPlan {
    fn from(plan: Plan) -> Self {
        match plan {
            Plan::Trial => DomainPlan::Trial,
            Plan::Free => DomainPlan::Free,
            Plan::Standard => DomainPlan::Standard,
            Plan::Professional => DomainPlan::Professional,
        }
    }
}

/// Who may invite, and how people may come in by themselves.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "InvitationSettingsInput")]
pub struct Settings {
    /// Every employee may invite (otherwise administrators only).
    pub everyone_may_invite: bool,
    /// People may register through the account's link.
    pub registration_link: bool,
    /// Registrations wait for an administrator's approval…
    pub approval_required: bool,
    /// …unless the address is on one of these domains (`client.com`, `*.client.com`).
    pub approval_free_domains: Vec<String>,
    /// When not empty, only these domains may be invited or register.
    pub allowed_domains: Vec<String>,
    /// These domains may never be invited or register.
    pub blocked_domains: Vec<String>,
}

impl From<&InvitationSettings> for Settings {
    fn from(s: &InvitationSettings) -> Self {
        let text = |list: &[DomainPattern]| list.iter().map(|d| d.to_string()).collect();
        Self {
            everyone_may_invite: s.everyone_may_invite,
            registration_link: s.registration_link,
            approval_required: s.approval_required,
            approval_free_domains: text(&s.approval_free_domains),
            allowed_domains: text(&s.allowed_domains),
            blocked_domains: text(&s.blocked_domains),
        }
    }
}

/// The viewer's account.
#[derive(SimpleObject)]
pub struct AccountInfo {
    /// The company's name.
    pub name: String,
    /// What it pays for.
    pub plan: Plan,
    /// How many people the plan allows (null: no limit).
    pub user_limit: Option<i32>,
    /// Places taken: everyone current and everyone invited and not yet in.
    pub seats_in_use: i32,
    /// Whether the trial ended unpaid.
    pub trial_expired: bool,
    /// Who may invite, and how people may come in; null for those who may not change it.
    pub invitation_settings: Option<Settings>,
}

/// The outcome of a change to the account.
#[derive(SimpleObject)]
pub struct AccountPayload {
    /// The account as it is now; null when refused.
    pub account: Option<AccountInfo>,
    /// Why the change was refused; empty on success.
    pub user_errors: Vec<UserError>,
}

fn info(record: AccountRecord, administrator: bool) -> AccountInfo {
    AccountInfo {
        user_limit: record.plan.user_limit().map(|n| n as i32),
        plan: record.plan.into(),
        seats_in_use: record.seats_in_use as i32,
        trial_expired: record.trial_expired,
        invitation_settings: administrator.then(|| Settings::from(&record.settings)),
        name: record.name,
    }
}

#[Object]
impl AccountQuery {
    /// The viewer's account: name, plan, places in use.
    async fn account(&self, ctx: &Context<'_>) -> Result<AccountInfo, ApiError> {
        let viewer = viewer(ctx)?;
        let state = state(ctx);
        let record = accounts::get(&state.db, viewer.account)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(info(record, state.permissions.may_administer(viewer)))
    }
}

#[Object]
impl AccountMutation {
    /// Moves the account to another plan. A paid plan lets back exactly those the
    /// trial's end locked out. Administrators only.
    async fn change_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The plan from now on.")] plan: Plan,
    ) -> Result<AccountPayload, ApiError> {
        run(ctx, AccountCommand::ChangePlan { plan: plan.into() }).await
    }

    /// Changes who may invite and how people may register. Administrators only.
    async fn update_invitation_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings from now on, whole.")] settings: Settings,
    ) -> Result<AccountPayload, ApiError> {
        let parse = |field: &str, list: &[String]| -> Result<Vec<DomainPattern>, UserError> {
            list.iter()
                .map(|raw| {
                    DomainPattern::parse(raw).map_err(|e| {
                        UserError::new(
                            &["settings", field],
                            format!("{raw:?}: {e}"),
                            "INVALID_DOMAIN",
                        )
                    })
                })
                .collect()
        };
        let lists = (|| {
            Ok::<_, UserError>(InvitationSettings {
                everyone_may_invite: settings.everyone_may_invite,
                registration_link: settings.registration_link,
                approval_required: settings.approval_required,
                approval_free_domains: parse(
                    "approvalFreeDomains",
                    &settings.approval_free_domains,
                )?,
                allowed_domains: parse("allowedDomains", &settings.allowed_domains)?,
                blocked_domains: parse("blockedDomains", &settings.blocked_domains)?,
            })
        })();
        match lists {
            Ok(settings) => run(ctx, AccountCommand::ChangeInvitationSettings { settings }).await,
            Err(error) => Ok(AccountPayload {
                account: None,
                user_errors: vec![error],
            }),
        }
    }
}

async fn run(ctx: &Context<'_>, change: AccountCommand) -> Result<AccountPayload, ApiError> {
    let viewer = viewer(ctx)?;
    let state = state(ctx);
    if !state.permissions.may_administer(viewer) {
        return Ok(AccountPayload {
            account: None,
            user_errors: vec![forbidden(
                "only an administrator of the account can do this",
            )],
        });
    }
    let key = AggregateKey::account(viewer.account);
    if let Err(e) = command::run::<AccountAggregate>(state, key, change, Some(viewer.person)).await
    {
        return Ok(AccountPayload {
            account: None,
            user_errors: vec![refusal(e)?],
        });
    }
    let record = accounts::get(&state.db, viewer.account).await?;
    Ok(AccountPayload {
        account: record.map(|r| info(r, true)),
        user_errors: Vec::new(),
    })
}
