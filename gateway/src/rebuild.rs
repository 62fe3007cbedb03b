//! `extranet rebuild`: the projections' tables replayed from the log and switched over
//! while the service runs (see `projections::rebuild`), with progress for the operator:
//! a bar on a terminal, a log line every few seconds everywhere.

use crate::config::{RebuildArgs, Settings};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use projections::rebuild::{Progress, Rebuild, RebuildError};
use projections::{Database, StoreError};
use std::time::{Duration, Instant};

const LOG_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum RebuildCommandError {
    #[error("could not open the database: {0}")]
    Open(#[from] StoreError),
    #[error("the rebuild failed: {0}")]
    Rebuild(#[from] RebuildError),
}

pub async fn run(settings: &Settings, args: RebuildArgs) -> Result<(), RebuildCommandError> {
    let url = settings.database_url();
    let live = Database::open(&url).await?;
    let rebuild = Rebuild {
        url,
        fresh: args.fresh,
        batch: args.batch_size,
    };
    let mut shown = Shown::default();
    let outcome = rebuild.run(&live, &mut |p| shown.update(p)).await;
    shown.finish();
    live.close().await;
    let outcome = outcome?;
    let seconds = outcome.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        outcome.replayed as f64 / seconds
    } else {
        0.0
    };
    tracing::info!(
        projections = ?outcome.projections,
        replayed = outcome.replayed,
        resumed = outcome.resumed,
        seconds,
        "rebuild switched over"
    );
    println!(
        "rebuilt {} from the log{}: {} events replayed in {:.1} s ({:.0} events/s); live tables switched over",
        outcome.projections.join(", "),
        if outcome.resumed { " (resumed an interrupted rebuild)" } else { "" },
        outcome.replayed,
        seconds,
        rate,
    );
    Ok(())
}

/// The bar (drawn only on a terminal) and the periodic log line.
#[derive(Default)]
struct Shown {
    bar: Option<(&'static str, ProgressBar)>,
    since: Option<(Instant, u64)>,
    logged: Option<Instant>,
}

impl Shown {
    fn update(&mut self, p: Progress) {
        let fresh_projection = self.bar.as_ref().map(|(name, _)| *name) != Some(p.projection);
        if fresh_projection {
            self.finish();
            let bar = ProgressBar::with_draw_target(Some(p.total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:12} [{bar:40}] {pos}/{len} events, {per_sec}, eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(p.projection);
            bar.set_position(p.applied);
            bar.reset_eta();
            self.bar = Some((p.projection, bar));
            self.since = Some((Instant::now(), p.applied));
            tracing::info!(
                projection = p.projection,
                from = p.applied,
                total = p.total,
                "replaying"
            );
        }
        if let Some((_, bar)) = &self.bar {
            bar.set_length(p.total);
            bar.set_position(p.applied);
        }
        let now = Instant::now();
        if self.logged.is_none_or(|at| now - at >= LOG_EVERY) {
            self.logged = Some(now);
            let rate = self.since.map_or(0.0, |(start, from)| {
                let secs = (now - start).as_secs_f64();
                if secs > 0.0 {
                    (p.applied - from.min(p.applied)) as f64 / secs
                } else {
                    0.0
                }
            });
            tracing::info!(
                projection = p.projection,
                applied = p.applied,
                total = p.total,
                events_per_sec = rate.round(),
                "rebuilding"
            );
        }
    }

    fn finish(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish();
        }
    }
}
