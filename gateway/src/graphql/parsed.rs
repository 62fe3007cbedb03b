//! Parsed documents, kept by their text.
//!
//! async-graphql parses each request's query text from scratch, and its parser is the
//! dearest step of an ordinary request: for a guest's `{ task(id: …) { id title } }`,
//! parsing takes about 14 µs where validating and running the parsed document take
//! about 6 (`cargo run --release -p gateway --example engine_costs`). Clients send the
//! same few documents again and again, with their values in variables or inline, so
//! the parse of each text is kept and handed to the engine, which then only validates
//! and runs it. Validation is not skipped: it depends on the schema and the variables,
//! and it is cheap.
//!
//! The cache is bounded by the total length of the texts it holds, and a text longer
//! than [`MAX_TEXT`] is never kept, so a client sending ever new documents costs
//! memory only up to the bound and evicts nothing but other such documents first
//! (the cache keeps what is asked for often).

use async_graphql::parser::{parse_query, types::ExecutableDocument};
use async_graphql::Request;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use std::sync::Arc;

/// Longest query text kept, in bytes.
const MAX_TEXT: usize = 8 * 1024;
/// Total length of the texts kept, in bytes: a parsed document takes some ten times
/// its text, so the cache holds a few tens of MiB at most.
const CAPACITY: u64 = 2 * 1024 * 1024;
/// How many documents the cache is sized for (a hint to its internal layout).
const EXPECTED_DOCUMENTS: usize = 1024;

#[derive(Clone)]
pub struct ParsedDocuments {
    cache: Arc<Cache<String, ExecutableDocument, TextLength>>,
}

#[derive(Clone)]
struct TextLength;

impl Weighter<String, ExecutableDocument> for TextLength {
    fn weight(&self, text: &String, _: &ExecutableDocument) -> u64 {
        text.len() as u64
    }
}

impl Default for ParsedDocuments {
    fn default() -> Self {
        Self {
            cache: Arc::new(Cache::with_weighter(
                EXPECTED_DOCUMENTS,
                CAPACITY,
                TextLength,
            )),
        }
    }
}

impl ParsedDocuments {
    /// Gives `request` the parsed form of its text, from the cache or parsed now and
    /// kept. A text that does not parse is left to the engine, which reports the
    /// syntax error as it always does.
    pub fn prepare(&self, mut request: Request) -> Request {
        if request.query.len() > MAX_TEXT {
            return request;
        }
        if let Some(document) = self.cache.get(request.query.as_str()) {
            request.set_parsed_query(document);
            return request;
        }
        if let Ok(document) = parse_query(&request.query) {
            self.cache.insert(request.query.clone(), document.clone());
            request.set_parsed_query(document);
        }
        request
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_its_document_reused() {
        let documents = ParsedDocuments::default();
        let mut first = documents.prepare(Request::new("{ viewer { id } }"));
        let mut second = documents.prepare(Request::new("{ viewer { id } }"));
        assert_eq!(documents.len(), 1);
        assert_eq!(
            format!("{:?}", first.parsed_query().expect("parsed")),
            format!("{:?}", second.parsed_query().expect("parsed"))
        );
    }

    #[test]
    fn syntax_errors_and_huge_texts_are_not_kept() {
        let documents = ParsedDocuments::default();
        let mut broken = documents.prepare(Request::new("{ viewer { id }"));
        assert!(
            broken.parsed_query().is_err(),
            "the engine still reports it"
        );
        let huge = format!("{{ viewer {{ id }} }} #{}", "x".repeat(MAX_TEXT));
        documents.prepare(Request::new(huge));
        assert_eq!(documents.len(), 0);
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_of_text() {
        let documents = ParsedDocuments::default();
        for n in 0..20_000 {
            documents.prepare(Request::new(format!("{{ viewer {{ id }} }} # {n:0>200}")));
        }
        let held = documents.len() as u64 * 220;
        assert!(
            held <= CAPACITY + CAPACITY / 10,
            "{held} bytes of text kept"
        );
    }
}
