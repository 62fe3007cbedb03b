//! Permission checks per second and their latency, for a generated workspace of
//! 1,000,000 people, 100,000 workgroups and 1,000,000 tasks, asked three ways in the
//! same run: the in-memory index alone, the engine the gateway uses (index brought up
//! to date before each check), and the same question as SQL against the read models in
//! PostgreSQL.
//!
//!     cargo bench -p projections --bench permissions
//!
//! EXTRANET_BENCH_SCALE=0.1 makes everything ten times smaller. Needs PostgreSQL at
//! 127.0.0.1:5432 (trust auth); the bench creates and drops its own database.

use domain::person::PersonKind;
use domain::{AccountId, PersonId, TaskId};
use projections::permission::{Index, Permissions, SqlPermissions, Viewer};
use projections::projector::Projector;
use projections::read_model::ReadModels;
use projections::Database;
use sqlx::{Connection, PgConnection, Row};
use std::time::{Duration, Instant};

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

struct Report {
    name: &'static str,
    checks: usize,
    elapsed: Duration,
    latencies_ns: Vec<u64>,
    allowed: usize,
}

impl Report {
    fn print(&mut self) {
        self.latencies_ns.sort_unstable();
        println!(
            "{:<34} {:>12.0} checks/s   p50 {:>9.2} µs   p99 {:>9.2} µs   ({} checks, {} allowed)",
            self.name,
            self.checks as f64 / self.elapsed.as_secs_f64(),
            percentile(&self.latencies_ns, 0.50) as f64 / 1000.0,
            percentile(&self.latencies_ns, 0.99) as f64 / 1000.0,
            self.checks,
            self.allowed,
        );
    }
}

async fn generate(db: &Database, account: AccountId, people: i64, groups: i64, tasks: i64) {
    let a = account.to_string();
    let statements = [
        format!(
            "INSERT INTO people (account_id, person_id, kind, status, email, first_name, last_name,
                                 administrator, password_hash, joined_at)
             SELECT '{a}', md5('p' || i)::uuid::text,
                    CASE WHEN i % 10 < 7 THEN 'employee' WHEN i % 10 < 9 THEN 'extranet' ELSE 'guest' END,
                    'active', 'p' || i || '@bench.test', 'P', 'X', 0, '', 0
               FROM generate_series(1, {people}) i"
        ),
        format!(
            "INSERT INTO workgroups (account_id, workgroup_id, name, extranet, invite_policy, created_at)
             SELECT '{a}', md5('g' || g)::uuid::text, 'G', CASE WHEN g % 5 = 0 THEN 1 ELSE 0 END, 'owner', 0
               FROM generate_series(1, {groups}) g"
        ),
        format!(
            "INSERT INTO workgroup_members (account_id, workgroup_id, person_id, role, external)
             SELECT '{a}', md5('g' || g)::uuid::text, md5('p' || ((g * 10 + k) % {people} + 1))::uuid::text,
                    CASE WHEN k = 0 THEN 'owner' ELSE 'member' END, 0
               FROM generate_series(1, {groups}) g, generate_series(0, 9) k
             ON CONFLICT DO NOTHING"
        ),
        format!(
            "INSERT INTO tasks (account_id, task_id, title, description, status, creator_id, created_at, workgroup_id)
             SELECT '{a}', md5('t' || t)::uuid::text, 'T', '', 'new', md5('p' || ((t * 3) % {people} + 1))::uuid::text, t,
                    CASE WHEN t % 2 = 0 THEN md5('g' || (t % {groups} + 1))::uuid::text END
               FROM generate_series(1, {tasks}) t"
        ),
        format!(
            "INSERT INTO task_roles (account_id, task_id, person_id, role)
             SELECT '{a}', md5('t' || t)::uuid::text, md5('p' || ((t * r) % {people} + 1))::uuid::text,
                    CASE WHEN r = 5 THEN 'responsible' ELSE 'observer' END
               FROM generate_series(1, {tasks}) t, (VALUES (5), (11)) AS roles(r)
             ON CONFLICT DO NOTHING"
        ),
        "ANALYZE".to_string(),
    ];
    for sql in statements {
        sqlx::query(&sql)
            .execute(&db.any)
            .await
            .expect("generate the workspace");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let scale: f64 = std::env::var("EXTRANET_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let (people, groups, tasks) = (
        (1_000_000.0 * scale) as i64,
        (100_000.0 * scale) as i64,
        (1_000_000.0 * scale) as i64,
    );
    let name = format!("extranet_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(ADMIN_URL)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let db = Database::open(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await
        .expect("open");
    let account = AccountId::new_random();

    let started = Instant::now();
    generate(&db, account, people, groups, tasks).await;
    println!(
        "generated {people} people, {groups} workgroups, {tasks} tasks in {:.1?}",
        started.elapsed()
    );
    let started = Instant::now();
    let index = Index::load(&db).await.expect("load the index");
    println!(
        "loaded the index from the read models in {:.1?}",
        started.elapsed()
    );

    // The questions: random people about random tasks (mostly refused), and creators
    // about their own tasks (allowed), mixed.
    let rows = sqlx::query(
        "SELECT p.person_id, p.kind, t.task_id FROM
           (SELECT person_id, kind FROM people ORDER BY random() LIMIT 1000) p,
           (SELECT task_id FROM tasks ORDER BY random() LIMIT 100) t
         UNION ALL
         SELECT t.creator_id, p.kind, t.task_id FROM
           (SELECT creator_id, task_id FROM tasks ORDER BY random() LIMIT 100000) t
           JOIN people p ON p.person_id = t.creator_id",
    )
    .fetch_all(&db.any)
    .await
    .expect("sample questions");
    let questions: Vec<(Viewer, TaskId)> = rows
        .iter()
        .map(|row| {
            let person: String = row.get("person_id");
            let kind: String = row.get("kind");
            let task: String = row.get("task_id");
            let kind = match kind.as_str() {
                "employee" => PersonKind::Employee,
                "extranet" => PersonKind::Extranet,
                _ => PersonKind::Guest,
            };
            let viewer = Viewer {
                account,
                person: person.parse::<PersonId>().expect("id"),
                kind,
                administrator: false,
            };
            (viewer, task.parse().expect("id"))
        })
        .collect();
    println!("{} distinct questions\n", questions.len());

    // 1. The index alone, one core.
    let rounds = 10;
    let mut latencies = Vec::with_capacity(questions.len() * rounds);
    let mut allowed = 0;
    let begun = Instant::now();
    for _ in 0..rounds {
        for (viewer, task) in &questions {
            let t0 = Instant::now();
            let ok = index.may_see_task(viewer, *task);
            latencies.push(t0.elapsed().as_nanos() as u64);
            allowed += usize::from(ok);
        }
    }
    let timed = begun.elapsed();
    // Throughput without the clock reads in the loop.
    let begun = Instant::now();
    let mut count = 0usize;
    for _ in 0..rounds {
        for (viewer, task) in &questions {
            count += usize::from(std::hint::black_box(index.may_see_task(viewer, *task)));
        }
    }
    let untimed = begun.elapsed();
    assert_eq!(count, allowed);
    Report {
        name: "index (in memory, one core)",
        checks: questions.len() * rounds,
        elapsed: untimed,
        latencies_ns: latencies,
        allowed,
    }
    .print();
    println!(
        "{:<34} (with a clock read around each check: {:.0} checks/s)",
        "",
        (questions.len() * rounds) as f64 / timed.as_secs_f64()
    );

    // 2. The engine the gateway calls: the index, brought up to date before each check.
    let (_, handle) = Projector::new(ReadModels, db.clone())
        .await
        .expect("projector");
    let engine = Permissions::start(db.clone(), handle)
        .await
        .expect("engine");
    let mut latencies = Vec::with_capacity(questions.len() * 2);
    let mut allowed = 0;
    let begun = Instant::now();
    for _ in 0..2 {
        for (viewer, task) in &questions {
            let t0 = Instant::now();
            let ok = engine.may_see_task(viewer, *task).await.expect("ask");
            latencies.push(t0.elapsed().as_nanos() as u64);
            allowed += usize::from(ok);
        }
    }
    Report {
        name: "engine (index + freshness check)",
        checks: questions.len() * 2,
        elapsed: begun.elapsed(),
        latencies_ns: latencies,
        allowed,
    }
    .print();

    // 3. The same question as SQL against the read models in PostgreSQL.
    let sql = SqlPermissions::new(db.clone());
    let sample: Vec<_> = questions.iter().step_by(questions.len() / 5000).collect();
    let mut latencies = Vec::with_capacity(sample.len());
    let mut allowed = 0;
    let begun = Instant::now();
    for (viewer, task) in &sample {
        let t0 = Instant::now();
        let ok = sql.may_see_task(viewer, *task).await.expect("ask");
        latencies.push(t0.elapsed().as_nanos() as u64);
        allowed += usize::from(ok);
    }
    Report {
        name: "SQL on PostgreSQL read models",
        checks: sample.len(),
        elapsed: begun.elapsed(),
        latencies_ns: latencies,
        allowed,
    }
    .print();

    db.close().await;
    let _ = sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&mut admin)
        .await;
}
