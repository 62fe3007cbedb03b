//! `extranet rebuild`: the projections' tables replayed from the log and switched over
//! while the service runs (see `projections::rebuild`), with progress for the operator:
//! a bar on a terminal, a log line every few seconds everywhere.

use crate::config::{RebuildArgs, Settings};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
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

/// A bar per projection (drawn only on a terminal; two replay side by side) and a log
/// line every few seconds for each.
struct Shown {
    bars: MultiProgress,
    replays: Vec<Replay>,
}

/// One projection's bar, where its replay started, and when it was last logged.
struct Replay {
    projection: &'static str,
    bar: ProgressBar,
    since: (Instant, u64),
    logged: Instant,
}

impl Default for Shown {
    fn default() -> Self {
        Shown {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            replays: Vec::new(),
        }
    }
}

impl Shown {
    fn update(&mut self, p: Progress) {
        let now = Instant::now();
        let at = match self
            .replays
            .iter()
            .position(|r| r.projection == p.projection)
        {
            Some(at) => at,
            None => {
                let bar = self.bars.add(ProgressBar::new(p.total));
                if let Ok(style) = ProgressStyle::with_template(
                    "{msg:12} [{bar:40}] {pos}/{len} events, {per_sec}, eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(p.projection);
                bar.set_position(p.applied);
                bar.reset_eta();
                tracing::info!(
                    projection = p.projection,
                    from = p.applied,
                    total = p.total,
                    "replaying"
                );
                self.replays.push(Replay {
                    projection: p.projection,
                    bar,
                    since: (now, p.applied),
                    logged: now,
                });
                self.replays.len() - 1
            }
        };
        let replay = &mut self.replays[at];
        replay.bar.set_length(p.total);
        replay.bar.set_position(p.applied);
        if now - replay.logged >= LOG_EVERY {
            replay.logged = now;
            let (start, from) = replay.since;
            let secs = (now - start).as_secs_f64();
            let rate = if secs > 0.0 {
                (p.applied - from.min(p.applied)) as f64 / secs
            } else {
                0.0
            };
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
        for replay in self.replays.drain(..) {
            replay.bar.finish();
        }
    }
}
