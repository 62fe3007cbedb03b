//! What one invitation costs on the command side (a place under the plan's limit on
//! the account, then the invitation), for an account with 10 places taken beside one
//! with 100,000, in the same run and interleaved, on SQLite and on PostgreSQL. The
//! account keeps a count, so the two should cost the same; when it kept the set of
//! holders, loading and snapshotting the big one grew with its people.
//!
//!     cargo bench -p projections --bench seats
//!
//! EXTRANET_BENCH_SEATS=10000 seeds fewer places; EXTRANET_BENCH_INVITES (default 500)
//! is how many invitations each account gets. The places are seeded through the
//! command bus, as the flows take them (about 2 minutes on SQLite and 10 on
//! PostgreSQL for 100,000). Needs PostgreSQL at 127.0.0.1:5432 (trust auth); the bench
//! creates its own databases, as the tests do (`extranet_test_*`, and a file under the
//! temporary directory), and leaves them: drop them after.

use domain::account::{Account, AccountCommand, Plan};
use domain::invitation::{Delivery, Invitation, InvitationCommand, InvitationTarget};
use domain::{AccountId, AccountName, Address, AggregateKey, Email, InvitationId, PersonId};
use projections::commands::CommandBus;
use projections::log::Metadata;
use projections::testing::{fresh_postgres, fresh_sqlite, services, NOW};
use projections::Database;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn metadata() -> Metadata {
    Metadata {
        actor: None,
        at: NOW,
        request_id: None,
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn account_with_seats(bus: &CommandBus, seats: usize) -> AccountId {
    let account = AccountId::new_random();
    let key = AggregateKey::account(account);
    let create = AccountCommand::Create {
        account,
        name: AccountName::parse("Bench").expect("name"),
        plan: Plan::Professional,
    };
    bus.execute::<Account>(key, create, &metadata())
        .await
        .expect("create");
    for _ in 0..seats {
        take_seat(bus, account, PersonId::new_random()).await;
    }
    account
}

async fn take_seat(bus: &CommandBus, account: AccountId, person: PersonId) {
    let take = AccountCommand::TakeSeat {
        person,
        external: false,
        email: None,
    };
    bus.execute::<Account>(AggregateKey::account(account), take, &metadata())
        .await
        .expect("seat");
}

/// The command side of `invite_one`: a place, then the invitation.
async fn invite(bus: &CommandBus, account: AccountId, n: usize) -> Duration {
    let started = Instant::now();
    let person = PersonId::new_random();
    let take = AccountCommand::TakeSeat {
        person,
        external: false,
        email: Some(Email::parse(&format!("p{n}@client.test")).expect("email")),
    };
    bus.execute::<Account>(AggregateKey::account(account), take, &metadata())
        .await
        .expect("seat");
    let invitation = InvitationId::new_random();
    let issue = InvitationCommand::Issue {
        invitation,
        person,
        address: Address::Email(Email::parse(&format!("p{n}@client.test")).expect("email")),
        name: None,
        target: InvitationTarget::Company { department: None },
        sponsor: person,
        delivery: Delivery::Link,
    };
    bus.execute::<Invitation>(AggregateKey::new(account, invitation.0), issue, &metadata())
        .await
        .expect("invite");
    started.elapsed()
}

async fn run(store: &str, db: Database) {
    let seats = setting("EXTRANET_BENCH_SEATS", 100_000);
    let invites = setting("EXTRANET_BENCH_INVITES", 500);
    let bus = CommandBus::new(&db, services());
    let seeding = Instant::now();
    let small = account_with_seats(&bus, 10).await;
    let big = account_with_seats(&bus, seats).await;
    eprintln!(
        "{store}: seeded {seats} places in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let (mut with_small, mut with_big) = (Vec::new(), Vec::new());
    for n in 0..invites {
        with_small.push(invite(&bus, small, 2 * n).await);
        with_big.push(invite(&bus, big, 2 * n + 1).await);
    }
    let big_label = seats.to_string();
    for (label, mut times) in [("10", with_small), (big_label.as_str(), with_big)] {
        times.sort_unstable();
        println!(
            "{store:<10} invitation with {label:>7} seats taken   p50 {:>8.3} ms   p99 {:>8.3} ms   ({} invitations)",
            percentile(&times, 0.50).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0,
            times.len(),
        );
    }
    db.close().await;
}

#[tokio::main]
async fn main() {
    run("SQLite", fresh_sqlite().await).await;
    run("PostgreSQL", fresh_postgres().await).await;
}
