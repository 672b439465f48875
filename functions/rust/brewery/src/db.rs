//! A CouchDB database over plain HTTP: just what the brewery needs (as `common.Db`).

use serde_json::{json, Map, Value};
use std::fmt;

use crate::pyfmt::repr;

const TIMEOUT_S: u64 = 10;

#[derive(Debug)]
pub enum DbError {
    /// The database answered with an unexpected status (the message matches Python's).
    Status(u16, Value),
    /// The database could not be reached at all.
    Transport(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Status(status, body) => write!(f, "database answered {}: {}", status, repr(body)),
            DbError::Transport(reason) => write!(f, "database unreachable: {}", reason),
        }
    }
}

pub struct Db {
    base: String,
    authorization: Option<String>,
}

fn non_empty<'a>(args: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

impl Db {
    pub fn new(url: &str, name: &str, auth: Option<&str>) -> Db {
        Db {
            base: format!("{}/{}", url.trim_end_matches('/'), name),
            authorization: auth.filter(|a| !a.is_empty()).map(|a| format!("Basic {}", base64(a.as_bytes()))),
        }
    }

    /// `db_url` (default `$__OW_API_HOST/couch/_`), `db_auth` (default `$__OW_API_KEY`, only
    /// for that default: the platform key never goes to another server), `db_name`.
    pub fn from_args(args: &Map<String, Value>) -> Db {
        let name = non_empty(args, "db_name").unwrap_or("brewery");
        let auth = non_empty(args, "db_auth");
        match non_empty(args, "db_url") {
            Some(url) => Db::new(url, name, auth),
            None => {
                let url = std::env::var("__OW_API_HOST").unwrap_or_default() + "/couch/_";
                let env_key = std::env::var("__OW_API_KEY").ok();
                Db::new(&url, name, auth.or(env_key.as_deref()))
            }
        }
    }

    pub fn request(&self, method: minreq::Method, path: &str, body: Option<&Value>) -> Result<(u16, Value), DbError> {
        let mut req = minreq::Request::new(method, format!("{}{}", self.base, path))
            .with_timeout(TIMEOUT_S)
            .with_header("Content-Type", "application/json")
            .with_header("Accept", "application/json");
        if let Some(auth) = &self.authorization {
            req = req.with_header("Authorization", auth.as_str());
        }
        if let Some(body) = body {
            req = req.with_body(body.to_string());
        }
        let resp = req.send().map_err(|e| DbError::Transport(e.to_string()))?;
        let value = serde_json::from_slice(resp.as_bytes())
            .unwrap_or_else(|_| json!({"error": resp.reason_phrase}));
        Ok((resp.status_code, value))
    }

    /// Create the database and the index the queries sort on (idempotent).
    pub fn ensure(&self) -> Result<(), DbError> {
        let (status, body) = self.request(minreq::Method::Put, "", None)?;
        if ![201, 202, 412].contains(&status) {
            return Err(DbError::Status(status, body));
        }
        let index = json!({"index": {"fields": ["type", "key", "timestamp"]}, "name": "readings"});
        self.request(minreq::Method::Post, "/_index", Some(&index))?;
        Ok(())
    }

    pub fn get(&self, doc_id: &str) -> Result<Option<Map<String, Value>>, DbError> {
        let (status, body) = self.request(minreq::Method::Get, &format!("/{}", doc_id), None)?;
        match (status, body) {
            (404, _) => Ok(None),
            (200, Value::Object(doc)) => Ok(Some(doc)),
            (status, body) => Err(DbError::Status(status, body)),
        }
    }

    /// Write `doc` (with its `_rev` to update); None on a revision conflict.
    pub fn put(&self, doc: &Map<String, Value>) -> Result<Option<String>, DbError> {
        let id = doc.get("_id").and_then(Value::as_str).unwrap_or_default();
        let body = Value::Object(doc.clone());
        let (status, answer) = self.request(minreq::Method::Put, &format!("/{}", id), Some(&body))?;
        let reason = answer.get("reason").and_then(Value::as_str).unwrap_or_default();
        match status {
            409 => Ok(None),
            404 if reason == "Database does not exist." || reason == "no_db_file" => {
                self.ensure()?;
                self.put(doc)
            }
            200..=202 => Ok(Some(answer.get("rev").and_then(Value::as_str).unwrap_or_default().to_string())),
            _ => Err(DbError::Status(status, answer)),
        }
    }
}

/// Standard base64 with padding (for the Basic authorization header).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64() {
        assert_eq!(super::base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"a"), "YQ==");
        assert_eq!(super::base64(b""), "");
    }
}
