//! Where a request's session token comes from: `Authorization: Bearer <token>` for
//! programs, the `extranet_session` cookie for the pages a browser opens.

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::HeaderMap;

pub const SESSION_COOKIE: &str = "extranet_session";

pub fn session_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(token) = value.strip_prefix("Bearer ") {
            return Some(token.trim().to_string());
        }
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value for a new session: not readable by scripts, sent only to
/// this site.
pub fn session_cookie(token: &str) -> String {
    let max_age = projections::session::SESSION_DAYS * 24 * 60 * 60;
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_header_wins_over_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=b; extranet_session=fromcookie".parse().unwrap());
        assert_eq!(session_token(&headers).as_deref(), Some("fromcookie"));
        headers.insert(AUTHORIZATION, "Bearer fromheader".parse().unwrap());
        assert_eq!(session_token(&headers).as_deref(), Some("fromheader"));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }
}
