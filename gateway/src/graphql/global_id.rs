//! The ids the API gives out and takes back: `base64url-no-pad("<Kind>:<uuid>")`.
//!
//! Clients must treat them as opaque, so the store's keys can change shape without
//! breaking them, and each names its kind, so `node(id:)` knows what to look up and an
//! id of one kind never names a thing of another. An id that does not decode, or
//! names another kind than the one asked for, is "not found" exactly like an unknown
//! id: a malformed id must not answer differently from a hidden one, or ids could be
//! probed.
//!
//! Cursors are not ids and keep their own format (`page.rs`). The links the server
//! emails (`/invitations/{account}/{invitation}`, `/register/{account}`,
//! `/password-reset/{account}/{person}`) carry plain UUIDs: they are signed over them
//! and links already sent must keep working.

use super::error::ApiError;
use async_graphql::ID;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cqrs_es::Aggregate;
use domain::account::Account;
use domain::email_claim::EmailClaim;
use domain::invitation::Invitation;
use domain::person::Person;
use domain::task::Task;
use domain::workgroup::Workgroup;
use domain::{AccountId, InvitationId, PersonId, TaskId, WorkgroupId};
use uuid::Uuid;

/// What an id names. The names are part of every id given out: renaming one changes
/// every id of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Account,
    Person,
    Task,
    Workgroup,
    Invitation,
    /// The claim on an email address; only a person's history names one.
    EmailClaim,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Account,
        Kind::Person,
        Kind::Task,
        Kind::Workgroup,
        Kind::Invitation,
        Kind::EmailClaim,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Account => "Account",
            Kind::Person => "Person",
            Kind::Task => "Task",
            Kind::Workgroup => "Workgroup",
            Kind::Invitation => "Invitation",
            Kind::EmailClaim => "EmailClaim",
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The kind of an aggregate's ids, from the type the event store files it under.
    pub fn of_aggregate(aggregate_type: &str) -> Option<Self> {
        Some(match aggregate_type {
            Account::TYPE => Kind::Account,
            Person::TYPE => Kind::Person,
            Task::TYPE => Kind::Task,
            Workgroup::TYPE => Kind::Workgroup,
            Invitation::TYPE => Kind::Invitation,
            EmailClaim::TYPE => Kind::EmailClaim,
            _ => return None,
        })
    }
}

/// No id given out is longer (`Invitation:` and a UUID, encoded, is 63 characters);
/// anything longer is refused before it is decoded.
const MAX_LEN: usize = 64;

/// A decoded id: what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: Kind,
    pub uuid: Uuid,
}

impl GlobalId {
    pub fn encode(kind: Kind, uuid: Uuid) -> ID {
        ID(URL_SAFE_NO_PAD.encode(format!("{}:{}", kind.name(), uuid.hyphenated())))
    }

    /// What `id` names, if it is an id this API gives out. Only the exact text it gives
    /// out is taken (no padding, no other UUID spelling), so one thing has one id.
    pub fn decode(id: &str) -> Option<Self> {
        if id.len() > MAX_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (kind, uuid) = text.split_once(':')?;
        let decoded = Self {
            kind: Kind::named(kind)?,
            uuid: Uuid::try_parse(uuid).ok()?,
        };
        (decoded.id().0 == id).then_some(decoded)
    }

    pub fn id(self) -> ID {
        Self::encode(self.kind, self.uuid)
    }
}

/// A domain id newtype the API gives out as ids of one kind, so the kind of an id
/// follows from the type it is parsed into.
pub trait NodeKind: Sized {
    const KIND: Kind;
    fn from_uuid(uuid: Uuid) -> Self;
    fn uuid(&self) -> Uuid;
}

macro_rules! node_kind {
    ($($ty:ty => $kind:ident),* $(,)?) => {
        $(
            impl NodeKind for $ty {
                const KIND: Kind = Kind::$kind;
                fn from_uuid(uuid: Uuid) -> Self {
                    Self(uuid)
                }
                fn uuid(&self) -> Uuid {
                    self.0
                }
            }
        )*
    };
}

node_kind!(
    AccountId => Account,
    PersonId => Person,
    TaskId => Task,
    WorkgroupId => Workgroup,
    InvitationId => Invitation,
);

/// The id the API gives out for `id`.
pub fn id_of<T: NodeKind>(id: T) -> ID {
    GlobalId::encode(T::KIND, id.uuid())
}

/// The `T` that `id` names, if it is an id of `T`'s kind.
pub fn decode<T: NodeKind>(id: &str) -> Option<T> {
    GlobalId::decode(id)
        .filter(|decoded| decoded.kind == T::KIND)
        .map(|decoded| T::from_uuid(decoded.uuid))
}

/// The `T` an input id names; "not found" for anything else, exactly as for an id of
/// nothing.
pub fn parse_id<T: NodeKind>(id: &ID) -> Result<T, ApiError> {
    decode(id).ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found<T: NodeKind + std::fmt::Debug>(id: &str) -> bool {
        matches!(parse_id::<T>(&ID(id.to_owned())), Err(ApiError::NotFound))
    }

    #[test]
    fn every_kind_round_trips() {
        let uuid = Uuid::new_v4();
        for kind in Kind::ALL {
            let id = GlobalId::encode(kind, uuid);
            assert_eq!(
                GlobalId::decode(&id),
                Some(GlobalId { kind, uuid }),
                "{kind:?}"
            );
            assert!(id.len() <= MAX_LEN, "{kind:?}: {} characters", id.len());
        }
        let task = TaskId::new_random();
        assert_eq!(parse_id::<TaskId>(&id_of(task)).ok(), Some(task));
        let account = AccountId::new_random();
        assert_eq!(parse_id::<AccountId>(&id_of(account)).ok(), Some(account));
    }

    #[test]
    fn ids_are_opaque_stable_and_url_safe() {
        let task = TaskId(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef));
        let id = id_of(task);
        // Pinned: clients keep ids, so the same thing must have the same id tomorrow.
        assert_eq!(
            id.as_str(),
            "VGFzazowMTIzNDU2Ny04OWFiLWNkZWYtMDEyMy00NTY3ODlhYmNkZWY"
        );
        assert_eq!(id_of(task), id);
        assert!(Uuid::try_parse(&id).is_err());
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn every_aggregate_has_a_kind() {
        for (aggregate, kind) in [
            (Account::TYPE, Kind::Account),
            (Person::TYPE, Kind::Person),
            (Task::TYPE, Kind::Task),
            (Workgroup::TYPE, Kind::Workgroup),
            (Invitation::TYPE, Kind::Invitation),
            (EmailClaim::TYPE, Kind::EmailClaim),
        ] {
            assert_eq!(Kind::of_aggregate(aggregate), Some(kind));
        }
        assert_eq!(Kind::of_aggregate("department"), None);
    }

    #[test]
    fn an_id_of_another_kind_is_not_found() {
        let task = id_of(TaskId::new_random());
        assert!(not_found::<PersonId>(&task));
        assert!(not_found::<WorkgroupId>(&task));
        assert!(not_found::<AccountId>(&id_of(PersonId::new_random())));
        assert!(not_found::<InvitationId>(&GlobalId::encode(
            Kind::EmailClaim,
            Uuid::new_v4()
        )));
    }

    #[test]
    fn garbage_is_not_found() {
        let uuid = Uuid::new_v4();
        let padded = format!("{}=", id_of(TaskId(uuid)).as_str());
        let simple_uuid = URL_SAFE_NO_PAD.encode(format!("Task:{}", uuid.simple()));
        let lower_kind = URL_SAFE_NO_PAD.encode(format!("task:{uuid}"));
        let unknown_kind = URL_SAFE_NO_PAD.encode(format!("Comment:{uuid}"));
        let long = "A".repeat(10_000);
        for garbage in [
            "",
            "Task",
            ":",
            "not base64!",
            &uuid.to_string(),
            &padded,
            &simple_uuid,
            &lower_kind,
            &unknown_kind,
            &URL_SAFE_NO_PAD.encode("Task:"),
            &URL_SAFE_NO_PAD.encode([0xff, 0xfe, b':']),
            &long,
        ] {
            assert!(not_found::<TaskId>(garbage), "{garbage:?} was taken");
        }
    }
}
