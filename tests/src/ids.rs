//! Ids of nothing, for the tests that ask about something that does not exist.
//!
//! Tests otherwise treat the API's ids as opaque and only use ids it gave them. An id
//! of nothing cannot be had that way, and a made-up string would test a malformed id,
//! not an unknown one; so this one place knows the gateway's format
//! (`gateway/src/graphql/global_id.rs`): `base64url-no-pad("<Kind>:<uuid>")`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A well-formed id of `kind` (`Task`, `Person`, `Workgroup`, `Invitation`,
/// `Account`) that names nothing.
pub fn nonexistent_id(kind: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{}", uuid::Uuid::new_v4()))
}
