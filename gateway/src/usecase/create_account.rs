//! Creating an account and its first administrator (the CLI's `create-account`).
//! Nothing is created silently at start; an empty store stays empty until this runs.
//! The door (`gateway/src/cli.rs`) parses the arguments into [`NewAccount`] and opens
//! the store.

use crate::password;
use domain::account::{Account, AccountCommand, Plan};
use domain::email_claim::{EmailClaim, EmailClaimCommand};
use domain::person::{Person, PersonCommand, PersonKind};
use domain::{AccountId, AccountName, AggregateKey, Email, PersonId, PersonName};
use projections::commands::{CommandBus, CommandError};
use projections::log::Metadata;

/// What the account and its administrator are to be.
pub struct NewAccount {
    pub name: AccountName,
    pub plan: Plan,
    pub admin_email: Email,
    pub admin_name: PersonName,
    pub admin_password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    #[error("the administrator's password: {0}")]
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

/// Runs the commands on `bus`, recorded as the system's doing at `metadata.at`.
pub async fn create_account(
    bus: &CommandBus,
    metadata: &Metadata,
    request: NewAccount,
) -> Result<Created, CreateAccountError> {
    let NewAccount {
        name: account_name,
        plan,
        admin_email: email,
        admin_name: name,
        admin_password,
    } = request;
    let password_hash = password::hash(admin_password).await?;
    let account = AccountId::new_random();
    let administrator = PersonId::new_random();
    bus.execute::<Account>(
        AggregateKey::account(account),
        AccountCommand::Create {
            account,
            name: account_name,
            plan,
        },
        metadata,
    )
    .await?;
    bus.execute::<Account>(
        AggregateKey::account(account),
        AccountCommand::TakeSeat {
            person: administrator,
            external: false,
            email: None,
        },
        metadata,
    )
    .await?;
    bus.execute::<EmailClaim>(
        EmailClaim::key(account, &email, bus.secrets()),
        EmailClaimCommand::Claim {
            email: email.clone(),
            person: administrator,
        },
        metadata,
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
        metadata,
    )
    .await?;
    Ok(Created {
        account,
        administrator,
    })
}
