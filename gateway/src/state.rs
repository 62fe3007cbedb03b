//! What every request handler shares.

use cqrs_es::Aggregate;
use domain::email_claim::{EmailClaim, EmailClaimCommand, EmailClaimError};
use domain::invitation::SecretKey;
use domain::person::Person;
use domain::services::{Clock, DomainServices};
use domain::{AccountId, AggregateKey, Email, PersonId};
use projections::batch::Batch;
use projections::commands::{CommandBus, CommandError, Handles};
use projections::log::Metadata;
use projections::permission::{Permissions, Viewer};
use projections::projector::{Projector, ProjectorHandle};
use projections::read_model::ReadModels;
use projections::session::Sessions;
use projections::{Database, EventLog, LogPosition, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a command waits for the read models to include its events, unless the
/// settings say otherwise (`--command-wait-ms`).
pub const COMMAND_WAIT: Duration = Duration::from_secs(10);

/// How claiming an address for a person went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The address is the person's now (or already was).
    Theirs,
    /// Someone else in the account has it.
    TakenByOther,
}

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub bus: Arc<CommandBus>,
    pub permissions: Permissions,
    pub sessions: Sessions,
    pub read_models: ProjectorHandle,
    pub clock: Arc<dyn Clock>,
    /// Checks invitation links before a page shows anything about the invitation.
    pub secrets: SecretKey,
    /// How long a command waits for the read models to put it in force.
    pub command_wait: Duration,
}

impl AppState {
    /// The state over an open store, and the read-model projector its commands wait
    /// for: the caller runs the projector (the composition root, or a test).
    pub async fn open(
        db: Database,
        services: DomainServices,
    ) -> Result<(Self, Projector<ReadModels>), StoreError> {
        let (projector, read_models) = Projector::new(ReadModels, db.clone()).await?;
        let state = Self {
            bus: Arc::new(CommandBus::new(&db, services.clone())),
            permissions: Permissions::start(db.clone(), read_models.clone()).await?,
            sessions: Sessions::new(db.clone()),
            read_models,
            clock: services.clock.clone(),
            secrets: services.secrets,
            command_wait: COMMAND_WAIT,
            db,
        };
        Ok((state, projector))
    }

    /// The same state, with commands waiting `wait` for the read models.
    pub fn with_command_wait(mut self, wait: Duration) -> Self {
        self.command_wait = wait;
        self
    }

    /// Runs a command on behalf of `actor` and returns once the read models include
    /// its events, so the caller reads its own writes and the permission checks of
    /// the next request see the change. When the read models are stalled short of
    /// them, it answers at once that the change is recorded but cannot be shown
    /// ([`CommandError::ReadModelsStalled`]); when they do not reach them within the
    /// wait, that it is recorded but not yet in force ([`CommandError::NotYetInForce`]).
    /// Never success for a change that the next request might not see: a revocation
    /// answered as done must be done.
    pub async fn execute<A>(
        &self,
        key: AggregateKey,
        command: A::Command,
        actor: Option<PersonId>,
    ) -> Result<(), CommandError<A::Error>>
    where
        A: Aggregate<Services = DomainServices> + Clone + 'static,
        A::Command: Clone,
        CommandBus: Handles<A>,
    {
        let position = self
            .bus
            .execute::<A>(key, command, &self.metadata(actor))
            .await?;
        self.shown(position).await
    }

    /// An empty batch of commands on behalf of `actor`: many commands decided at
    /// once and stored together (`projections::batch`); show its effects with
    /// [`AppState::shown`].
    pub fn batch(&self, actor: Option<PersonId>) -> Batch<'_> {
        self.bus.batch(&self.metadata(actor))
    }

    fn metadata(&self, actor: Option<PersonId>) -> Metadata {
        Metadata {
            actor,
            at: self.clock.now(),
            request_id: None,
        }
    }

    /// Returns once the read models include everything up to `position`, with the
    /// refusals [`AppState::execute`] describes.
    pub async fn shown<E: std::error::Error>(
        &self,
        position: LogPosition,
    ) -> Result<(), CommandError<E>> {
        let shown = self.read_models.caught_up_or_stalled(position);
        match tokio::time::timeout(self.command_wait, shown).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(stall)) => Err(CommandError::ReadModelsStalled(Box::new(stall))),
            Err(_) => {
                tracing::warn!(
                    ?position,
                    waited = ?self.command_wait,
                    "a change is stored but the read models did not reach it in time: \
                     answered as not yet in force"
                );
                // Known behind now: checks wait for the change rather than allow
                // what it revokes.
                self.permissions.not_yet_in_force(position);
                Err(CommandError::NotYetInForce {
                    waited: self.command_wait,
                })
            }
        }
    }

    /// Claims `email` for `person`: one current person per address in an account, and
    /// racing claims meet on the address's own stream.
    pub async fn claim_email(
        &self,
        account: AccountId,
        email: &Email,
        person: PersonId,
        actor: Option<PersonId>,
    ) -> Result<Claim, CommandError<EmailClaimError>> {
        let claim = EmailClaimCommand::Claim {
            email: email.clone(),
            person,
        };
        let key = EmailClaim::key(account, email, &self.secrets);
        match self.execute::<EmailClaim>(key, claim, actor).await {
            Ok(()) => Ok(Claim::Theirs),
            Err(CommandError::Refused(EmailClaimError::Taken { .. })) => Ok(Claim::TakenByOther),
            Err(e) => Err(e),
        }
    }

    /// The person of the account whose address `email` is now: the holder of its
    /// claim, if that person has joined and is not dismissed or erased. The claim of a
    /// dismissed person is released by the reactor a moment later; until then it is
    /// theirs on paper only, and an invitation may already be sent to the address.
    /// Both facts come from the aggregates that own them, never a read model that may
    /// lag a dismissal or a new member.
    pub async fn holder_of(
        &self,
        account: AccountId,
        email: &Email,
    ) -> Result<Option<PersonId>, StoreError> {
        let holders = self
            .holders_of(account, std::slice::from_ref(email))
            .await?;
        Ok(holders.get(email).copied())
    }

    /// [`AppState::holder_of`] for many addresses at once, in a few statements: the
    /// addresses that have a holder now, with that person.
    pub async fn holders_of(
        &self,
        account: AccountId,
        emails: &[Email],
    ) -> Result<HashMap<Email, PersonId>, StoreError> {
        let log = EventLog::new(self.db.clone());
        let keys: Vec<AggregateKey> = emails
            .iter()
            .map(|email| EmailClaim::key(account, email, &self.secrets))
            .collect();
        let claims = log.fold_many::<EmailClaim>(&keys).await?;
        let claimed: Vec<(&Email, PersonId)> = emails
            .iter()
            .zip(&keys)
            .filter_map(|(email, key)| Some((email, claims.get(&key.to_string())?.holder()?)))
            .collect();
        let people: Vec<AggregateKey> = claimed
            .iter()
            .map(|(_, holder)| AggregateKey::new(account, holder.0))
            .collect();
        let people = log.fold_many::<Person>(&people).await?;
        Ok(claimed
            .into_iter()
            .filter(|(_, holder)| {
                people
                    .get(&AggregateKey::new(account, holder.0).to_string())
                    .is_some_and(Person::holds_an_address)
            })
            .map(|(email, holder)| (email.clone(), holder))
            .collect())
    }

    /// Gives back an address claimed for something that then failed; a failure here
    /// is logged, not returned, since the caller is already answering with the first.
    pub async fn give_back_email(
        &self,
        account: AccountId,
        email: &Email,
        person: PersonId,
        actor: Option<PersonId>,
    ) {
        let release = EmailClaimCommand::Release { person };
        let key = EmailClaim::key(account, email, &self.secrets);
        if let Err(error) = self.execute::<EmailClaim>(key, release, actor).await {
            tracing::warn!(%error, %person, "an address claimed for a change that failed was not given back");
        }
    }

    /// The active person a session token belongs to. Anyone no longer active is no
    /// viewer, whatever their token says. While the read models are known to be stale
    /// (stalled, behind, or short of a change answered as not yet in force) a session
    /// is not read at all: the person it names may be dismissed in an event they have
    /// not applied, so the answer is [`StoreError::Unavailable`], as for any check.
    pub async fn viewer(&self, token: &str) -> Result<Option<Viewer>, StoreError> {
        let Some((viewer, read_models_at)) = self.sessions.viewer(token, self.clock.now()).await?
        else {
            return Ok(None);
        };
        // Another process may have applied a revocation this one has not heard of
        // yet; the permission checks of this request catch up to it first.
        self.read_models.observe(read_models_at);
        if let Some(why) = self.permissions.unavailable() {
            return Err(why.into());
        }
        Ok(viewer)
    }
}
