use clap::Parser;
use gateway::app::Application;
use gateway::config::{Cli, Command, LogFormat};
use gateway::graphql::global_id::id_of;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // Parsed first: the settings say how to log. A bad flag is reported by clap itself.
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never escape codes in a log file.
        .with_ansi(std::io::stderr().is_terminal());
    match cli.settings.log_format {
        LogFormat::Text => logs.init(),
        // One JSON object a line; the fields of the enclosing spans (a request's
        // `request_id`, `method`, `route`) come along in `span` and `spans`.
        LogFormat::Json => logs.json().init(),
    }
    // Fail points are for tests (`FAILPOINTS=name=action;...`, see the `fail` crate);
    // a process that runs with any is told loudly, since it may stop on purpose.
    let _fail_points = fail::FailScenario::setup();
    if let Ok(points) = std::env::var("FAILPOINTS") {
        tracing::warn!(%points, "fail points are switched on: this process will fail on purpose");
    }
    let result = match cli.command {
        Command::Schema => {
            print!("{}", gateway::graphql::sdl());
            Ok(())
        }
        Command::CreateAccount(args) => {
            gateway::cli::create_account(&cli.settings, args)
                .await
                .map(|created| {
                    // The API's ids, for `login` and for comparing with `viewer { id }`; the
                    // links' own form of the account (`/register/{uuid}`) last.
                    println!("account {}", id_of(created.account).as_str());
                    println!("administrator {}", id_of(created.administrator).as_str());
                    println!("account-in-links {}", created.account);
                })
                .map_err(|e| e.to_string())
        }
        Command::Serve => serve(cli.settings).await,
        Command::Rebuild(args) => gateway::rebuild::run(&cli.settings, args)
            .await
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: gateway::config::Settings) -> Result<(), String> {
    // A flow runs inside its request, so the request timeout bounds it; a shorter hold
    // deadline could sweep a place a flow still running is about to take up.
    if settings.hold_deadline() <= settings.request_timeout() {
        tracing::warn!(
            hold_deadline = ?settings.hold_deadline(),
            request_timeout = ?settings.request_timeout(),
            "the hold deadline is not longer than the request timeout: a slow invitation \
             could have its place given back before it is issued (the count then ends one low)"
        );
    }
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    // Tests and scripts wait for this line; with port 0 it is how they learn the port.
    println!("listening on http://{}", app.address());
    app.run_until_stopped().await.map_err(|e| e.to_string())
}
