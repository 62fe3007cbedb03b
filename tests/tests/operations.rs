//! What an operator looks at: health and readiness, and how far the followers of the
//! log lag.

use e2e::{App, Auth, Backend, SmtpSink};
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::{Duration, Instant};

/// The value of one metric line, e.g. `extranet_projector_lag_events{projection="read_models"}`.
fn metric(body: &str, name: &str) -> Option<i64> {
    body.lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line[name.len()..].trim().parse().ok())
}

#[tokio::test]
async fn health_and_lag_are_reported() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let health = app.get("/healthz", &Auth::Anonymous).await;
    assert_eq!((health.status.as_u16(), health.body.as_str()), (200, "ok"));

    let admin = app.login_admin().await;
    let task = app.create_task(&admin, "Check the proofs", None).await;
    app.invite_guest(&admin, &task, "gus@client.test", "Gus", "Guest", "OBSERVER")
        .await;

    // A mutation returns after the read models hold it: no lag there.
    let read_models = r#"extranet_projector_lag_events{projection="read_models"}"#;
    let notifier = r#"extranet_projector_lag_events{projection="notifier"}"#;
    let metrics = app.get("/metrics", &Auth::Anonymous).await;
    assert_eq!(metrics.status.as_u16(), 200);
    assert_eq!(
        metric(&metrics.body, read_models),
        Some(0),
        "{}",
        metrics.body
    );
    assert!(
        metric(&metrics.body, notifier).is_some(),
        "{}",
        metrics.body
    );

    // The notifier follows, sends, and its queue empties.
    smtp.wait_for_mail_to("gus@client.test").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = app.get("/metrics", &Auth::Anonymous).await.body;
        let settled = metric(&body, notifier) == Some(0)
            && metric(&body, "extranet_notifier_queue_emails") == Some(0);
        if settled {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notifier did not catch up:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ready_only_while_the_database_answers() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let database = app.postgres().expect("a PostgreSQL test");

    let ready = app.get("/readyz", &Auth::Anonymous).await;
    assert_eq!(ready.status.as_u16(), 200, "{}", ready.body);
    let body: Value = serde_json::from_str(&ready.body).expect("JSON");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["database"], "ok", "{body}");
    assert_eq!(body["read_models"]["lag_events"], 0, "{body}");
    assert_eq!(body["read_models"]["caught_up_with_start"], true, "{body}");
    assert!(body["notifier"]["lag_events"].is_i64(), "{body}");

    // The database goes away as in an outage: it refuses new connections and the
    // server's connections are cut.
    let mut admin = sqlx::PgConnection::connect(database.admin_url)
        .await
        .expect("connect as the administrator");
    set_connections_allowed(&mut admin, database.name, false).await;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database.name)
    .execute(&mut admin)
    .await
    .expect("cut the server's connections");

    let not_ready = app.get("/readyz", &Auth::Anonymous).await;
    assert_eq!(not_ready.status.as_u16(), 503, "{}", not_ready.body);
    let body: Value = serde_json::from_str(&not_ready.body).expect("JSON");
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["not_ready"], json!(["database"]), "{body}");
    assert!(
        matches!(body["database"].as_str(), Some("unreachable" | "timed out")),
        "{body}"
    );
    assert_eq!(body["read_models"]["lag_events"], Value::Null, "{body}");

    // Alive all the same: a liveness probe must not restart a server for an outage
    // of the database.
    let health = app.get("/healthz", &Auth::Anonymous).await;
    assert_eq!((health.status.as_u16(), health.body.as_str()), (200, "ok"));

    // The database comes back; so does readiness, without a restart.
    set_connections_allowed(&mut admin, database.name, true).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let readyz = app.get("/readyz", &Auth::Anonymous).await;
        if readyz.status.as_u16() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready again after the database came back: {}",
            readyz.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn set_connections_allowed(admin: &mut sqlx::PgConnection, database: &str, allowed: bool) {
    sqlx::query(&format!(
        r#"ALTER DATABASE "{database}" ALLOW_CONNECTIONS {allowed}"#
    ))
    .execute(admin)
    .await
    .expect("change whether the test database allows connections");
}
