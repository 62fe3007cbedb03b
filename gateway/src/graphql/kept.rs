//! Answers to queries, kept until something in the asker's account changes.
//!
//! Clients ask the same queries again and again (a guest's page polls its task, a
//! list is reloaded), and between two changes the answer cannot differ: every answer
//! is a function of the read models and the viewer, and both change only through
//! events of the viewer's account. So an answer is kept with where that account stood
//! when it was computed (`Permissions::account_changed_at`, from the permission
//! index), and handed out again as long as the account still stands there. Any event
//! of the account, of any kind, ends every answer kept for its people. Events of
//! other accounts end nothing: the log is partitioned by account, and so is this.
//!
//! What still happens on every request, kept answer or not: the session is checked
//! (read on PostgreSQL, confirmed by the beacon on SQLite: a logout, an expiry, a
//! dismissal is in force at once, on every server) and the index is brought up to the
//! read models, wherever they were moved from.
//!
//! Only what is certain to be the same is kept: the answer to one query (no batch, no
//! mutation), posted as JSON by a signed-in person, keyed by their session token and
//! the exact bytes of the body; an answer without errors and without headers of its
//! own; and not when a resolver read a projection that follows the read models
//! (history, activity), which may still move after the account's last event
//! ([`AnswerNotes::follower_read`]).
//!
//! The memory is bounded (`--kept-answers-mib`; 0 turns keeping off), and an answer
//! larger than a sixteenth of it is never kept.

use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use projections::permission::{Permissions, Viewer};
use projections::LogPosition;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// What one entry costs beyond its bytes (the key's and the entry's fixed parts).
const ENTRY_OVERHEAD: u64 = 96;
/// The content type async-graphql-axum answers with; a kept answer is served the same.
const CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/graphql-response+json");

#[derive(Clone)]
pub struct KeptAnswers {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    cache: Cache<Question, Answer, Size>,
    largest: u64,
    counts: Counts,
}

/// How often a question found its answer kept, found it outdated, or found none.
#[derive(Default)]
pub struct Counts {
    pub hits: AtomicU64,
    pub outdated: AtomicU64,
    pub misses: AtomicU64,
}

/// What [`KeptAnswers::look_up`] found.
pub enum Lookup {
    /// The kept answer, to serve as it is.
    Found(Response),
    /// None that still holds: run the query, then [`KeptAnswers::keep`] its answer.
    Keep(Pending),
    /// This request's answer is never kept.
    Never,
}

/// A question with no answer kept yet, and where the account stood when it was asked.
pub struct Pending {
    question: Question,
    account_at: LogPosition,
}

/// A request whose answer may be kept: whose it is, and exactly what was asked.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Question {
    token: Box<str>,
    body: Bytes,
}

#[derive(Clone)]
struct Answer {
    /// Where the asker's account stood when the answer was computed.
    account_at: LogPosition,
    body: Bytes,
}

#[derive(Clone)]
struct Size;

impl Weighter<Question, Answer> for Size {
    fn weight(&self, question: &Question, answer: &Answer) -> u64 {
        (question.token.len() + question.body.len() + answer.body.len()) as u64 + ENTRY_OVERHEAD
    }
}

impl KeptAnswers {
    /// Keeps answers in at most `capacity_bytes` of memory; none at all with 0.
    pub fn new(capacity_bytes: u64) -> Self {
        if capacity_bytes == 0 {
            return Self { inner: None };
        }
        // quick_cache sizes its tables from a count: assume answers of about 1 KiB.
        let expected = usize::try_from(capacity_bytes / 1024)
            .unwrap_or(usize::MAX)
            .max(16);
        Self {
            inner: Some(Arc::new(Inner {
                cache: Cache::with_weighter(expected, capacity_bytes, Size),
                largest: capacity_bytes / 16,
                counts: Counts::default(),
            })),
        }
    }

    /// Looks for the kept answer to the request `parts` and `body` ask with `token`
    /// for `viewer`. Only a POST of JSON from a signed-in person may have one; whether
    /// it is a query is known only once it is parsed (see [`KeptAnswers::keep`]).
    pub async fn look_up(
        &self,
        parts: &Parts,
        body: &Bytes,
        token: Option<&str>,
        viewer: Option<&Viewer>,
        permissions: &Permissions,
    ) -> Lookup {
        let (Some(inner), Some(token), Some(viewer)) = (&self.inner, token, viewer) else {
            return Lookup::Never;
        };
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
        if parts.method != Method::POST || !json || body.len() as u64 > inner.largest {
            return Lookup::Never;
        }
        let account_at = match permissions.account_changed_at(viewer.account).await {
            Ok(account_at) => account_at,
            Err(error) => {
                tracing::error!(%error, "the permission index could not catch up");
                return Lookup::Never;
            }
        };
        let question = Question {
            token: token.into(),
            body: body.clone(),
        };
        let count = |counter: &AtomicU64| counter.fetch_add(1, Ordering::Relaxed);
        match inner.cache.get(&question) {
            Some(answer) if answer.account_at == account_at => {
                count(&inner.counts.hits);
                return Lookup::Found(response(answer.body));
            }
            Some(_) => count(&inner.counts.outdated),
            None => count(&inner.counts.misses),
        };
        Lookup::Keep(Pending {
            question,
            account_at,
        })
    }

    /// Serves `fresh`, the answer to `pending`'s question, and keeps it unless it is
    /// not to be kept: an answer with errors, with headers of its own, or made from a
    /// follower (`notes`). Replaces an older answer to the question.
    pub fn keep(
        &self,
        pending: Pending,
        fresh: async_graphql::Response,
        notes: &AnswerNotes,
    ) -> Response {
        let plain = fresh.http_headers.is_empty() && fresh.cache_control.value().is_none();
        let Some(inner) = self
            .inner
            .as_ref()
            .filter(|_| fresh.is_ok() && plain && notes.keepable())
        else {
            return GraphQLResponse::from(fresh).into_response();
        };
        let body = match serde_json::to_vec(&fresh) {
            Ok(body) => Bytes::from(body),
            Err(error) => {
                tracing::error!(%error, "an answer could not be serialized");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        if body.len() as u64 <= inner.largest {
            // The request's bytes may be a slice of the connection's whole read buffer:
            // keep a copy of just them, so what is kept weighs what it is counted at.
            let question = Question {
                body: Bytes::copy_from_slice(&pending.question.body),
                ..pending.question
            };
            let answer = Answer {
                account_at: pending.account_at,
                body: body.clone(),
            };
            inner.cache.insert(question, answer);
        }
        response(body)
    }

    /// The counts so far, for `/metrics`; `None` when keeping is off.
    pub fn counts(&self) -> Option<&Counts> {
        self.inner.as_ref().map(|inner| &inner.counts)
    }
}

/// A kept answer, served as async-graphql-axum serves a fresh one.
fn response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

/// What resolvers note about the answer they are making, in the request's data.
#[derive(Default)]
pub struct AnswerNotes {
    follower_read: AtomicBool,
}

impl AnswerNotes {
    /// A resolver read a projection that follows the read models: the answer may be
    /// outdated without any new event of the account, so it is not kept.
    pub fn follower_read(&self) {
        self.follower_read.store(true, Ordering::Relaxed);
    }

    pub fn keepable(&self) -> bool {
        !self.follower_read.load(Ordering::Relaxed)
    }
}
