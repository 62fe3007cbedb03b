//! What an operator looks at: health and readiness, how far the followers of the log
//! lag, how requests fare, the log, and what happens to a request that takes too long.

use e2e::{metric, App, Auth, Backend, SmtpSink};
use serde_json::{json, Value};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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

    // Every follower's lag is reported. (The read models may be an event behind for
    // a moment even though the mutation waited for them: the reactor's follow-up to
    // it, opening the guest's seat hold, lands on its own.)
    let read_models = r#"extranet_projector_lag_events{projection="read_models"}"#;
    let notifier = r#"extranet_projector_lag_events{projection="notifier"}"#;
    let metrics = app.get("/metrics", &Auth::Anonymous).await;
    assert_eq!(metrics.status.as_u16(), 200);
    for follower in [read_models, notifier] {
        assert!(
            metric(&metrics.body, follower).is_some(),
            "{}",
            metrics.body
        );
    }

    // The read models and the notifier follow, mail is sent, and the queue empties.
    smtp.wait_for_mail_to("gus@client.test").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = app.get("/metrics", &Auth::Anonymous).await.body;
        let settled = metric(&body, read_models) == Some(0)
            && metric(&body, notifier) == Some(0)
            && metric(&body, "extranet_notifier_queue_emails") == Some(0);
        if settled {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the read models and the notifier did not catch up:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the sample of metric `name` whose labels are exactly `labels`, from
/// the Prometheus text format; `None` if there is none.
fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<&str, &str> = labels.iter().copied().collect();
    body.lines().find_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, labels) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        if metric != name {
            return None;
        }
        // Label values here hold no commas or quotes (routes, methods, numbers).
        let found: BTreeMap<&str, &str> = labels
            .split(',')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                Some((key, value.trim_matches('"')))
            })
            .collect();
        (found == wanted).then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test]
async fn http_requests_are_counted_and_timed_by_route_template() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let graphql_ok = [("method", "POST"), ("route", "/graphql"), ("status", "200")];
    let graphql = [("route", "/graphql")];
    let every = [("route", "/graphql"), ("le", "+Inf")];
    let read = |body: &str| {
        (
            sample(body, "extranet_http_requests_total", &graphql_ok).unwrap_or(0.0),
            sample(
                body,
                "extranet_http_request_duration_seconds_count",
                &graphql,
            )
            .unwrap_or(0.0),
            sample(
                body,
                "extranet_http_request_duration_seconds_bucket",
                &every,
            )
            .unwrap_or(0.0),
            sample(body, "extranet_http_request_duration_seconds_sum", &graphql).unwrap_or(0.0),
        )
    };
    let before = app.get("/metrics", &Auth::Anonymous).await.body;
    let (requests, count, bucket, sum) = read(&before);

    for _ in 0..3 {
        app.graphql(&Auth::Anonymous, "{ viewer { id } }", json!({}))
            .await;
    }
    let unknown_link = "/invitations/acct-that-is-not/invitation-that-is-not";
    app.get(unknown_link, &Auth::Anonymous).await;

    let after = app.get("/metrics", &Auth::Anonymous).await;
    assert_eq!(after.status.as_u16(), 200);
    let body = after.body;
    let (requests_after, count_after, bucket_after, sum_after) = read(&body);
    assert_eq!(requests_after - requests, 3.0, "{body}");
    assert_eq!(count_after - count, 3.0, "{body}");
    assert_eq!(bucket_after - bucket, 3.0, "{body}");
    assert!(sum_after > sum, "{body}");
    // Buckets are cumulative: the first holds no more than the last.
    let first = sample(
        &body,
        "extranet_http_request_duration_seconds_bucket",
        &[("route", "/graphql"), ("le", "0.005")],
    )
    .expect("a bucket for 5 ms");
    assert!(first <= bucket_after, "{body}");

    // A page with ids in its path counts under its template, never the path itself.
    let template = "/invitations/{account}/{invitation}";
    assert!(
        sample(
            &body,
            "extranet_http_request_duration_seconds_count",
            &[("route", template)]
        ) == Some(1.0),
        "{body}"
    );
    assert!(!body.contains("acct-that-is-not"), "{body}");
    // The gauges read from the database are still there.
    assert!(
        metric(
            &body,
            r#"extranet_projector_lag_events{projection="read_models"}"#
        )
        .is_some(),
        "{body}"
    );
}

#[tokio::test]
async fn every_request_has_an_id_that_its_json_log_lines_carry() {
    let smtp = SmtpSink::start();
    let app =
        App::spawn_with_settings(Backend::Sqlite, &smtp, &[("EXTRANET_LOG_FORMAT", "json")]).await;

    // A sane id from the client is kept and echoed.
    let traced = app
        .get_with_headers(
            "/healthz",
            &Auth::Anonymous,
            &[("x-request-id", "e2e-trace.42_a")],
        )
        .await;
    assert_eq!(traced.header("x-request-id"), Some("e2e-trace.42_a"));

    // Otherwise the server makes one: without an id, or with one unfit for a log line.
    let unfit = "two words";
    for headers in [vec![], vec![("x-request-id", unfit)]] {
        let response = app
            .get_with_headers("/healthz", &Auth::Anonymous, &headers)
            .await;
        let id = response
            .header("x-request-id")
            .expect("every response carries an x-request-id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id} is not a UUID");
    }

    // A GraphQL request gets one too.
    let response = app
        .post_json(
            "/graphql",
            &json!({ "query": "{ viewer { id } }" }),
            &Auth::Anonymous,
        )
        .await;
    let graphql_id = response
        .header("x-request-id")
        .expect("a GraphQL response carries an x-request-id")
        .to_owned();

    // Every line of stderr is one JSON object, and the request's lines carry its id.
    let carries = |log: &str, id: &str| {
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .any(|line| line.pointer("/span/request_id") == Some(&json!(id)))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(carries(&app.log(), "e2e-trace.42_a") && carries(&app.log(), &graphql_id)) {
        assert!(
            Instant::now() < deadline,
            "no JSON log line with the request ids:\n{}",
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = app.log();
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "a log line that is not JSON: {line}"
        );
    }
    assert!(
        !log.contains(unfit),
        "an unfit request id was logged:\n{log}"
    );
}

#[tokio::test]
async fn ready_only_while_the_database_answers() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Postgres, &smtp).await;
    let database = app.postgres().expect("a PostgreSQL test");

    // `serve` listens before its read models have caught up with the log (here, the
    // account made before it started), and is ready once they have.
    let body = app
        .readiness_until("ready after start", |status, _| status == 200)
        .await;
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
    // The read models' projector, which reads the same database, is stalled too once
    // its next poll has failed: both may be named, the database always.
    let not_ready: Vec<&str> = body["not_ready"]
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        not_ready.contains(&"database")
            && not_ready
                .iter()
                .all(|what| ["database", "read_models"].contains(what)),
        "{body}"
    );
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

#[tokio::test]
async fn a_request_past_the_timeout_is_answered_503_and_the_server_recovers() {
    let smtp = SmtpSink::start();
    let mut app = App::spawn(Backend::Postgres, &smtp).await;
    // Logged in first: hashing the password in a debug build, with other tests running,
    // can itself take longer than the one second allowed below.
    let admin = app.login_admin().await;
    app.restart_with_settings(&[("EXTRANET_REQUEST_TIMEOUT_SECS", "1")])
        .await;
    let database = app.postgres().expect("a PostgreSQL test");
    let me = json!({ "query": "{ viewer { id } }" });

    // Someone holds a lock on the sessions table, as a hand-run maintenance statement
    // or a migration would: every request with a session waits on it.
    let mut maintenance = sqlx::PgConnection::connect(database.url)
        .await
        .expect("connect to the test database");
    sqlx::query("BEGIN")
        .execute(&mut maintenance)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut maintenance)
        .await
        .expect("lock the sessions table");

    let started = Instant::now();
    let cut_off = app.post_json("/graphql", &me, &admin).await;
    let took = started.elapsed();
    assert_eq!(cut_off.status.as_u16(), 503, "{}", cut_off.body);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "answered after {took:?}"
    );
    assert!(cut_off.header("x-request-id").is_some());

    sqlx::query("COMMIT")
        .execute(&mut maintenance)
        .await
        .expect("release the lock");
    let answered = app.post_json("/graphql", &me, &admin).await;
    assert_eq!(answered.status.as_u16(), 200, "{}", answered.body);
    let answered: Value = serde_json::from_str(&answered.body).expect("JSON");
    assert_eq!(
        answered.pointer("/data/viewer/id").and_then(Value::as_str),
        Some(app.admin_id.as_str()),
        "{answered}"
    );

    // The cut-off request was counted with what it got.
    let metrics = app.get("/metrics", &Auth::Anonymous).await.body;
    assert_eq!(
        sample(
            &metrics,
            "extranet_http_requests_total",
            &[("method", "POST"), ("route", "/graphql"), ("status", "503")]
        ),
        Some(1.0),
        "{metrics}"
    );
}

/// Sends `head` and then `body` as raw bytes on a new connection to `app`, and returns
/// the status line of the answer.
async fn raw_status(app: &App, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the server");
    stream
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    // The server may answer and close before the whole body is sent.
    let _ = stream.write_all(body).await;
    let mut answer = vec![0; 1024];
    let read = stream.read(&mut answer).await.expect("read the answer");
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    answer.lines().next().unwrap_or_default().to_owned()
}

/// A body over the limit (256 KiB) is refused with 413 whether its length is declared
/// up front or only found out while it streams in, before any of it is run.
#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let padding = " ".repeat(300 * 1024);
    let body = format!(r#"{{"query": "{{ viewer {{ id }} }}{padding}"}}"#);

    let declared = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    assert_eq!(
        raw_status(&app, &declared, body.as_bytes()).await,
        "HTTP/1.1 413 Payload Too Large"
    );

    let chunked = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let mut chunks = Vec::new();
    for chunk in body.as_bytes().chunks(16 * 1024) {
        chunks.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunks.extend_from_slice(chunk);
        chunks.extend_from_slice(b"\r\n");
    }
    chunks.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(
        raw_status(&app, chunked, &chunks).await,
        "HTTP/1.1 413 Payload Too Large"
    );

    // Under the limit, streamed, it is read and run as ever.
    let small = r#"{"query": "{ __typename }"}"#;
    let chunked_small = format!("{:x}\r\n{small}\r\n0\r\n\r\n", small.len());
    assert_eq!(
        raw_status(&app, chunked, chunked_small.as_bytes()).await,
        "HTTP/1.1 200 OK"
    );
}
