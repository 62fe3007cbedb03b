//! Fail points between the steps of a flow across aggregates (a seat, then an
//! invitation), so end-to-end tests can stop a flow midway and see that what it had
//! taken is given back (`projections::holds`). Off unless `FAILPOINTS` names one.
//!
//! `name=return` makes the flow fail there, as a store error would. `name=return(hang)`
//! holds the flow there until the request is dropped or the process is killed, without
//! blocking a runtime thread (the fail crate's own `pause` would block one).

/// The flow was stopped at a fail point.
#[derive(Debug, thiserror::Error)]
#[error("stopped at fail point {0}")]
pub struct StoppedAt(pub &'static str);

/// Passes unless the fail point `name` is on.
pub async fn between_steps(name: &'static str) -> Result<(), StoppedAt> {
    match fail::eval(name, |arg| arg) {
        None => Ok(()),
        Some(Some(arg)) if arg == "hang" => {
            tracing::warn!(fail_point = name, "flow held at a fail point");
            std::future::pending::<()>().await;
            Ok(())
        }
        Some(_) => Err(StoppedAt(name)),
    }
}
