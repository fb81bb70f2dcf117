//! Errors the CLI prints as one line with a hint, never as a panic.

use postgres::error::SqlState;
use std::fmt;

#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: String,
}

impl CliError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A database error, with the hint chosen from its SQLSTATE (or the server's own hint).
    pub fn from_db(context: &str, e: postgres::Error) -> Self {
        let (code, server_msg, server_hint) = match e.as_db_error() {
            Some(db) => (
                Some(db.code().clone()),
                db.message().to_string(),
                db.hint().map(str::to_string),
            ),
            None => (None, one_line(&e.to_string()), None),
        };
        let hint = server_hint.unwrap_or_else(|| hint_for(code.as_ref(), &server_msg).to_string());
        let code_txt = code
            .map(|c| format!(" [SQLSTATE {}]", c.code()))
            .unwrap_or_default();
        CliError::new(format!("{context}: {server_msg}{code_txt}"), hint)
    }
}

/// Hints for the failures an operator meets first.
pub fn hint_for(code: Option<&SqlState>, message: &str) -> &'static str {
    match code {
        Some(c) if *c == SqlState::UNDEFINED_FILE => {
            "the decnet extension is not installed in this PostgreSQL: run `./x demo` or `cargo pgrx install --release`"
        }
        Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::INVALID_SCHEMA_NAME => {
            "the database is not migrated: run `decnet migrate` first"
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => "connect as a role allowed to do this (the owner for migrate)",
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => "create the database first, or fix dbname in the connection string",
        Some(_) => "see the PostgreSQL server log for details",
        None if message.contains("invalid connection string") || message.contains("unknown option") || message.contains("invalid value") => {
            "use key=value pairs (host=/path/to/socket port=5432 dbname=decnet user=postgres) or a postgresql:// URL"
        }
        None => "is the server running, and do host, port and user in the connection string match it?",
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error: {} (hint: {})",
            one_line(&self.message),
            self.hint
        )
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new(format!("I/O: {e}"), "check the file path and permissions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_by_sqlstate() {
        assert!(hint_for(Some(&SqlState::UNDEFINED_FILE), "").contains("not installed"));
        assert!(hint_for(Some(&SqlState::UNDEFINED_TABLE), "").contains("decnet migrate"));
        assert!(hint_for(None, "invalid connection string: unexpected EOF").contains("key=value"));
        assert!(
            hint_for(None, "error connecting to server: Connection refused")
                .contains("server running")
        );
    }

    #[test]
    fn display_is_one_line() {
        let e = CliError::new("a\nb", "do c");
        assert_eq!(e.to_string(), "error: a b (hint: do c)");
    }
}
