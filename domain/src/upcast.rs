//! Events are the permanent record, so every shape an event was ever stored in stays
//! readable. When a variant's shape changes, its version goes up and an [`Upcaster`]
//! here turns the previous shape into the next; a stored event passes through every
//! upcaster newer than its version, in order, before it is deserialised. The event
//! store (when loading aggregates) and the log reader (when projecting) both use
//! [`upcast`], so there is one mechanism for both.
//!
//! One step applies to every stored event, whatever its version: text stored before
//! the rules of [`crate::text`] existed may hold characters no database can store (a
//! NUL) or that the product now refuses, so every string in the payload passes through
//! [`crate::text::storable`] on the way out. An event from before those rules then
//! reads as if it had been written under them, and no projection can be wedged by it.

use serde_json::Value;

/// Turns one event type's payloads from the version before `to_version` into it.
pub struct Upcaster {
    pub event_type: &'static str,
    pub to_version: &'static str,
    /// Receives and returns the whole stored payload, `{"EventType": {...fields}}`.
    pub upcast: fn(Value) -> Value,
}

/// Every upcaster, oldest first within an event type.
pub const UPCASTERS: &[Upcaster] = &[
    Upcaster {
        event_type: "InvitationIssued",
        to_version: "2",
        upcast: crate::invitation::upcast::issued_v1_to_v2,
    },
    Upcaster {
        event_type: "SeatReleased",
        to_version: "2",
        upcast: crate::account::upcast::released_v1_to_v2,
    },
];

/// `a < b` for versions `major[.minor[.patch]]`; a version that does not parse is
/// the oldest of all.
pub fn older(a: &str, b: &str) -> bool {
    fn parts(v: &str) -> Vec<u64> {
        v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
    }
    let (mut a, mut b) = (parts(a), parts(b));
    let n = a.len().max(b.len());
    a.resize(n, 0);
    b.resize(n, 0);
    a < b
}

/// The payload in its current shape, with its text storable, and the version it now
/// has.
pub fn upcast(event_type: &str, version: &str, mut payload: Value) -> (String, Value) {
    let mut version = version.to_string();
    for u in UPCASTERS.iter().filter(|u| u.event_type == event_type) {
        if older(&version, u.to_version) {
            payload = (u.upcast)(payload);
            version = u.to_version.to_string();
        }
    }
    make_text_storable(&mut payload);
    (version, payload)
}

/// Every string of the payload through [`crate::text::storable`].
fn make_text_storable(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(storable) = crate::text::storable(text) {
                *text = storable;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(make_text_storable),
        Value::Object(fields) => fields.values_mut().for_each(make_text_storable),
        _ => {}
    }
}

/// The fields of a stored payload `{"EventType": {...}}`, for upcasters to edit.
pub(crate) fn fields_mut<'a>(
    payload: &'a mut Value,
    event_type: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    payload.get_mut(event_type)?.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_any_event_is_made_storable() {
        let stored = serde_json::json!({"TaskCreated": {
            "title": "Ship\u{0}", "description": "a\u{1b}[2J\nb", "tags": ["x\u{0}"]}});
        let (version, payload) = upcast("TaskCreated", "2", stored);
        assert_eq!(version, "2");
        assert_eq!(
            payload,
            serde_json::json!({"TaskCreated": {
                "title": "Ship", "description": "a[2J\nb", "tags": ["x"]}})
        );
    }

    #[test]
    fn versions_compare_by_number() {
        assert!(older("1", "2"));
        assert!(older("1.9", "1.10"));
        assert!(older("", "1"));
        assert!(!older("2", "2.0"));
        assert!(!older("10", "9"));
    }
}
