//! Growing a bench's log to a size: a template story told once through the API, then
//! copied in SQL with every task and workgroup id replaced by a new one, so the log
//! holds the events commands write (many tasks and groups with the same story) and
//! every projection has real work in each. PostgreSQL only.

use super::{field, Client, Store, Workspace};
use serde_json::json;
use sqlx::Connection;
use sqlx::PgConnection;

/// The administrator's day, through the API as `admin` (an `Authorization` header):
/// an extranet group, a task in it, talk and progress on it.
pub async fn make_template(client: &Client, admin: &str) {
    let admin = Some(("authorization", admin));
    let group = client
        .graphql(
            admin,
            "mutation($input: CreateWorkgroupInput!) { createWorkgroup(input: $input) { workgroup { id } userErrors { message } } }",
            json!({ "input": { "name": "Catalogue printers", "extranet": true } }),
        )
        .await;
    let group = field(&group, "/data/createWorkgroup/workgroup/id");
    let task = client
        .graphql(
            admin,
            "mutation($input: CreateTaskInput!) { createTask(input: $input) { task { id } userErrors { message } } }",
            json!({ "input": { "title": "Print the catalogue", "description": "200 copies, A4.", "workgroupId": group } }),
        )
        .await;
    let task = field(&task, "/data/createTask/task/id");
    for n in 1..=7 {
        client
            .graphql(
                admin,
                "mutation($input: CommentOnTaskInput!) { commentOnTask(input: $input) { task { id } userErrors { message } } }",
                json!({ "input": { "taskId": task, "text": format!("Proofs, round {n}: page 3 needs a new photo.") } }),
            )
            .await;
    }
    for change in [
        json!({ "taskId": task, "title": "Print the spring catalogue" }),
        json!({ "taskId": task, "status": "IN_PROGRESS" }),
    ] {
        client
            .graphql(
                admin,
                "mutation($input: UpdateTaskInput!) { updateTask(input: $input) { task { id } userErrors { message } } }",
                json!({ "input": change }),
            )
            .await;
    }
}

/// The template's events and the ids to replace in each copy.
pub struct Template {
    pub events: i64,
    pub tasks: i64,
    /// The entity ids (`{account}:{entity}`) of the template's tasks and groups.
    ids: Vec<String>,
}

impl Template {
    pub async fn of(db: &mut PgConnection) -> Template {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT split_part(aggregate_id, ':', 2) FROM events
             WHERE aggregate_type IN ('task', 'workgroup')",
        )
        .fetch_all(&mut *db)
        .await
        .expect("find the template's aggregates");
        let events: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_type IN ('task', 'workgroup')",
        )
        .fetch_one(&mut *db)
        .await
        .expect("count the template");
        let tasks: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'TaskCreated'")
                .fetch_one(&mut *db)
                .await
                .expect("count the template's tasks");
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bench_template AS
             SELECT * FROM events WHERE aggregate_type IN ('task', 'workgroup')",
        )
        .execute(&mut *db)
        .await
        .expect("keep the template");
        Template { events, tasks, ids }
    }

    /// Appends copies of the template until the log holds at least `size` events,
    /// 2,000 copies per transaction.
    pub async fn grow_to(&self, db: &mut PgConnection, size: i64) {
        // Each copy replaces every template id by a new one, in keys and payloads.
        let mut aggregate_id = "t.aggregate_id".to_owned();
        let mut payload = "t.payload::text".to_owned();
        let mut fresh = Vec::new();
        for (n, id) in self.ids.iter().enumerate() {
            aggregate_id = format!("replace({aggregate_id}, '{id}', c.id{n})");
            payload = format!("replace({payload}, '{id}', c.id{n})");
            fresh.push(format!("gen_random_uuid()::text AS id{n}"));
        }
        let insert = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT t.aggregate_type, {aggregate_id}, t.sequence, t.event_type, t.event_version, ({payload})::json, t.metadata
             FROM (SELECT n, {} FROM generate_series(1, $1) n) c
             CROSS JOIN bench_template t
             ORDER BY c.n, t.global_position",
            fresh.join(", ")
        );
        loop {
            let missing = size - count_events(db).await;
            if missing <= 0 {
                return;
            }
            let copies = (missing + self.events - 1) / self.events;
            sqlx::query(&insert)
                .bind(copies.min(2000))
                .execute(&mut *db)
                .await
                .expect("copy the template");
        }
    }
}

pub async fn count_events(db: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(db)
        .await
        .expect("count the log")
}

/// A PostgreSQL workspace's log as a bench grows it: a connection to its database and
/// the template, told once through the API.
pub struct Growth {
    db: PgConnection,
    template: Template,
}

impl Growth {
    /// Tells the template in `workspace` and keeps it; none on SQLite. What the
    /// workspace holds before this call is part of the template.
    pub async fn of(workspace: &Workspace) -> Option<Growth> {
        if !matches!(workspace.store, Store::Postgres { .. }) {
            return None;
        }
        make_template(&Client::new(workspace.address), &workspace.admin).await;
        let mut db = PgConnection::connect(&workspace.store.url(&workspace.data_dir))
            .await
            .expect("connect to the bench's database");
        let template = Template::of(&mut db).await;
        Some(Growth { db, template })
    }

    /// Grows the log to at least `size` events; the events it holds then.
    pub async fn grow_to(&mut self, size: i64) -> i64 {
        self.template.grow_to(&mut self.db, size).await;
        count_events(&mut self.db).await
    }
}
