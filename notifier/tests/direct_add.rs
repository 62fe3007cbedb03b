//! People an administrator adds directly are emailed once: without confirmation, when
//! they have joined, with a password the outbox never holds; with confirmation, a link.

use domain::account::{Account, AccountCommand, Plan};
use domain::invitation::{Delivery, Invitation, InvitationCommand, InvitationTarget};
use domain::person::{Person, PersonCommand, PersonKind};
use domain::{
    AccountId, Address, AggregateKey, Email, InvitationId, PersonId, PersonName, Position,
};
use notifier::outbox::ApiIds;
use notifier::sender::Sender;
use notifier::{Mailer, Outbox};
use projections::commands::CommandBus;
use projections::projector::Projector;
use projections::read_model::ReadModels;
use projections::testing::{fresh_postgres, fresh_sqlite, services, system_change};
use projections::Database;
use sqlx::Row;

struct Added {
    account: AccountId,
    nora: InvitationId,
    cleo: InvitationId,
}

/// Ada adds Nora without confirmation (who then joins, as the gateway does it) and Cleo
/// with confirmation (who has not chosen her password yet).
async fn add_two(db: &Database) -> Added {
    let bus = CommandBus::new(db, services());
    let metadata = system_change();
    let account = AccountId::new_random();
    let create = AccountCommand::Create {
        account,
        name: domain::AccountName::parse("Acme").unwrap(),
        plan: Plan::Standard,
    };
    bus.execute::<Account>(AggregateKey::account(account), create, &metadata)
        .await
        .expect("create the account");
    let ada = PersonId::new_random();
    let join = PersonCommand::Join {
        person: ada,
        kind: PersonKind::Employee,
        email: Email::parse("ada@acme.test").expect("an address"),
        name: PersonName::parse("Ada", "Admin").expect("a name"),
        administrator: true,
        password_hash: String::new(),
        invitation: None,
        sponsor: None,
        previous: None,
    };
    bus.execute::<Person>(AggregateKey::new(account, ada.0), join, &metadata)
        .await
        .expect("the administrator joins");

    let mut ids = Vec::new();
    for (address, first, confirm) in [
        ("nora@acme.test", "Nora", false),
        ("cleo@acme.test", "Cleo", true),
    ] {
        let (invitation, person) = (InvitationId::new_random(), PersonId::new_random());
        let issue = InvitationCommand::Issue {
            invitation,
            person,
            address: Address::Email(Email::parse(address).expect("an address")),
            name: Some(PersonName::parse(first, "New").expect("a name")),
            target: InvitationTarget::Company { department: None },
            sponsor: ada,
            delivery: Delivery::Direct {
                position: Position::parse("Buyer").expect("a position"),
                confirm,
            },
        };
        let key = AggregateKey::new(account, invitation.0);
        bus.execute::<Invitation>(key, issue, &metadata)
            .await
            .expect("issue");
        if !confirm {
            let secret = services().secrets.secret_for(invitation, "n");
            bus.execute::<Invitation>(key, InvitationCommand::Accept { secret }, &metadata)
                .await
                .expect("accept");
            let join = PersonCommand::Join {
                person,
                kind: PersonKind::Employee,
                email: Email::parse(address).expect("an address"),
                name: PersonName::parse(first, "New").expect("a name"),
                administrator: false,
                password_hash: "$argon2id$stub".into(),
                invitation: Some(invitation),
                sponsor: Some(ada),
                previous: None,
            };
            bus.execute::<Person>(AggregateKey::new(account, person.0), join, &metadata)
                .await
                .expect("join");
        }
        ids.push(invitation);
    }
    Added {
        account,
        nora: ids[0],
        cleo: ids[1],
    }
}

/// Follows the log up to its head, as `serve` does: the read models, then the outbox.
async fn notify(db: &Database) {
    let (read_models, leader) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    let outbox = Outbox {
        public_url: "http://x.test/".into(),
        secrets: services().secrets,
        ids: ApiIds::PLAIN,
    };
    let (mail, _) = Projector::new(outbox, db.clone()).await.expect("projector");
    read_models.catch_up_to_head().await.expect("read models");
    mail.behind(&leader)
        .catch_up_to_head()
        .await
        .expect("notifier");
}

/// Every row of the outbox, every column as text.
async fn outbox_text(db: &Database) -> Vec<String> {
    let rows = sqlx::query(
        "SELECT message_key, recipient, subject, body, COALESCE(withheld, '') AS withheld,
                COALESCE(last_error, '') AS last_error
           FROM outbox ORDER BY recipient",
    )
    .fetch_all(&db.any)
    .await
    .expect("read the outbox");
    rows.iter()
        .map(|r| {
            [
                "message_key",
                "recipient",
                "subject",
                "body",
                "withheld",
                "last_error",
            ]
            .iter()
            .map(|c| r.get::<String, _>(*c))
            .collect::<Vec<_>>()
            .join("\u{0}")
        })
        .collect()
}

async fn each_is_emailed_once_and_the_password_only_on_the_way_out(db: Database) {
    let added = add_two(&db).await;
    notify(&db).await;
    notify(&db).await; // A restart: the checkpoint holds, nothing is decided twice.
    let password = services().secrets.initial_password(added.nora, "n");

    let rows = outbox_text(&db).await;
    assert_eq!(rows.len(), 2, "one message each: {rows:#?}");
    let (cleo, nora) = (&rows[0], &rows[1]);
    assert!(
        cleo.starts_with(&format!("{}:{}/", added.account, added.cleo)),
        "{cleo}"
    );
    assert!(cleo.contains("cleo@acme.test\u{0}Ada Admin added you to the workspace"));
    assert!(cleo.contains(&format!(
        "http://x.test/invitations/{}/{}?secret=",
        added.account, added.cleo
    )));
    assert!(cleo.ends_with("\u{0}\u{0}"), "no withheld secret: {cleo}");
    assert!(nora.contains("nora@acme.test\u{0}Ada Admin added you to the workspace"));
    assert!(nora.contains("as Buyer."), "{nora}");
    assert!(nora.contains(notifier::withheld::SLOT), "{nora}");
    assert!(nora.contains("initial_password"), "{nora}");
    for row in &rows {
        assert!(
            !row.contains(&password),
            "the outbox holds the password: {row}"
        );
    }

    let dir = std::env::temp_dir().join(format!("extranet-mail-{}", uuid::Uuid::new_v4()));
    let sender = Sender {
        db: db.clone(),
        mailer: Mailer::files(dir.clone()),
        from: "Extranet <no-reply@x.test>".parse().expect("a mailbox"),
        clock: services().clock,
        secrets: services().secrets,
    };
    assert_eq!(sender.deliver_due().await.expect("deliver"), 2);
    assert_eq!(sender.deliver_due().await.expect("deliver"), 0, "sent once");
    let mut sent = Vec::new();
    for file in std::fs::read_dir(&dir).expect("the mail folder") {
        sent.push(std::fs::read_to_string(file.expect("a file").path()).expect("a message"));
    }
    let with_password: Vec<&String> = sent.iter().filter(|m| m.contains(&password)).collect();
    assert_eq!(with_password.len(), 1, "{sent:#?}");
    assert!(
        with_password[0].contains("To: nora@acme.test"),
        "{}",
        with_password[0]
    );
    assert!(with_password[0].contains(&format!("Password:  {password}")));
    assert!(sent.iter().all(|m| !m.contains(notifier::withheld::SLOT)));
    for row in outbox_text(&db).await {
        assert!(!row.contains(&password), "sent, and still not held: {row}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn on_sqlite() {
    each_is_emailed_once_and_the_password_only_on_the_way_out(fresh_sqlite().await).await;
}

#[tokio::test]
async fn on_postgres() {
    each_is_emailed_once_and_the_password_only_on_the_way_out(fresh_postgres().await).await;
}
