//! Older shapes of invitation events.

use crate::upcast::fields_mut;
use serde_json::{json, Value};

/// Version 1 was sent by email only: `email: "a@b.c"` became
/// `address: {"email": "a@b.c"}` in version 2.
pub fn issued_v1_to_v2(mut payload: Value) -> Value {
    if let Some(fields) = fields_mut(&mut payload, "InvitationIssued") {
        if let Some(email) = fields.remove("email") {
            fields.insert("address".into(), json!({ "email": email }));
        }
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitation::{InvitationEvent, InvitationTarget};
    use crate::upcast::upcast;
    use crate::{Address, Email};

    /// An `InvitationIssued` exactly as version 1 stored it.
    const V1: &str = r#"{"InvitationIssued":{
        "invitation":"6f9c1c1e-3f0a-4a53-9a77-1f1f0d0b8a11",
        "person":"0b7e6f0e-2d4c-4f57-8f1e-4f6a0c2a9b22",
        "email":"gus@client.test",
        "name":{"first":"Gus","last":"Guest"},
        "target":{"task":{"task":"a1d5f1f4-5b7e-4f0b-9a1e-2c3d4e5f6a33","role":"observer"}},
        "sponsor":"c2b4a6d8-1e3f-4a5b-8c7d-9e0f1a2b3c44",
        "nonce":"00112233445566778899aabbccddeeff",
        "expires_at":1700604800000}}"#;

    #[test]
    fn a_version_1_invitation_reads_as_version_2() {
        let stored: Value = serde_json::from_str(V1).unwrap();
        assert!(
            serde_json::from_value::<InvitationEvent>(stored.clone()).is_err(),
            "v1 does not fit v2 unaided"
        );
        let (version, current) = upcast("InvitationIssued", "1", stored);
        assert_eq!(version, "2");
        let InvitationEvent::InvitationIssued {
            address,
            name,
            target,
            delivery,
            ..
        } = serde_json::from_value(current).unwrap()
        else {
            panic!("not an InvitationIssued")
        };
        assert_eq!(
            address,
            Address::Email(Email::parse("gus@client.test").unwrap())
        );
        assert_eq!(name.unwrap().full(), "Gus Guest");
        assert!(matches!(target, InvitationTarget::Task { .. }));
        assert_eq!(delivery, crate::invitation::Delivery::Link);
    }

    #[test]
    fn a_current_event_is_left_alone() {
        let stored: Value = serde_json::from_str(V1).unwrap();
        let (_, current) = upcast("InvitationIssued", "1", stored);
        assert_eq!(
            upcast("InvitationIssued", "2", current.clone()),
            ("2".to_string(), current)
        );
    }
}
