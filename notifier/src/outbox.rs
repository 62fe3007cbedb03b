use crate::render::{self, Email};
use cqrs_es::Aggregate;
use domain::invitation::{Invitation, InvitationEvent, InvitationTarget, SecretKey};
use domain::task::{Task, TaskEvent};
use domain::{AccountId, InvitationId, PersonId, TaskId, Timestamp};
use projections::directory::contact_of;
use projections::projector::Projection;
use projections::{tasks, StoreError, StoredEvent};
use sqlx::{Any, Row, Transaction};

type Tx = Transaction<'static, Any>;

/// The projection that decides who is emailed about each event.
pub struct Outbox {
    /// Where the links in emails point: the gateway's public address.
    pub public_url: String,
    pub secrets: SecretKey,
}

#[async_trait::async_trait]
impl Projection for Outbox {
    fn name(&self) -> &'static str {
        "notifier"
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), StoreError> {
        let Ok(account) = event.account_id.parse::<AccountId>() else {
            return Ok(());
        };
        let emails = match event.aggregate_type.as_str() {
            Invitation::TYPE => self.invitation_emails(tx, account, event).await?,
            Task::TYPE => task_change_emails(tx, account, event).await?,
            _ => Vec::new(),
        };
        for email in emails {
            enqueue(tx, event, &email).await?;
        }
        Ok(())
    }
}

async fn enqueue(tx: &mut Tx, event: &StoredEvent, email: &Email) -> Result<(), StoreError> {
    let key = format!("{}/{}/{}", event.aggregate_id, event.sequence, email.to);
    sqlx::query(
        "INSERT INTO outbox (message_key, account_id, recipient, subject, body, created_at, next_try_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (message_key) DO NOTHING",
    )
    .bind(key)
    .bind(&event.account_id)
    .bind(&email.to)
    .bind(&email.subject)
    .bind(&email.body)
    .bind(event.metadata.at.0)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What an invitation email needs that a resend event does not carry.
struct Invited {
    invitation: InvitationId,
    first_name: String,
    email: String,
    task: TaskId,
    role: String,
    sponsor: PersonId,
}

impl Outbox {
    async fn invitation_emails(
        &self,
        tx: &mut Tx,
        account: AccountId,
        event: &StoredEvent,
    ) -> Result<Vec<Email>, StoreError> {
        let (invited, nonce, expires_at) = match event.decode::<InvitationEvent>()? {
            InvitationEvent::InvitationIssued {
                invitation,
                email,
                name,
                target: InvitationTarget::Task { task, role },
                sponsor,
                nonce,
                expires_at,
                ..
            } => (
                Invited {
                    invitation,
                    first_name: name.first,
                    email: email.to_string(),
                    task,
                    role: role.label().to_string(),
                    sponsor,
                },
                nonce,
                expires_at,
            ),
            InvitationEvent::InvitationResent { nonce, expires_at } => {
                match invited(tx, account, event.entity_id()).await? {
                    Some(invited) => (invited, nonce, expires_at),
                    None => return Ok(Vec::new()),
                }
            }
            InvitationEvent::InvitationAccepted { .. } => return Ok(Vec::new()),
        };
        let Some(task) = tasks::get(&mut **tx, account, invited.task).await? else {
            return Ok(Vec::new());
        };
        let sponsor = contact_of(tx, account, invited.sponsor)
            .await?
            .map(|c| c.full_name())
            .unwrap_or_else(|| "A colleague".to_string());
        let secret = self.secrets.secret_for(invited.invitation, &nonce);
        let link = format!(
            "{}/invitations/{account}/{}?secret={secret}",
            self.public_url.trim_end_matches('/'),
            invited.invitation
        );
        Ok(vec![render::guest_invitation(&render::GuestInvitation {
            to: &invited.email,
            guest_first_name: &invited.first_name,
            sponsor_name: &sponsor,
            role: &invited.role,
            task_title: &task.title,
            task_description: &task.description,
            link: &link,
            expires: &render::utc(Timestamp::millis(expires_at)),
        })])
    }
}

async fn invited(tx: &mut Tx, account: AccountId, id: &str) -> Result<Option<Invited>, StoreError> {
    let row = sqlx::query(
        "SELECT invitation_id, first_name, email, task_id, task_role, sponsor_id
           FROM invitations WHERE account_id = $1 AND invitation_id = $2",
    )
    .bind(account.to_string())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let text = |c: &str| -> Result<String, StoreError> { Ok(row.try_get::<String, _>(c)?) };
    let (Ok(invitation), Ok(task), Ok(sponsor)) = (
        text("invitation_id")?.parse(),
        text("task_id")?.parse(),
        text("sponsor_id")?.parse(),
    ) else {
        return Ok(None);
    };
    let role: String = text("task_role")?;
    Ok(Some(Invited {
        invitation,
        first_name: text("first_name")?,
        email: text("email")?,
        task,
        role: role.replace('_', " "),
        sponsor,
    }))
}

/// Every person of the task but the one who made the change hears about it.
async fn task_change_emails(
    tx: &mut Tx,
    account: AccountId,
    event: &StoredEvent,
) -> Result<Vec<Email>, StoreError> {
    let Ok(task_id) = event.entity_id().parse::<TaskId>() else {
        return Ok(Vec::new());
    };
    let Some(task) = tasks::get(&mut **tx, account, task_id).await? else {
        return Ok(Vec::new());
    };
    let mut skip = event.metadata.actor.into_iter().collect::<Vec<_>>();
    let (title, change) = match event.decode::<TaskEvent>()? {
        TaskEvent::TaskCreated { .. } => return Ok(Vec::new()),
        TaskEvent::TaskRenamed { title } => {
            (title.clone(), format!("renamed the task to \"{title}\""))
        }
        TaskEvent::TaskStatusChanged { status } => (
            task.title.clone(),
            format!("changed the status to {}", status.label()),
        ),
        TaskEvent::PersonAssigned { person, role, .. } => {
            // The person added hears about it from their own invitation or role.
            skip.push(person);
            let name = contact_of(tx, account, person)
                .await?
                .map(|c| c.full_name())
                .unwrap_or_else(|| "someone".to_string());
            (
                task.title.clone(),
                format!("added {name} as {}", role.label()),
            )
        }
    };
    let actor_name = match event.metadata.actor {
        Some(actor) => contact_of(tx, account, actor)
            .await?
            .map(|c| c.full_name())
            .unwrap_or_else(|| "Someone".to_string()),
        None => "Extranet".to_string(),
    };
    let mut emails = Vec::new();
    for person in tasks::people_of(&mut **tx, account, task_id).await? {
        if skip.contains(&person) {
            continue;
        }
        if let Some(contact) = contact_of(tx, account, person).await? {
            emails.push(render::task_change(&render::TaskChange {
                to: &contact.email,
                recipient_first_name: &contact.first_name,
                actor_name: &actor_name,
                task_title: &title,
                change: &change,
            }));
        }
    }
    Ok(emails)
}
