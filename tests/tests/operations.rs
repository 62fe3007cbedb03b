//! What an operator looks at: health, and how far the followers of the log lag.

use e2e::{App, Auth, Backend, SmtpSink};
use std::time::Duration;

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
