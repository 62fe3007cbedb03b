//! The command line's door to the use cases it runs outside `serve`: parse the
//! arguments into domain types, open the store, call one use case.

use crate::app::{open_store, StartError};
use crate::config::{CreateAccount, Settings};
use crate::usecase::create_account::{self, CreateAccountError, Created, NewAccount};
use domain::account::Plan;
use domain::{AccountName, Email, EmailError, PersonName, TextError};
use projections::commands::CommandBus;
use projections::log::Metadata;

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountCommandError {
    #[error("--plan must be trial, free, standard or professional, not {0:?}")]
    Plan(String),
    #[error("--admin-email: {0}")]
    Email(#[from] EmailError),
    /// The account's or the administrator's name; the message names which.
    #[error("{0}")]
    Text(#[from] TextError),
    #[error("EXTRANET_ADMIN_PASSWORD: {0}")]
    Password(#[from] crate::password::PasswordError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Failed(#[from] CreateAccountError),
}

/// `extranet create-account`.
pub async fn create_account(
    settings: &Settings,
    args: CreateAccount,
) -> Result<Created, CreateAccountCommandError> {
    let plan = match args.plan.as_str() {
        "trial" => Plan::Trial,
        "free" => Plan::Free,
        "standard" => Plan::Standard,
        "professional" => Plan::Professional,
        other => return Err(CreateAccountCommandError::Plan(other.to_string())),
    };
    crate::password::check_policy(&args.admin_password)?;
    let request = NewAccount {
        name: AccountName::parse(&args.name)?,
        plan,
        admin_email: Email::parse(&args.admin_email)?,
        admin_name: PersonName::parse(&args.admin_first_name, &args.admin_last_name)?,
        admin_password: args.admin_password,
    };
    let (db, services) = open_store(settings).await?;
    let metadata = Metadata {
        actor: None,
        at: services.clock.now(),
        request_id: None,
    };
    let bus = CommandBus::new(&db, services);
    let created = create_account::create_account(&bus, &metadata, request).await;
    db.close().await;
    Ok(created?)
}
