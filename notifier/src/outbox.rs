use crate::render::{self, Email};
use cqrs_es::Aggregate;
use domain::invitation::{Invitation, InvitationEvent, SecretKey};
use domain::task::{Task, TaskEvent};
use domain::{AccountId, InvitationId, TaskId};
use projections::directory::contact_of;
use projections::projector::Projection;
use projections::{invitations, tasks, StoreError, StoredEvent};
use sqlx::{Any, Transaction};

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

impl Outbox {
    /// An invitation's email, when it is issued or sent again. Everything but the
    /// nonce comes from the read model, which this projection follows.
    async fn invitation_emails(
        &self,
        tx: &mut Tx,
        account: AccountId,
        event: &StoredEvent,
    ) -> Result<Vec<Email>, StoreError> {
        let nonce = match event.decode::<InvitationEvent>()? {
            InvitationEvent::InvitationIssued { nonce, .. } => nonce,
            InvitationEvent::InvitationResent { nonce, .. } => nonce,
            _ => return Ok(Vec::new()),
        };
        let Ok(id) = event.entity_id().parse::<InvitationId>() else {
            return Ok(Vec::new());
        };
        let Some(invited) = invitations::get(&mut **tx, account, id).await? else {
            return Ok(Vec::new());
        };
        if !invited.address.contains('@') {
            // Text messages are not sent yet: the invitation waits in the invited
            // list, where an administrator can copy its link.
            tracing::info!(invitation = %id, "invitation by phone recorded; no text message is sent");
            return Ok(Vec::new());
        }
        let sponsor = match invited.sponsor {
            Some(sponsor) => contact_of(tx, account, sponsor)
                .await?
                .map(|c| c.full_name()),
            None => None,
        }
        .unwrap_or_else(|| "A colleague".to_string());
        let secret = self.secrets.secret_for(id, &nonce);
        let link = format!(
            "{}/invitations/{account}/{id}?secret={secret}",
            self.public_url.trim_end_matches('/'),
        );
        let expires = invited
            .expires_at
            .map(|t| render::utc(t.millis()))
            .unwrap_or_default();
        let greeting = if invited.first_name.is_empty() {
            "Hello".to_string()
        } else {
            format!("Hello {}", invited.first_name)
        };
        if let Some((task_id, role)) = invited.task {
            let Some(task) = tasks::get(&mut **tx, account, task_id).await? else {
                return Ok(Vec::new());
            };
            return Ok(vec![render::guest_invitation(&render::GuestInvitation {
                to: &invited.address,
                greeting: &greeting,
                sponsor_name: &sponsor,
                role: role.label(),
                task_title: &task.title,
                task_description: &task.description,
                link: &link,
                expires: &expires,
            })]);
        }
        Ok(vec![render::workspace_invitation(
            &render::WorkspaceInvitation {
                to: &invited.address,
                greeting: &greeting,
                sponsor_name: &sponsor,
                link: &link,
                expires: &expires,
            },
        )])
    }
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
        TaskEvent::TaskDescriptionChanged { .. } => {
            (task.title.clone(), "changed the description".to_string())
        }
        TaskEvent::TaskDeadlineChanged { deadline } => (
            task.title.clone(),
            match deadline {
                Some(at) => format!("set the deadline to {}", render::utc(at.millis())),
                None => "removed the deadline".to_string(),
            },
        ),
        TaskEvent::CommentAdded { text, .. } => {
            (task.title.clone(), format!("commented: \"{text}\""))
        }
        TaskEvent::PersonUnassigned { person } => {
            let name = contact_of(tx, account, person)
                .await?
                .map(|c| c.full_name())
                .unwrap_or_else(|| "someone".to_string());
            (task.title.clone(), format!("took {name} off the task"))
        }
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
