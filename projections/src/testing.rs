//! A fresh database per test: a new PostgreSQL database on the local server, or a new
//! SQLite file, with the migrations applied by `Database::open`. For the tests of this
//! crate and of the crates above it (feature `testing`).

use crate::Database;
use sqlx::{Connection, PgConnection};

pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub async fn fresh_postgres() -> Database {
    let name = format!("extranet_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(POSTGRES_ADMIN_URL)
        .await
        .expect("PostgreSQL must run at 127.0.0.1:5432 (see README)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    Database::open(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await
        .expect("open test database")
}

pub async fn fresh_sqlite() -> Database {
    let dir = std::env::temp_dir().join(format!("extranet-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    Database::open(&format!("sqlite://{}/extranet.db", dir.display()))
        .await
        .expect("open test database")
}

/// The moment every fixed test clock shows.
pub const NOW: domain::Timestamp = domain::Timestamp(1_700_000_000_000);

/// Domain services with a fixed clock, nonce and key, so tests are deterministic.
pub fn services() -> domain::services::DomainServices {
    domain::services::DomainServices {
        clock: std::sync::Arc::new(domain::services::FixedClock(NOW)),
        nonces: std::sync::Arc::new(domain::services::FixedNonce("n".into())),
        secrets: domain::invitation::SecretKey::from_bytes([3; 32]),
    }
}

/// Metadata of a change the system made by itself, at [`NOW`].
pub fn system_change() -> crate::log::Metadata {
    crate::log::Metadata {
        actor: None,
        at: NOW,
        request_id: None,
    }
}
