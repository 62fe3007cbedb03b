//! The doors (GraphQL resolvers in `src/graphql/`, HTML pages in `src/pages/`) only
//! parse, call one use case and show its outcome: nothing there runs a command itself
//! or chains commands. Only `src/usecase/` does, so a flow is written once, whichever
//! door it is asked through.
//!
//! Read from the sources, since the rule is about where code lives.

use std::path::{Path, PathBuf};

/// What runs a command, or one step of a multi-command flow.
const RUNS_A_COMMAND: &[&str] = &[
    ".execute::<",
    "bus.execute",
    "CommandBus",
    "claim_email",
    "give_back_email",
];

/// The generic path for a single command; a door may call it once per function.
const ONE_COMMAND: &str = "command::run::<";

/// Every breach of the rule in one source file, as "file:line: what".
fn breaches(name: &str, source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut runs_in_fn = 0;
    let mut fn_line = 0;
    for (number, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if code.trim_start().starts_with("fn ")
            || code.contains(" fn ")
            || code.trim_start().starts_with("async fn ")
        {
            runs_in_fn = 0;
            fn_line = number + 1;
        }
        for pattern in RUNS_A_COMMAND {
            if code.contains(pattern) {
                found.push(format!(
                    "{name}:{}: runs a command itself (`{pattern}`): move it into a use case",
                    number + 1
                ));
            }
        }
        runs_in_fn += code.matches(ONE_COMMAND).count();
        if runs_in_fn > 1 && code.contains(ONE_COMMAND) {
            found.push(format!(
                "{name}:{}: the function from line {fn_line} runs more than one command: make it a use case",
                number + 1
            ));
        }
    }
    found
}

fn sources_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    files
}

#[test]
fn resolvers_and_pages_run_no_command_themselves() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut read = 0;
    for door in ["graphql", "pages"] {
        for file in sources_in(&src.join(door)) {
            let source = std::fs::read_to_string(&file).unwrap();
            let name = file.strip_prefix(&src).unwrap().display().to_string();
            found.extend(breaches(&name, &source));
            read += 1;
        }
    }
    assert!(
        read > 10,
        "only {read} door files were read: has the layout moved?"
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_check_sees_a_door_that_chains_commands() {
    let chained = r#"
async fn reinstate(ctx: &Context<'_>) -> Result<Payload, ApiError> {
    state.claim_email(account, &email, person, actor).await;
    state.execute::<Account>(key, seat, actor).await;
}

async fn twice(ctx: &Context<'_>) -> Result<Payload, ApiError> {
    command::run::<Task>(state, key, first, actor).await;
    command::run::<Task>(state, key, second, actor).await;
}

async fn once(ctx: &Context<'_>) -> Result<Payload, ApiError> {
    // state.execute::<Task> in a comment is no call
    command::run::<Task>(state, key, only, actor).await;
}
"#;
    let found = breaches("planted.rs", chained);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("planted.rs:3:"), "{}", found[0]);
    assert!(found[1].starts_with("planted.rs:4:"), "{}", found[1]);
    assert!(found[2].contains("more than one command"), "{}", found[2]);
}
