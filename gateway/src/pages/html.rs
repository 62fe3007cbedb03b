//! The frame every page shares, and escaping: every value that came from a person or
//! the database goes through `escape` before it reaches HTML.

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page. `title` is escaped here; `body` must already be safe HTML.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Extranet</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }}
  label {{ display: block; margin-top: 1rem; font-weight: 600; }}
  input {{ display: block; width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; border: 1px solid #666; border-radius: 4px; }}
  input:focus, button:focus {{ outline: 3px solid #1a5fb4; outline-offset: 2px; }}
  .error {{ color: #a51d2d; margin: .25rem 0 0; }}
  input[aria-invalid="true"] {{ border-color: #a51d2d; }}
  button {{ margin-top: 1.5rem; padding: .6rem 1.2rem; font-size: 1rem; background: #1a5fb4; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }}
  .notice {{ padding: 1rem; border-left: 4px solid #a51d2d; background: #fbeaea; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
        body = body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_shown_not_run() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert!(page("<b>", "").contains("<title>&lt;b&gt; · Extranet</title>"));
    }
}
