//! The projection that keeps the gateway's tables: accounts, people, invitations,
//! tasks and their roles. Each event changes rows with plain upserts and updates, so
//! the projection is the whole story of how a table came to be.

use crate::projector::Projection;
use crate::{StoreError, StoredEvent};
use cqrs_es::Aggregate;
use domain::account::{Account, AccountEvent};
use domain::invitation::{Invitation, InvitationEvent, InvitationTarget};
use domain::person::{Person, PersonEvent};
use domain::task::{Task, TaskEvent};
use sqlx::{Any, Transaction};

pub struct ReadModels;

/// The strings the read models store for domain enums: serde's own names, so the
/// mapping lives in one place (the domain's serde attributes).
pub(crate) fn label<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

pub(crate) fn parse_label<T: serde::de::DeserializeOwned>(
    what: &'static str,
    value: &str,
) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
        StoreError::UnknownValue {
            what,
            value: value.to_string(),
        }
    })
}

type Tx = Transaction<'static, Any>;

#[async_trait::async_trait]
impl Projection for ReadModels {
    fn name(&self) -> &'static str {
        "read_models"
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), StoreError> {
        match event.aggregate_type.as_str() {
            Account::TYPE => apply_account(tx, event, event.decode()?).await,
            Person::TYPE => apply_person(tx, event, event.decode()?).await,
            Invitation::TYPE => apply_invitation(tx, event, event.decode()?).await,
            Task::TYPE => apply_task(tx, event, event.decode()?).await,
            other => {
                tracing::warn!(
                    aggregate_type = other,
                    "event of an unknown aggregate type skipped"
                );
                Ok(())
            }
        }
    }
}

async fn apply_account(
    tx: &mut Tx,
    _: &StoredEvent,
    event: AccountEvent,
) -> Result<(), StoreError> {
    match event {
        AccountEvent::AccountCreated {
            account,
            name,
            plan,
            trial_ends_at,
            created_at,
        } => {
            sqlx::query(
                "INSERT INTO accounts (account_id, name, plan, trial_ends_at, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(account.to_string())
            .bind(name)
            .bind(label(&plan))
            .bind(trial_ends_at.map(|t| t.0))
            .bind(created_at.0)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn apply_person(tx: &mut Tx, e: &StoredEvent, event: PersonEvent) -> Result<(), StoreError> {
    match event {
        PersonEvent::PersonJoined {
            person,
            kind,
            email,
            name,
            administrator,
            password_hash,
            invitation: _,
            sponsor,
        } => {
            sqlx::query(
                "INSERT INTO people (account_id, person_id, kind, status, email, first_name,
                                     last_name, administrator, password_hash, sponsor_id, joined_at)
                 VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&e.account_id)
            .bind(person.to_string())
            .bind(label(&kind))
            .bind(email.as_str())
            .bind(name.first)
            .bind(name.last)
            .bind(i16::from(administrator))
            .bind(password_hash)
            .bind(sponsor.map(|s| s.to_string()))
            .bind(e.metadata.at.0)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn apply_invitation(
    tx: &mut Tx,
    e: &StoredEvent,
    event: InvitationEvent,
) -> Result<(), StoreError> {
    let id = e.entity_id();
    match event {
        InvitationEvent::InvitationIssued {
            invitation,
            person,
            email,
            name,
            target,
            sponsor,
            nonce,
            expires_at,
        } => {
            let InvitationTarget::Task { task, role } = target;
            sqlx::query(
                "INSERT INTO invitations (account_id, invitation_id, person_id, email, first_name,
                     last_name, task_id, task_role, sponsor_id, status, nonce, expires_at, issued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12)",
            )
            .bind(&e.account_id)
            .bind(invitation.to_string())
            .bind(person.to_string())
            .bind(email.as_str())
            .bind(name.first)
            .bind(name.last)
            .bind(task.to_string())
            .bind(label(&role))
            .bind(sponsor.to_string())
            .bind(nonce)
            .bind(expires_at.0)
            .bind(e.metadata.at.0)
            .execute(&mut **tx)
            .await?;
        }
        InvitationEvent::InvitationResent { nonce, expires_at } => {
            sqlx::query(
                "UPDATE invitations SET nonce = $3, expires_at = $4
                  WHERE account_id = $1 AND invitation_id = $2",
            )
            .bind(&e.account_id)
            .bind(id)
            .bind(nonce)
            .bind(expires_at.0)
            .execute(&mut **tx)
            .await?;
        }
        InvitationEvent::InvitationAccepted { .. } => {
            sqlx::query(
                "UPDATE invitations SET status = 'accepted' WHERE account_id = $1 AND invitation_id = $2",
            )
            .bind(&e.account_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

async fn apply_task(tx: &mut Tx, e: &StoredEvent, event: TaskEvent) -> Result<(), StoreError> {
    let id = e.entity_id();
    match event {
        TaskEvent::TaskCreated {
            task,
            title,
            description,
            creator,
        } => {
            sqlx::query(
                "INSERT INTO tasks (account_id, task_id, title, description, status, creator_id, created_at)
                 VALUES ($1, $2, $3, $4, 'new', $5, $6)",
            )
            .bind(&e.account_id)
            .bind(task.to_string())
            .bind(title)
            .bind(description)
            .bind(creator.to_string())
            .bind(e.metadata.at.0)
            .execute(&mut **tx)
            .await?;
        }
        TaskEvent::TaskRenamed { title } => {
            sqlx::query("UPDATE tasks SET title = $3 WHERE account_id = $1 AND task_id = $2")
                .bind(&e.account_id)
                .bind(id)
                .bind(title)
                .execute(&mut **tx)
                .await?;
        }
        TaskEvent::TaskStatusChanged { status } => {
            sqlx::query("UPDATE tasks SET status = $3 WHERE account_id = $1 AND task_id = $2")
                .bind(&e.account_id)
                .bind(id)
                .bind(label(&status))
                .execute(&mut **tx)
                .await?;
        }
        TaskEvent::PersonAssigned {
            person,
            role,
            replaces,
        } => {
            if let Some(previous) = replaces {
                sqlx::query(
                    "DELETE FROM task_roles WHERE account_id = $1 AND task_id = $2 AND person_id = $3",
                )
                .bind(&e.account_id)
                .bind(id)
                .bind(previous.to_string())
                .execute(&mut **tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO task_roles (account_id, task_id, person_id, role) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account_id, task_id, person_id) DO UPDATE SET role = excluded.role",
            )
            .bind(&e.account_id)
            .bind(id)
            .bind(person.to_string())
            .bind(label(&role))
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
