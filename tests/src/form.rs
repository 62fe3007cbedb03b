//! Just enough HTML reading to fill in and submit a form the way a browser would.
//!
//! The pages under test are the binary's own, small and server-rendered; a tag scanner
//! is enough and keeps an HTML parser out of the dependency tree.

/// One `<input>` of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormInput {
    pub name: String,
    /// The `type` attribute, lower-cased; "text" when absent, as in a browser.
    pub kind: String,
    pub value: String,
}

/// The first `<form>` of a page and its named inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlForm {
    /// The `method` attribute, lower-cased; "get" when absent, as in a browser.
    pub method: String,
    pub inputs: Vec<FormInput>,
}

impl HtmlForm {
    /// Reads the first form of `html`, or `None` when the page has no form.
    pub fn parse(html: &str) -> Option<HtmlForm> {
        let lower = html.to_ascii_lowercase();
        let start = lower.find("<form")?;
        let end = lower[start..]
            .find("</form")
            .map_or(html.len(), |end| start + end);
        let (form_tag, _) = tag_at(html, start)?;
        let method = attribute(form_tag, "method")
            .map_or_else(|| "get".to_owned(), |method| method.to_ascii_lowercase());

        let mut inputs = Vec::new();
        let mut cursor = start;
        while let Some(found) = lower[cursor..end].find("<input") {
            let at = cursor + found;
            let Some((tag, after)) = tag_at(html, at) else {
                break;
            };
            cursor = after;
            let kind = attribute(tag, "type")
                .map_or_else(|| "text".to_owned(), |kind| kind.to_ascii_lowercase());
            // A browser sends no buttons but the one clicked, and no nameless inputs.
            if matches!(kind.as_str(), "submit" | "button" | "reset" | "image") {
                continue;
            }
            if let Some(name) = attribute(tag, "name") {
                inputs.push(FormInput {
                    name,
                    kind,
                    value: attribute(tag, "value").unwrap_or_default(),
                });
            }
        }
        Some(HtmlForm { method, inputs })
    }

    pub fn input(&self, name: &str) -> Option<&FormInput> {
        self.inputs.iter().find(|input| input.name == name)
    }

    /// The prefilled value of the input `name`, if the form has one.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.input(name).map(|input| input.value.as_str())
    }

    /// Types `value` into the input `name`, as a user would.
    pub fn fill(&mut self, name: &str, value: &str) -> &mut Self {
        match self.inputs.iter_mut().find(|input| input.name == name) {
            Some(input) => input.value = value.to_owned(),
            None => self.inputs.push(FormInput {
                name: name.to_owned(),
                kind: "text".to_owned(),
                value: value.to_owned(),
            }),
        }
        self
    }

    /// The name/value pairs a browser would submit.
    pub fn fields(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .map(|input| (input.name.clone(), input.value.clone()))
            .collect()
    }
}

/// The tag starting at `start` (its text up to and excluding `>`) and the index after it.
fn tag_at(html: &str, start: usize) -> Option<(&str, usize)> {
    let end = start + html[start..].find('>')?;
    Some((&html[start..end], end + 1))
}

/// The entity-decoded value of attribute `name` in `tag`, quoted or not.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        // The name must be a whole attribute name: preceded by whitespace, followed by `=`.
        let preceded = lower[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = lower[from..].trim_start();
        if !preceded {
            continue;
        }
        if !rest.starts_with('=') {
            // A bare attribute (`<input required>`) has the empty string as its value.
            if rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_whitespace() || c == '/') {
                return Some(String::new());
            }
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        let raw = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or_default(),
            _ => value
                .split(|c: char| c.is_ascii_whitespace() || c == '>')
                .next()
                .unwrap_or_default()
                .trim_end_matches('/'),
        };
        return Some(decode_entities(raw));
    }
    None
}

fn decode_entities(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<html><body><h1>Join</h1>
        <form method="POST" action="">
          <input type="hidden" name="secret" value="abc123">
          <label>First name <input name=first_name value='Gus'></label>
          <input type="text" name="last_name" value="O&#39;Guest" required />
          <input type="password" name="password" required>
          <input type="submit" name="go" value="Accept">
        </form></body></html>"#;

    #[test]
    fn reads_method_and_named_inputs() {
        let form = HtmlForm::parse(PAGE).expect("the page has a form");
        assert_eq!(form.method, "post");
        assert_eq!(
            form.input("secret").map(|i| i.kind.as_str()),
            Some("hidden")
        );
        assert_eq!(form.value("secret"), Some("abc123"));
        assert_eq!(form.value("first_name"), Some("Gus"));
        assert_eq!(form.value("last_name"), Some("O'Guest"));
        assert_eq!(form.value("password"), Some(""));
        assert_eq!(form.input("go"), None);
    }

    #[test]
    fn filling_replaces_the_value() {
        let mut form = HtmlForm::parse(PAGE).expect("the page has a form");
        form.fill("password", "s3cret");
        assert!(form
            .fields()
            .contains(&("password".to_owned(), "s3cret".to_owned())));
    }

    #[test]
    fn a_page_without_a_form_has_none() {
        assert_eq!(
            HtmlForm::parse("<p>This invitation was already used.</p>"),
            None
        );
    }
}
