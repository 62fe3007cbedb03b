use crate::render::{self, Email};
use crate::withheld::Withheld;
use cqrs_es::Aggregate;
use domain::account::{Account, AccountEvent};
use domain::invitation::{Approval, Delivery, Invitation, InvitationEvent, Link, SecretKey};
use domain::person::{Person, PersonEvent};
use domain::task::{Task, TaskChange, TaskEvent};
use domain::{AccountId, InvitationId, PersonId, TaskId, Timestamp};
use projections::directory::{contact_of, Contact};
use projections::projector::Projection;
use projections::{invitations, tasks, StoreError, StoredEvent};
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};

type Tx = Transaction<'static, Any>;

/// The projection that decides who is emailed about each event.
pub struct Outbox {
    /// Where the links in emails point: the gateway's public address.
    pub public_url: String,
    pub secrets: SecretKey,
    /// How the API names things, for the ids written into emails.
    pub ids: ApiIds,
}

/// How the API names what an email mentions: the gateway owns the API's ids (opaque,
/// see `gateway/src/graphql/global_id.rs`); the notifier only writes them in.
#[derive(Clone, Copy)]
pub struct ApiIds {
    /// A registration, as `approveRegistration` takes it.
    pub registration: fn(InvitationId) -> String,
    /// An account, as `login` takes it.
    pub account: fn(AccountId) -> String,
}

impl ApiIds {
    /// The store's own UUIDs, for tests of the notifier alone.
    pub const PLAIN: ApiIds = ApiIds {
        registration: |id| id.to_string(),
        account: |id| id.to_string(),
    };
}

#[async_trait::async_trait]
impl Projection for Outbox {
    fn name(&self) -> &'static str {
        "notifier"
    }

    async fn apply(&self, tx: &mut Tx, event: &StoredEvent) -> Result<(), StoreError> {
        self.apply_all(tx, std::slice::from_ref(event))
            .await
            .map_err(|(_, e)| e)
    }

    /// Who follows each task the batch changes is read once for the whole batch: most
    /// events of a busy log are changes to tasks, and asking per event was a round trip
    /// each. The read models this follows are at or past the batch's end either way.
    async fn apply_all(
        &self,
        tx: &mut Tx,
        events: &[StoredEvent],
    ) -> Result<(), (usize, StoreError)> {
        let changed: HashSet<(AccountId, TaskId)> = events
            .iter()
            .filter(|e| e.aggregate_type == Task::TYPE)
            .filter_map(|e| Some((e.account_id.parse().ok()?, e.entity_id().parse().ok()?)))
            .collect();
        let changed: Vec<_> = changed.into_iter().collect();
        let followers = tasks::people_of_many(tx, &changed)
            .await
            .map_err(|e| (0, e))?;
        for (at, event) in events.iter().enumerate() {
            self.apply_one(tx, event, &followers)
                .await
                .map_err(|e| (at, e))?;
        }
        Ok(())
    }
}

/// Who follows each task a batch changes (`tasks::people_of_many`).
type Followers = HashMap<(AccountId, TaskId), Vec<PersonId>>;

impl Outbox {
    async fn apply_one(
        &self,
        tx: &mut Tx,
        event: &StoredEvent,
        followers: &Followers,
    ) -> Result<(), StoreError> {
        let Ok(account) = event.account_id.parse::<AccountId>() else {
            return Ok(());
        };
        let emails = match event.aggregate_type.as_str() {
            Invitation::TYPE => self.invitation_emails(tx, account, event).await?,
            Task::TYPE => task_change_emails(tx, account, event, followers).await?,
            Person::TYPE => self.person_emails(tx, account, event).await?,
            Account::TYPE => trial_emails(tx, account, event).await?,
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
        "INSERT INTO outbox (message_key, account_id, recipient, subject, body, created_at, next_try_at,
                             withheld)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
         ON CONFLICT (message_key) DO NOTHING",
    )
    .bind(key)
    .bind(&event.account_id)
    .bind(&email.to)
    .bind(&email.subject)
    .bind(&email.body)
    .bind(event.metadata.at.0)
    .bind(email.withheld.as_ref().map(Withheld::to_stored))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Outbox {
    async fn person_emails(
        &self,
        tx: &mut Tx,
        account: AccountId,
        event: &StoredEvent,
    ) -> Result<Vec<Email>, StoreError> {
        let Ok(person) = event.entity_id().parse::<PersonId>() else {
            return Ok(Vec::new());
        };
        match event.decode()? {
            PersonEvent::PasswordResetRequested { nonce, expires_at } => {
                self.password_reset_emails(tx, account, person, &nonce, expires_at)
                    .await
            }
            PersonEvent::PersonJoined {
                email,
                name,
                invitation: Some(invitation),
                sponsor,
                ..
            } => {
                let joined = Joined {
                    email: &email,
                    first_name: &name.first,
                    invitation,
                    sponsor,
                };
                self.directly_added_emails(tx, account, joined).await
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Someone an administrator added without confirmation has joined: they are
    /// emailed how to log in, with their password. Sent on the join rather than on the
    /// invitation, so nobody gets a password that does not (yet) let them in. The
    /// password goes into the message only as it is sent (see `withheld`), made from the
    /// invitation's nonce, which cannot change once it was accepted.
    async fn directly_added_emails(
        &self,
        tx: &mut Tx,
        account: AccountId,
        joined: Joined<'_>,
    ) -> Result<Vec<Email>, StoreError> {
        let Some(invited) = invitations::get(&mut **tx, account, joined.invitation).await? else {
            return Ok(Vec::new());
        };
        let Delivery::Direct {
            position,
            confirm: false,
        } = &invited.delivery
        else {
            // They chose their own password through the link.
            return Ok(Vec::new());
        };
        let site = self.public_url.trim_end_matches('/');
        Ok(vec![render::directly_added(&render::DirectlyAdded {
            to: joined.email.as_str(),
            first_name: joined.first_name,
            sponsor_name: &sponsor_name(tx, account, joined.sponsor).await?,
            position: position.as_str(),
            login_url: site,
            workspace_id: &(self.ids.account)(account),
            password_reset_url: &format!("{site}/password-reset/{account}"),
            password: Withheld::InitialPassword {
                invitation: joined.invitation,
                nonce: invited.nonce.clone(),
            },
        })])
    }

    /// The reset link, to the person's own address, while they are active. Like an
    /// invitation's, the link is written from the event's nonce, so it is decided once
    /// with the checkpoint and never sent twice.
    async fn password_reset_emails(
        &self,
        tx: &mut Tx,
        account: AccountId,
        person: PersonId,
        nonce: &str,
        expires_at: Timestamp,
    ) -> Result<Vec<Email>, StoreError> {
        let Some(contact) = contact_of(tx, account, person).await? else {
            return Ok(Vec::new());
        };
        let secret = self.secrets.link_secret(Link::PasswordReset(person), nonce);
        let link = format!(
            "{}/password-reset/{account}/{person}?secret={secret}",
            self.public_url.trim_end_matches('/'),
        );
        Ok(vec![render::password_reset(&render::PasswordReset {
            to: &contact.email,
            first_name: &contact.first_name,
            link: &link,
            expires: &render::utc(expires_at.millis()),
        })])
    }

    /// An invitation's email, when it is issued or sent again (everything but the
    /// nonce comes from the read model, which this projection follows); and a
    /// registration's: to the administrators while it waits for approval, to the
    /// registrant once they decided.
    async fn invitation_emails(
        &self,
        tx: &mut Tx,
        account: AccountId,
        event: &StoredEvent,
    ) -> Result<Vec<Email>, StoreError> {
        let Ok(id) = event.entity_id().parse::<InvitationId>() else {
            return Ok(Vec::new());
        };
        let nonce = match event.decode::<InvitationEvent>()? {
            InvitationEvent::InvitationIssued { nonce, .. } => nonce,
            InvitationEvent::InvitationResent { nonce, .. } => nonce,
            InvitationEvent::RegistrationRequested {
                email,
                name,
                approval: Approval::Required,
                ..
            } => {
                let mut emails = Vec::new();
                for admin in administrators(tx, account).await? {
                    emails.push(render::registration_awaiting(
                        &render::RegistrationAwaiting {
                            to: &admin.email,
                            admin_first_name: &admin.first_name,
                            registrant_name: &name.full(),
                            registrant_email: email.as_str(),
                            registration_id: &(self.ids.registration)(id),
                        },
                    ));
                }
                return Ok(emails);
            }
            // Only an administrator's decision: someone let in at once saw so on the
            // page they registered on.
            InvitationEvent::RegistrationApproved { by: Some(_) } => {
                return registration_decided(tx, account, id, true).await
            }
            InvitationEvent::RegistrationRejected { .. } => {
                return registration_decided(tx, account, id, false).await
            }
            _ => return Ok(Vec::new()),
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
        let sponsor = sponsor_name(tx, account, invited.sponsor).await?;
        let secret = self.secrets.secret_for(id, &nonce);
        let link = format!(
            "{}/invitations/{account}/{id}?secret={secret}",
            self.public_url.trim_end_matches('/'),
        );
        let expires = invited
            .expires_at
            .map(|t| render::utc(t.millis()))
            .unwrap_or_default();
        match &invited.delivery {
            Delivery::Link => {}
            // In at once: the join sends their password instead (`directly_added_emails`).
            Delivery::Direct { confirm: false, .. } => return Ok(Vec::new()),
            Delivery::Direct {
                position,
                confirm: true,
            } => {
                return Ok(vec![render::direct_invitation(&render::DirectInvitation {
                    to: &invited.address,
                    first_name: &invited.first_name,
                    sponsor_name: &sponsor,
                    position: position.as_str(),
                    link: &link,
                    expires: &expires,
                })])
            }
        }
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

/// What a join says that the email to someone added directly needs.
struct Joined<'a> {
    email: &'a domain::Email,
    first_name: &'a str,
    invitation: InvitationId,
    sponsor: Option<PersonId>,
}

/// Who sent an invitation or added someone, as the email names them.
async fn sponsor_name(
    tx: &mut Tx,
    account: AccountId,
    sponsor: Option<PersonId>,
) -> Result<String, StoreError> {
    Ok(match sponsor {
        Some(sponsor) => contact_of(tx, account, sponsor)
            .await?
            .map(|c| c.full_name()),
        None => None,
    }
    .unwrap_or_else(|| "A colleague".to_string()))
}

/// The registrant hears of an administrator's decision. Someone let in at once saw so on
/// the page they registered on, and is not emailed.
async fn registration_decided(
    tx: &mut Tx,
    account: AccountId,
    id: InvitationId,
    approved: bool,
) -> Result<Vec<Email>, StoreError> {
    let Some(registered) = invitations::get(&mut **tx, account, id).await? else {
        return Ok(Vec::new());
    };
    Ok(vec![render::registration_decided(
        &render::RegistrationDecided {
            to: &registered.address,
            first_name: &registered.first_name,
            approved,
        },
    )])
}

/// The trial's warnings and its end, to every active administrator: they are the ones
/// who can choose a plan before extranet users and guests are locked out.
async fn trial_emails(
    tx: &mut Tx,
    account: AccountId,
    event: &StoredEvent,
) -> Result<Vec<Email>, StoreError> {
    let ending = match event.decode::<AccountEvent>()? {
        AccountEvent::TrialEndingSoon { days_left, ends_at } => Some((days_left, ends_at)),
        AccountEvent::TrialExpired => None,
        _ => return Ok(Vec::new()),
    };
    Ok(administrators(tx, account)
        .await?
        .iter()
        .map(|admin| {
            render::trial(&render::Trial {
                to: &admin.email,
                first_name: &admin.first_name,
                ending: ending.map(|(days, at)| (days, render::utc(at.0))),
            })
        })
        .collect())
}

/// The account's active administrators, who decide on registrations.
async fn administrators(tx: &mut Tx, account: AccountId) -> Result<Vec<Contact>, StoreError> {
    let rows = sqlx::query(
        "SELECT email, first_name, last_name FROM people
          WHERE account_id = $1 AND administrator = 1 AND status = 'active'
          ORDER BY person_id",
    )
    .bind(account.to_string())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Contact {
                email: row.try_get("email")?,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
            })
        })
        .collect()
}

/// Every person of the task but the one who made the change hears about it.
async fn task_change_emails(
    tx: &mut Tx,
    account: AccountId,
    event: &StoredEvent,
    followers: &Followers,
) -> Result<Vec<Email>, StoreError> {
    let Ok(task_id) = event.entity_id().parse::<TaskId>() else {
        return Ok(Vec::new());
    };
    let told = event.decode::<TaskEvent>()?;
    let mut skip = event.metadata.actor.into_iter().collect::<Vec<_>>();
    match &told {
        TaskEvent::TaskCreated { .. } => return Ok(Vec::new()),
        // The person added hears about it from their own invitation or role.
        TaskEvent::PersonAssigned { person, .. } => skip.push(*person),
        _ => {}
    }
    // Who is told first: a change nobody else follows (most often someone's own task)
    // needs nothing more read.
    let recipients: Vec<PersonId> = followers
        .get(&(account, task_id))
        .into_iter()
        .flatten()
        .filter(|person| !skip.contains(person))
        .copied()
        .collect();
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    let Some(task) = tasks::get(&mut **tx, account, task_id).await? else {
        return Ok(Vec::new());
    };
    let (title, change) = match told {
        TaskEvent::TaskCreated { .. } => return Ok(Vec::new()),
        TaskEvent::TaskRenamed { title } => {
            (title.clone(), change_phrase(&TaskChange::Title(title)))
        }
        TaskEvent::TaskStatusChanged { status } => (
            task.title.clone(),
            change_phrase(&TaskChange::Status(status)),
        ),
        TaskEvent::TaskDescriptionChanged { description } => (
            task.title.clone(),
            change_phrase(&TaskChange::Description(description)),
        ),
        TaskEvent::TaskDeadlineChanged { deadline } => (
            task.title.clone(),
            change_phrase(&TaskChange::Deadline(deadline)),
        ),
        // One message for every change of one update, named in the order made.
        TaskEvent::TaskUpdated { changes } => {
            let title = changes
                .iter()
                .find_map(|c| match c {
                    TaskChange::Title(title) => Some(title.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| task.title.clone());
            let phrases: Vec<String> = changes.iter().map(change_phrase).collect();
            (title, listed(&phrases))
        }
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
    for person in recipients {
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

/// What a change to one of a task's fields reads as in an email, after the actor's
/// name: "changed the status to completed".
fn change_phrase(change: &TaskChange) -> String {
    match change {
        TaskChange::Title(title) => format!("renamed the task to \"{title}\""),
        TaskChange::Status(status) => format!("changed the status to {}", status.label()),
        TaskChange::Description(_) => "changed the description".to_string(),
        TaskChange::Deadline(Some(at)) => {
            format!("set the deadline to {}", render::utc(at.millis()))
        }
        TaskChange::Deadline(None) => "removed the deadline".to_string(),
    }
}

/// "a", "a and b", "a, b and c".
fn listed(phrases: &[String]) -> String {
    match phrases {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::listed;

    #[test]
    fn changes_are_listed_as_a_sentence() {
        let phrases = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(listed(&phrases(&["renamed it"])), "renamed it");
        assert_eq!(listed(&phrases(&["a", "b"])), "a and b");
        assert_eq!(listed(&phrases(&["a", "b", "c"])), "a, b and c");
    }
}
