//! An event the read models cannot apply, written straight into the log the way a
//! bug or a hand edit would leave one, and removed again as an operator would.

use crate::App;
use sqlx::{AnyConnection, Connection};

impl App {
    /// A connection to the app's own database.
    pub async fn connect_to_database(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(self.database_url())
            .await
            .expect("connect to the test's database")
    }

    /// Writes a `TaskRenamed` without its `title`: an event of a known type whose
    /// payload does not decode. Returns its aggregate id.
    pub async fn write_bad_event(&self) -> String {
        let aggregate_id = format!("{}:{}", self.account_in_links, uuid::Uuid::new_v4());
        // The payload and metadata as literals: PostgreSQL takes them as `json`,
        // SQLite as text; a bound text would be refused by the `json` column.
        sqlx::query(
            r#"INSERT INTO events
                   (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
               VALUES ('task', $1, 1, 'TaskRenamed', '1', '{"TaskRenamed": {}}', '{"at": "1700000000000"}')"#,
        )
        .bind(&aggregate_id)
        .execute(&mut self.connect_to_database().await)
        .await
        .expect("write the bad event");
        aggregate_id
    }

    /// What an operator does once the cause is understood: removes the event.
    pub async fn remove_bad_event(&self, aggregate_id: &str) {
        let removed =
            sqlx::query("DELETE FROM events WHERE aggregate_type = 'task' AND aggregate_id = $1")
                .bind(aggregate_id)
                .execute(&mut self.connect_to_database().await)
                .await
                .expect("remove the bad event");
        assert_eq!(removed.rows_affected(), 1);
    }
}
