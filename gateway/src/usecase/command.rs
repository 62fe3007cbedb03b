//! Every mutation that is one command on one aggregate, once the door has checked
//! what the viewer may do: run `command` on `key` as `actor` and wait until the read
//! models show it. The input is the aggregate's own command, the refusal its own
//! typed error; `actor` is `None` for someone without a session (a declined
//! invitation link).

use crate::state::AppState;
use cqrs_es::Aggregate;
use domain::services::DomainServices;
use domain::{AggregateKey, PersonId};
use projections::commands::{CommandBus, CommandError, Handles};

pub async fn run<A>(
    state: &AppState,
    key: AggregateKey,
    command: A::Command,
    actor: Option<PersonId>,
) -> Result<(), CommandError<A::Error>>
where
    A: Aggregate<Services = DomainServices> + Clone + 'static,
    A::Command: Clone,
    CommandBus: Handles<A>,
{
    state.execute::<A>(key, command, actor).await
}
