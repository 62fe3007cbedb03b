//! Personal data in the event log, sealed per person, so it can be erased while the
//! log stays immutable ("crypto-shredding").
//!
//! Names, email addresses and phone numbers in events are written as
//! `sealed:v1:<hex>`: XChaCha20-Poly1305 under a key of the person they describe, with
//! the person's id as associated data. Only the string leaves of those fields are
//! sealed, so an event keeps its JSON shape. Erasing a person deletes their key: the
//! events keep their bytes, and every sealed value of theirs reads back as an empty
//! string from then on, in aggregates, in projections and in a rebuild alike.
//!
//! What is personal, and whose it is, is listed once in [`PERSONAL`].

use crate::bulk::{placeholders, rows_per_statement};
use crate::{Database, StoreError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeSet, HashMap};

/// One event's personal data to seal or open: its aggregate id, type and payload.
pub type Personal<'a> = (&'a str, &'a str, &'a mut Value);

const PREFIX: &str = "sealed:v1:";

/// Whose personal data a field holds.
#[derive(Clone, Copy)]
enum Owner {
    /// The person whose aggregate the event belongs to.
    Aggregate,
    /// The person named in this field of the event.
    Field(&'static str),
}

/// Every event field that holds personal data: (event type, fields, whose).
const PERSONAL: &[(&str, &[&str], Owner)] = &[
    ("PersonJoined", &["email", "name"], Owner::Aggregate),
    ("ProfileChanged", &["name"], Owner::Aggregate),
    ("EmailChanged", &["from", "to"], Owner::Aggregate),
    (
        "InvitationIssued",
        &["address", "name", "email"],
        Owner::Field("person"),
    ),
    (
        "RegistrationRequested",
        &["email", "name"],
        Owner::Field("person"),
    ),
    ("EmailClaimed", &["email"], Owner::Field("person")),
];

fn personal_fields(event_type: &str) -> Option<(&'static [&'static str], Owner)> {
    PERSONAL
        .iter()
        .find(|(t, _, _)| *t == event_type)
        .map(|(_, fields, owner)| (*fields, *owner))
}

/// The person a personal event is about, as stored text.
fn owner_of(
    owner: Owner,
    aggregate_id: &str,
    fields: &serde_json::Map<String, Value>,
) -> Option<String> {
    match owner {
        Owner::Aggregate => aggregate_id
            .split_once(':')
            .map(|(_, entity)| entity.to_string()),
        Owner::Field(name) => fields.get(name)?.as_str().map(str::to_string),
    }
}

#[derive(Clone)]
pub struct PersonalData {
    db: Database,
}

impl PersonalData {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The keys of `people` (account, person) that exist, read in as few statements
    /// as the list allows; with `create`, those missing are made first. A batch of
    /// events costs a round trip or two this way, not one per event (issue 14).
    async fn keys(
        &self,
        people: &BTreeSet<(String, String)>,
        create: bool,
    ) -> Result<HashMap<(String, String), [u8; 32]>, StoreError> {
        let people: Vec<&(String, String)> = people.iter().collect();
        if create {
            for chunk in people.chunks(rows_per_statement(3)) {
                let rows = placeholders(chunk.len(), &["", "", ""]);
                let sql = format!(
                    "INSERT INTO personal_data_keys (account_id, person_id, key_hex) VALUES {rows}
                     ON CONFLICT (account_id, person_id) DO NOTHING"
                );
                let mut query = sqlx::query(&sql);
                for (account, person) in chunk {
                    let mut key = [0u8; 32];
                    rand::rngs::OsRng.fill_bytes(&mut key);
                    query = query.bind(account).bind(person).bind(hex::encode(key));
                }
                query.execute(&self.db.any).await?;
            }
        }
        let mut keys = HashMap::with_capacity(people.len());
        for chunk in people.chunks(rows_per_statement(2)) {
            let wanted = placeholders(chunk.len(), &["", ""]);
            let sql = format!(
                "SELECT account_id, person_id, key_hex FROM personal_data_keys
                  WHERE (account_id, person_id) IN (VALUES {wanted})"
            );
            let mut query = sqlx::query(&sql);
            for (account, person) in chunk {
                query = query.bind(account).bind(person);
            }
            for row in query.fetch_all(&self.db.any).await? {
                let text: String = row.try_get("key_hex")?;
                let key = hex::decode(&text)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok());
                if let Some(key) = key {
                    keys.insert((row.try_get("account_id")?, row.try_get("person_id")?), key);
                }
            }
        }
        Ok(keys)
    }

    /// Seals the personal fields of an event about to be stored.
    pub async fn seal(
        &self,
        aggregate_id: &str,
        event_type: &str,
        payload: &mut Value,
    ) -> Result<(), StoreError> {
        self.transform(vec![(aggregate_id, event_type, payload)], true)
            .await
    }

    /// Opens the personal fields of a stored event; those of an erased person become
    /// empty strings.
    pub async fn open(
        &self,
        aggregate_id: &str,
        event_type: &str,
        payload: &mut Value,
    ) -> Result<(), StoreError> {
        self.transform(vec![(aggregate_id, event_type, payload)], false)
            .await
    }

    /// Seals many events about to be stored, reading their people's keys at once.
    pub async fn seal_all(&self, events: Vec<Personal<'_>>) -> Result<(), StoreError> {
        self.transform(events, true).await
    }

    /// Opens many stored events, reading their people's keys at once.
    pub async fn open_all(&self, events: Vec<Personal<'_>>) -> Result<(), StoreError> {
        self.transform(events, false).await
    }

    async fn transform(&self, events: Vec<Personal<'_>>, seal: bool) -> Result<(), StoreError> {
        // Whose personal data each event holds, if any.
        let mut found = Vec::new();
        for (aggregate_id, event_type, payload) in events {
            let Some((names, owner)) = personal_fields(event_type) else {
                continue;
            };
            let Some(fields) = payload.get_mut(event_type).and_then(Value::as_object_mut) else {
                continue;
            };
            let (Some(account), Some(person)) = (
                aggregate_id.split_once(':').map(|(a, _)| a.to_string()),
                owner_of(owner, aggregate_id, fields),
            ) else {
                continue;
            };
            found.push(((account, person), names, fields));
        }
        if found.is_empty() {
            return Ok(());
        }
        let people = found.iter().map(|(who, _, _)| who.clone()).collect();
        let keys = self.keys(&people, seal).await?;
        for (who, names, fields) in found {
            let cipher = keys.get(&who).map(|k| XChaCha20Poly1305::new(&(*k).into()));
            let person = &who.1;
            for name in names {
                if let Some(value) = fields.get_mut(*name) {
                    for_each_string(value, &mut |s: &mut String| {
                        *s = match (&cipher, seal) {
                            (Some(c), true) if !s.starts_with(PREFIX) => seal_text(c, person, s),
                            (Some(c), false) => open_text(c, person, s),
                            (None, false) if s.starts_with(PREFIX) => String::new(),
                            _ => std::mem::take(s),
                        };
                    });
                }
            }
        }
        Ok(())
    }

    /// Forgets a person's key: their sealed data can never be read again.
    pub async fn erase(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        account: &str,
        person: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM personal_data_keys WHERE account_id = $1 AND person_id = $2")
            .bind(account)
            .bind(person)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

fn for_each_string(value: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter_mut().for_each(|v| for_each_string(v, f)),
        Value::Object(map) => map.values_mut().for_each(|v| for_each_string(v, f)),
        _ => {}
    }
}

fn seal_text(cipher: &XChaCha20Poly1305, person: &str, text: &str) -> String {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher.encrypt(
        XNonce::from_slice(&nonce),
        Payload {
            msg: text.as_bytes(),
            aad: person.as_bytes(),
        },
    );
    match sealed {
        Ok(ciphertext) => format!("{PREFIX}{}{}", hex::encode(nonce), hex::encode(ciphertext)),
        // Encryption of a short string cannot fail; if it did, storing nothing is
        // safer than storing the plain text.
        Err(_) => String::new(),
    }
}

fn open_text(cipher: &XChaCha20Poly1305, person: &str, text: &str) -> String {
    let Some(hex_part) = text.strip_prefix(PREFIX) else {
        return text.to_string(); // written before sealing existed
    };
    let Ok(bytes) = hex::decode(hex_part) else {
        return String::new();
    };
    if bytes.len() < 24 {
        return String::new();
    }
    let (nonce, ciphertext) = bytes.split_at(24);
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: person.as_bytes(),
            },
        )
        .ok()
        .and_then(|plain| String::from_utf8(plain).ok())
        .unwrap_or_default()
}
