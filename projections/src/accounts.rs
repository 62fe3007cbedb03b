//! Accounts as the read model holds them.

use crate::read_model::parse_label;
use crate::{Database, StoreError};
use domain::account::{InvitationSettings, Plan};
use domain::AccountId;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub name: String,
    pub plan: Plan,
    pub trial_expired: bool,
    pub seats_in_use: i64,
    pub settings: InvitationSettings,
    /// The registration link's current nonce: its secret is the MAC of it (see
    /// `invitation::Link::Registration`).
    pub registration_nonce: String,
}

pub async fn get(db: &Database, account: AccountId) -> Result<Option<AccountRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT name, plan, trial_expired, seats_in_use, invitation_settings, registration_nonce
           FROM accounts
          WHERE account_id = $1",
    )
    .bind(account.to_string())
    .fetch_optional(&db.any)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let plan: String = row.try_get("plan")?;
    let trial_expired: i16 = row.try_get("trial_expired")?;
    let settings: String = row.try_get("invitation_settings")?;
    let settings = serde_json::from_str(&settings).map_err(|source| StoreError::Corrupt {
        what: "invitation settings",
        source,
    })?;
    Ok(Some(AccountRecord {
        name: row.try_get("name")?,
        plan: parse_label("plan", &plan)?,
        trial_expired: trial_expired != 0,
        seats_in_use: row.try_get("seats_in_use")?,
        settings,
        registration_nonce: row.try_get("registration_nonce")?,
    }))
}
