//! Administrators are emailed when the trial is about to end and when it has ended,
//! once each, from the account's events.

use domain::account::{Account, AccountCommand, Plan};
use domain::person::{Person, PersonCommand, PersonKind};
use domain::services::{DomainServices, FixedClock};
use domain::{AccountId, AggregateKey, Email, PersonId, PersonName, Timestamp};
use notifier::outbox::ApiIds;
use notifier::Outbox;
use projections::commands::CommandBus;
use projections::log::Metadata;
use projections::projector::Projector;
use projections::read_model::ReadModels;
use projections::testing::{fresh_postgres, fresh_sqlite, services, NOW};
use projections::Database;
use sqlx::Row;

const DAY: i64 = 24 * 60 * 60 * 1000;

fn at(moment: Timestamp) -> (DomainServices, Metadata) {
    let services = DomainServices {
        clock: std::sync::Arc::new(FixedClock(moment)),
        ..services()
    };
    let metadata = Metadata {
        actor: None,
        at: moment,
        request_id: None,
    };
    (services, metadata)
}

async fn trial_mail_goes_to_administrators(db: Database) {
    let account = AccountId::new_random();
    let (start, metadata) = at(NOW);
    let bus = CommandBus::new(&db, start);
    let create = AccountCommand::Create {
        account,
        name: domain::AccountName::parse("Acme").unwrap(),
        plan: Plan::Trial,
    };
    bus.execute::<Account>(AggregateKey::account(account), create, &metadata)
        .await
        .expect("create the account");
    for (n, administrator) in [(0, true), (1, false)] {
        let person = PersonId::new_random();
        let join = PersonCommand::Join {
            person,
            kind: PersonKind::Employee,
            email: Email::parse(&format!("p{n}@acme.test")).expect("an address"),
            name: PersonName::parse("Pat", &format!("N{n}")).expect("a name"),
            administrator,
            password_hash: String::new(),
            invitation: None,
            sponsor: None,
            previous: None,
        };
        bus.execute::<Person>(AggregateKey::new(account, person.0), join, &metadata)
            .await
            .expect("join");
    }
    let (read_models, leader) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    let outbox = Outbox {
        public_url: "http://x".into(),
        secrets: services().secrets,
        ids: ApiIds::PLAIN,
    };
    let (mail, _) = Projector::new(outbox, db.clone()).await.expect("projector");
    let mail = mail.behind(&leader);

    // A day before the end, then after it; each check twice, as a scheduler would.
    for moment in [
        NOW.0 + 29 * DAY,
        NOW.0 + 29 * DAY,
        NOW.0 + 31 * DAY,
        NOW.0 + 31 * DAY,
    ] {
        let (later, metadata) = at(Timestamp(moment));
        CommandBus::new(&db, later)
            .execute::<Account>(
                AggregateKey::account(account),
                AccountCommand::CheckTrial,
                &metadata,
            )
            .await
            .expect("check the trial");
    }
    read_models.catch_up_to_head().await.expect("read models");
    mail.catch_up_to_head().await.expect("notifier");

    let rows = sqlx::query("SELECT recipient, subject, body FROM outbox ORDER BY created_at")
        .fetch_all(&db.any)
        .await
        .expect("read the outbox");
    let sent: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.get("recipient"), r.get("subject")))
        .collect();
    assert_eq!(
        sent,
        vec![
            (
                "p0@acme.test".to_string(),
                "Your trial ends in 1 day".to_string()
            ),
            (
                "p0@acme.test".to_string(),
                "Your trial has ended".to_string()
            ),
        ],
        "the administrator alone, once for the warning and once for the end"
    );
    let body: String = rows[0].get("body");
    assert!(body.contains("extranet users and guests"), "{body}");
}

#[tokio::test]
async fn on_sqlite() {
    trial_mail_goes_to_administrators(fresh_sqlite().await).await;
}

#[tokio::test]
async fn on_postgres() {
    trial_mail_goes_to_administrators(fresh_postgres().await).await;
}
