//! `extranet create-account`: the first account and its administrator. Nothing is
//! created silently at start; an empty store stays empty until this runs.

use crate::app::{open_store, StartError};
use crate::config::CreateAccount;
use crate::config::Settings;
use crate::password;
use domain::account::{Account, AccountCommand, Plan};
use domain::email_claim::{EmailClaim, EmailClaimCommand};
use domain::person::{Person, PersonCommand, PersonKind};
use domain::{
    AccountId, AccountName, AggregateKey, Email, EmailError, PersonId, PersonName, TextError,
};
use projections::commands::{CommandBus, CommandError};
use projections::log::Metadata;

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("--plan must be trial, free, standard or professional, not {0:?}")]
    Plan(String),
    #[error("--admin-email: {0}")]
    Email(#[from] EmailError),
    /// The account's or the administrator's name; the message names which.
    #[error("{0}")]
    Text(#[from] TextError),
    #[error("EXTRANET_ADMIN_PASSWORD: {0}")]
    Password(#[from] password::PasswordError),
    #[error("the account could not be created: {0}")]
    Account(#[from] CommandError<domain::account::AccountError>),
    #[error("the administrator's email could not be reserved: {0}")]
    Claim(#[from] CommandError<domain::email_claim::EmailClaimError>),
    #[error("the administrator could not be created: {0}")]
    Person(#[from] CommandError<domain::person::PersonError>),
}

pub struct Created {
    pub account: AccountId,
    pub administrator: PersonId,
}

pub async fn create_account(
    settings: &Settings,
    args: CreateAccount,
) -> Result<Created, CreateAccountError> {
    let plan = match args.plan.as_str() {
        "trial" => Plan::Trial,
        "free" => Plan::Free,
        "standard" => Plan::Standard,
        "professional" => Plan::Professional,
        other => return Err(CreateAccountError::Plan(other.to_string())),
    };
    let account_name = AccountName::parse(&args.name)?;
    let email = Email::parse(&args.admin_email)?;
    let name = PersonName::parse(&args.admin_first_name, &args.admin_last_name)?;
    let password_hash = password::hash(args.admin_password).await?;

    let (db, services) = open_store(settings).await?;
    let clock = services.clock.clone();
    let bus = CommandBus::new(&db, services);
    let metadata = Metadata {
        actor: None,
        at: clock.now(),
        request_id: None,
    };
    let account = AccountId::new_random();
    let administrator = PersonId::new_random();
    bus.execute::<Account>(
        AggregateKey::account(account),
        AccountCommand::Create {
            account,
            name: account_name,
            plan,
        },
        &metadata,
    )
    .await?;
    bus.execute::<Account>(
        AggregateKey::account(account),
        AccountCommand::TakeSeat {
            person: administrator,
            external: false,
            email: None,
        },
        &metadata,
    )
    .await?;
    bus.execute::<EmailClaim>(
        EmailClaim::key(account, &email, bus.secrets()),
        EmailClaimCommand::Claim {
            email: email.clone(),
            person: administrator,
        },
        &metadata,
    )
    .await?;
    bus.execute::<Person>(
        AggregateKey::new(account, administrator.0),
        PersonCommand::Join {
            person: administrator,
            kind: PersonKind::Employee,
            email,
            name,
            administrator: true,
            password_hash,
            invitation: None,
            sponsor: None,
            previous: None,
        },
        &metadata,
    )
    .await?;
    db.close().await;
    Ok(Created {
        account,
        administrator,
    })
}
