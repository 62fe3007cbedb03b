//! Stable codes for the errors async-graphql raises itself, and the limits on what one
//! operation may ask.
//!
//! Resolvers fail with an [`ApiError`], which carries `extensions.code`; the engine's
//! own refusals carry none. [`ErrorCodes`], an async-graphql extension, tags each of
//! them by the step it arose in, so every error this API answers has a code:
//!
//! | step | code |
//! | --- | --- |
//! | parsing the text | `GRAPHQL_PARSE_FAILED` |
//! | measuring the document (see [`measure`]) | `TOO_MANY_FIELDS`, `QUERY_TOO_DEEP` |
//! | validating it against the schema and the variables | `GRAPHQL_VALIDATION_FAILED` |
//! | its depth and cost, from validation's counts | `QUERY_TOO_DEEP`, `QUERY_TOO_COMPLEX` |
//! | choosing the operation to run | `OPERATION_RESOLUTION_FAILURE` |
//! | coercing a field's arguments as it runs | `BAD_USER_INPUT` |
//!
//! The depth and cost limits are checked here rather than with async-graphql's
//! `limit_depth` and `limit_complexity`, whose errors could be told from validation
//! errors only by their text.

use super::ApiError;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextSubscribe, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    Name, Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use futures_util::stream::{BoxStream, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;

/// How deep fields may nest (`{ a { b } }` is 2 deep).
pub const MAX_DEPTH: usize = 12;
/// What one operation may cost: each field 1, and a list its `first` times what each
/// of its items asks for (`page::cost`).
pub const MAX_COMPLEXITY: usize = 500;
/// How many fields a document may select once its fragments are spread. Every field
/// but `__typename` costs at least 1, so this refuses nothing [`MAX_COMPLEXITY`] would
/// let through, except floods of `__typename`.
pub const MAX_FIELDS: usize = 2 * MAX_COMPLEXITY;
/// How deeply selections may nest, each field with a selection, fragment spread and
/// inline fragment a level: async-graphql's own bound (its default
/// `limit_recursive_depth`), checked here first because [`measure`] must not recurse
/// further either.
pub const MAX_NESTING: usize = 32;

/// The codes, as clients see them.
pub mod code {
    pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const TOO_DEEP: &str = "QUERY_TOO_DEEP";
    pub const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const TOO_MANY_FIELDS: &str = "TOO_MANY_FIELDS";
    pub const OPERATION_RESOLUTION_FAILURE: &str = "OPERATION_RESOLUTION_FAILURE";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const INTERNAL: &str = "INTERNAL";
}

/// The extension; install it once on the schema. It keeps no state of its own, so
/// every request shares one instance.
pub struct ErrorCodes(Arc<Tagger>);

impl Default for ErrorCodes {
    fn default() -> Self {
        Self(Arc::new(Tagger))
    }
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        self.0.clone()
    }
}

pub struct Tagger;

#[async_graphql::async_trait::async_trait]
impl Extension for Tagger {
    /// Parses the text (unless a parse was kept, `parsed.rs`) and measures it, before
    /// async-graphql walks it at all.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let document = match request.parsed_query() {
            Ok(document) => document,
            Err(_) => return Err(parse_error(&request.query)),
        };
        measure(document)?;
        next.run(ctx, request).await
    }

    /// The text was parsed and measured above; what async-graphql checks here besides
    /// is the nesting of selections, which [`measure`] bounds already.
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|error| tagged(error, code::TOO_DEEP))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let counts = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| tagged(error, code::VALIDATION_FAILED))
                .collect::<Vec<_>>()
        })?;
        if counts.depth > MAX_DEPTH {
            return Err(vec![refusal(
                code::TOO_DEEP,
                format!(
                    "this operation is nested too deep: its fields nest {} deep, more than \
                     the {MAX_DEPTH} allowed; nothing was run. Ask for less in one operation.",
                    counts.depth
                ),
            )]);
        }
        if counts.complexity > MAX_COMPLEXITY {
            return Err(vec![refusal(
                code::TOO_COMPLEX,
                format!(
                    "this operation is too complex: it costs {}, more than the \
                     {MAX_COMPLEXITY} allowed (a field costs 1, a list its `first` times each \
                     item's cost); nothing was run. Ask for smaller pages or fewer fields.",
                    counts.complexity
                ),
            )]);
        }
        Ok(counts)
    }

    /// Queries and mutations over HTTP, single or batched.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        tag_the_rest(&mut response.errors);
        response
    }

    /// Operations over WebSocket: every response of the stream.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                tag_the_rest(&mut response.errors);
                response
            })
            .boxed()
    }
}

/// The error for a text that does not parse, parsed again to learn why: the parser
/// refuses selections nested more than 64 deep as it refuses a syntax error.
fn parse_error(text: &str) -> ServerError {
    match async_graphql::parser::parse_query(text) {
        Err(async_graphql::parser::Error::RecursionLimitExceeded) | Ok(_) => too_deep(),
        Err(error) => tagged(ServerError::from(error), code::PARSE_FAILED),
    }
}

/// Tags what no step before did: errors async-graphql raises once the document is
/// valid.
fn tag_the_rest(errors: &mut [ServerError]) {
    for error in errors.iter_mut().filter(|error| !has_code(error)) {
        let code = if error.path.is_empty() {
            // Before any field ran: the document names no operation this request can
            // run (an unknown `operationName`, or several operations and none named).
            code::OPERATION_RESOLUTION_FAILURE
        } else if error.source.is_some() {
            // A resolver's own error that is not an `ApiError`: a fault of ours, whose
            // text is not for the client.
            tracing::error!(message = %error.message, path = ?error.path, "a resolver failed without an error code");
            error.message = ApiError::Internal.message();
            code::INTERNAL
        } else {
            // In a field, before its resolver: async-graphql coercing its arguments,
            // where validation could not judge them (the text of a `DateTime`, a
            // variable that was not sent).
            code::BAD_USER_INPUT
        };
        set_code(error, code);
    }
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some())
}

fn set_code(error: &mut ServerError, code: &'static str) {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", Value::from(code));
}

/// `error` with `code`, unless it has one.
fn tagged(mut error: ServerError, code: &'static str) -> ServerError {
    if !has_code(&error) {
        set_code(&mut error, code);
    }
    error
}

/// An error of this module's own, with `code`.
fn refusal(code: &'static str, message: String) -> ServerError {
    tagged(ServerError::new(message, None), code)
}

fn too_deep() -> ServerError {
    refusal(
        code::TOO_DEEP,
        format!(
            "this operation nests selections more than {MAX_NESTING} levels deep (each field \
             with a selection, fragment spread and inline fragment is a level); nothing was \
             run. Ask for less in one operation."
        ),
    )
}

/// Refuses a document before async-graphql walks it, if it is too large for that.
///
/// async-graphql's validation and execution walk a fragment once for every place it
/// is spread, so a text of 1.5 KB whose twenty fragments each spread the one before
/// twice has them visit a million fields (10 s of a core in a debug build) before any
/// limit is checked; and some of its validation rules follow chains of fragment spreads
/// by recursion, so a chain of a few thousand fragments that no operation uses
/// overflows the stack and aborts the process. Here each fragment is walked once, and
/// never deeper than [`MAX_NESTING`].
///
/// Refuses a document with more than [`MAX_FIELDS`] fields once its fragments are
/// spread (every operation counted, though only one runs: validation walks them all),
/// nested more than [`MAX_NESTING`] deep, or with a fragment no operation uses, which
/// is invalid anyway and would otherwise be walked unmeasured.
pub fn measure(document: &ExecutableDocument) -> Result<(), ServerError> {
    let mut sizes = Sizes {
        document,
        fragments: HashMap::new(),
    };
    let mut fields = 0usize;
    for (_, operation) in document.operations.iter() {
        let size = sizes.selection_set(&operation.node.selection_set.node, 0)?;
        fields = fields.saturating_add(size.fields);
    }
    if fields > MAX_FIELDS {
        return Err(refusal(
            code::TOO_MANY_FIELDS,
            format!(
                "this document selects {fields} fields once its fragments are spread, more \
                 than the {MAX_FIELDS} allowed; nothing was run. Ask for fewer fields, or \
                 send several operations."
            ),
        ));
    }
    if let Some(unused) = document
        .fragments
        .keys()
        .find(|name| !sizes.fragments.contains_key(name.as_str()))
    {
        return Err(refusal(
            code::VALIDATION_FAILED,
            format!("fragment \"{unused}\" is never used; remove it, or spread it."),
        ));
    }
    Ok(())
}

/// A selection set's fields once its fragments are spread, and how deeply its
/// selections nest below it.
#[derive(Clone, Copy, Default)]
struct Size {
    fields: usize,
    height: usize,
}

/// The sizes of the fragments of `document` met so far.
struct Sizes<'a> {
    document: &'a ExecutableDocument,
    fragments: HashMap<&'a str, Size>,
}

impl<'a> Sizes<'a> {
    /// The size of `set`, found `depth` levels below its operation.
    fn selection_set(&mut self, set: &'a SelectionSet, depth: usize) -> ServerResult<Size> {
        if depth > MAX_NESTING {
            return Err(too_deep());
        }
        let mut total = Size::default();
        for selection in &set.items {
            let (fields, below) = match &selection.node {
                Selection::Field(field) => {
                    let children = &field.node.selection_set.node;
                    if children.items.is_empty() {
                        (1, None)
                    } else {
                        let size = self.selection_set(children, depth + 1)?;
                        (size.fields.saturating_add(1), Some(size.height))
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let size = self.selection_set(&fragment.node.selection_set.node, depth + 1)?;
                    (size.fields, Some(size.height))
                }
                Selection::FragmentSpread(spread) => {
                    let size = self.fragment(&spread.node.fragment_name.node, depth + 1)?;
                    (size.fields, Some(size.height))
                }
            };
            total.fields = total.fields.saturating_add(fields);
            if let Some(height) = below {
                total.height = total.height.max(height + 1);
            }
        }
        if depth + total.height > MAX_NESTING {
            return Err(too_deep());
        }
        Ok(total)
    }

    /// The size of the fragment `name`, spread `depth` levels below its operation;
    /// nothing for one that is not defined (validation reports it).
    fn fragment(&mut self, name: &'a Name, depth: usize) -> ServerResult<Size> {
        if let Some(size) = self.fragments.get(name.as_str()) {
            return Ok(*size);
        }
        let document = self.document;
        let Some((name, fragment)) = document.fragments.get_key_value(name) else {
            return Ok(Size::default());
        };
        // Noted as empty while it is measured: a fragment that spreads itself (which
        // validation refuses) then adds nothing instead of recursing without end.
        self.fragments.insert(name.as_str(), Size::default());
        let size = self.selection_set(&fragment.node.selection_set.node, depth)?;
        self.fragments.insert(name.as_str(), size);
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn measured(text: &str) -> Result<(), String> {
        let document = parse_query(text).expect("the test's text parses");
        measure(&document).map_err(|error| {
            let code = error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.get("code").cloned());
            format!("{code:?}: {}", error.message)
        })
    }

    #[test]
    fn fields_are_counted_with_fragments_spread_where_they_are_used() {
        // 2 + 2 × (1 + 2) = 8 fields.
        let text = "{ a { b } ...F x: a { ...F } } fragment F on Q { c d }";
        assert!(measured(text).is_ok());
        let many = format!("{{ {} }}", "a ".repeat(MAX_FIELDS));
        assert!(measured(&many).is_ok());
        let too_many = format!("{{ {} }}", "a ".repeat(MAX_FIELDS + 1));
        assert!(measured(&too_many)
            .is_err_and(|error| error.contains("TOO_MANY_FIELDS") && error.contains("1001")));
    }

    #[test]
    fn fragments_that_double_each_other_are_counted_without_being_walked() {
        let mut text = String::from("{ ...F30 } fragment F0 on Q { a }");
        for n in 1..=30 {
            text.push_str(&format!(
                " fragment F{n} on Q {{ ...F{} ...F{} }}",
                n - 1,
                n - 1
            ));
        }
        assert!(measured(&text).is_err_and(|error| error.contains("TOO_MANY_FIELDS")));
    }

    #[test]
    fn nesting_through_fragments_is_bounded() {
        let chain = |links: usize| {
            let mut text = String::from("{ ...F0 }");
            for n in 0..links {
                text.push_str(&format!(" fragment F{n} on Q {{ ...F{} }}", n + 1));
            }
            text.push_str(&format!(" fragment F{links} on Q {{ a }}"));
            text
        };
        assert!(measured(&chain(MAX_NESTING - 1)).is_ok());
        assert!(measured(&chain(MAX_NESTING)).is_err_and(|error| error.contains("QUERY_TOO_DEEP")));
        assert!(measured(&chain(5_000)).is_err_and(|error| error.contains("QUERY_TOO_DEEP")));
    }

    #[test]
    fn a_fragment_used_deeper_than_where_it_was_first_measured_is_too_deep() {
        let nested = |levels: usize| format!("{}b{}", "a { ".repeat(levels), " }".repeat(levels));
        let text = format!(
            "{{ ...F {} }} fragment F on Q {{ {} }}",
            nested(MAX_NESTING - 10).replace('b', "...F"),
            nested(10)
        );
        assert!(measured(&text).is_err_and(|error| error.contains("QUERY_TOO_DEEP")));
    }

    #[test]
    fn unused_and_self_spreading_fragments_do_not_loop() {
        let unused = "{ a } fragment F on Q { ...G } fragment G on Q { b }";
        assert!(measured(unused).is_err_and(|error| error.contains("never used")));
        assert!(measured("{ ...F } fragment F on Q { a ...F }").is_ok());
        assert!(measured("{ ...Missing }").is_ok(), "validation reports it");
    }
}
