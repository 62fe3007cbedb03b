//! Older shapes of account events.

use crate::upcast::fields_mut;
use serde_json::Value;

/// Version 1 was written while the account kept the set of holders, and had no
/// cause: it reads as a give-back with none, which the count applies as before.
pub fn released_v1_to_v2(mut payload: Value) -> Value {
    if let Some(fields) = fields_mut(&mut payload, "SeatReleased") {
        fields.entry("cause").or_insert(Value::Null);
    }
    payload
}
