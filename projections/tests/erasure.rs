//! Erasing a person's personal data: the log keeps every event, byte for byte, and
//! nothing in it, in the read models or in a rebuild says their name or address again.

mod support;

use support::{services, system_change as meta};

use domain::email_claim::{EmailClaim, EmailClaimCommand};
use domain::person::{Person, PersonCommand, PersonKind};
use domain::{AccountId, AggregateKey, Email, PersonId, PersonName};
use projections::commands::CommandBus;
use projections::projector::Projector;
use projections::read_model::ReadModels;
use projections::{directory, Backend, Database, EventLog, LogPosition};

/// Every stored payload as the database holds it.
async fn raw_log(db: &Database) -> Vec<String> {
    let payload = match db.backend {
        Backend::Postgres => "payload::text",
        Backend::Sqlite => "payload",
    };
    let rows: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT {payload} AS p FROM events ORDER BY global_position"
    ))
    .fetch_all(&db.any)
    .await
    .expect("read raw log");
    rows.into_iter().map(|(p,)| p).collect()
}

async fn erasure_leaves_the_log_whole_and_unreadable(db: Database) {
    let bus = CommandBus::new(&db, services());
    let account = AccountId::new_random();
    let person = PersonId::new_random();
    let email = Email::parse("zoe.private@client.test").expect("email");
    let key = AggregateKey::new(account, person.0);
    bus.execute::<EmailClaim>(
        EmailClaim::key(account, &email, bus.secrets()),
        EmailClaimCommand::Claim {
            email: email.clone(),
            person,
        },
        &meta(),
    )
    .await
    .expect("claim");
    bus.execute::<Person>(
        key,
        PersonCommand::Join {
            person,
            kind: PersonKind::Guest,
            email: email.clone(),
            name: PersonName::parse("Zoe", "Privacy").expect("name"),
            administrator: false,
            password_hash: "$argon2id$stub".into(),
            invitation: None,
            sponsor: None,
            previous: None,
        },
        &meta(),
    )
    .await
    .expect("join");
    let (projector, _) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    projector.catch_up_to_head().await.expect("project");

    // Sealed at rest, readable through the store while the key exists.
    let before = raw_log(&db).await;
    assert!(
        before
            .iter()
            .all(|p| !p.contains("zoe.private") && !p.contains("Privacy")),
        "{before:?}"
    );
    assert!(before.iter().any(|p| p.contains("sealed:v1:")));
    let record = directory::by_id(&db, account, person)
        .await
        .expect("read")
        .expect("person");
    assert_eq!(
        (record.email.as_str(), record.last_name.as_str()),
        ("zoe.private@client.test", "Privacy")
    );

    for command in [PersonCommand::Dismiss, PersonCommand::ErasePersonalData] {
        bus.execute::<Person>(key, command, &meta())
            .await
            .expect("dismiss, erase");
    }
    projector.catch_up_to_head().await.expect("project");

    // The log still holds every event it held, unchanged, plus the two new ones.
    let after = raw_log(&db).await;
    assert_eq!(
        after[..before.len()],
        before[..],
        "no stored event was rewritten"
    );
    assert_eq!(after.len(), before.len() + 2);

    // Nothing reads it any more: not the read models, not the log, not a rebuild.
    let record = directory::by_id(&db, account, person)
        .await
        .expect("read")
        .expect("person");
    assert_eq!(
        (record.email.as_str(), record.first_name.as_str()),
        ("", "")
    );
    let replayed = EventLog::new(db.clone())
        .read(LogPosition::START, LogPosition::END, 1000)
        .await
        .expect("read the log");
    let text: String = replayed.iter().map(|e| e.payload.to_string()).collect();
    assert!(
        !text.contains("zoe.private") && !text.contains("Privacy"),
        "{text}"
    );
    assert!(
        replayed.iter().any(|e| e.event_type == "PersonJoined"),
        "the join is still on record"
    );
    sqlx::query("DELETE FROM people")
        .execute(&db.any)
        .await
        .expect("drop read model rows");
    sqlx::query("DELETE FROM checkpoints")
        .execute(&db.any)
        .await
        .expect("forget checkpoint");
    let (rebuild, _) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    rebuild.catch_up_to_head().await.expect("rebuild");
    let record = directory::by_id(&db, account, person)
        .await
        .expect("read")
        .expect("person");
    assert_eq!(record.email, "", "a rebuild cannot bring the address back");

    // The aggregate still loads, so the person's id and history stay usable.
    let again = bus
        .execute::<Person>(key, PersonCommand::ErasePersonalData, &meta())
        .await;
    assert!(again.is_ok(), "erasing twice changes nothing: {again:?}");
}

#[tokio::test]
async fn postgres_erasure_leaves_the_log_whole_and_unreadable() {
    erasure_leaves_the_log_whole_and_unreadable(support::fresh_postgres().await).await;
}

#[tokio::test]
async fn sqlite_erasure_leaves_the_log_whole_and_unreadable() {
    erasure_leaves_the_log_whole_and_unreadable(support::fresh_sqlite().await).await;
}
