//! Connection settings as `psql` finds them: the connection string first, then
//! libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD,
//! PGAPPNAME, PGOPTIONS, PGCONNECT_TIMEOUT), then libpq's defaults (the
//! Debian socket directory, the login name); a missing password comes from
//! PGPASSFILE or ~/.pgpass. rust-postgres reads none of these by itself.

use crate::CliError;
use postgres::config::Host;
use postgres::Config;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// libpq's default socket directory on Debian.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// The settings for `dsn` (may be empty) completed from `env` (a variable
/// lookup, so tests pass their own environment).
pub fn resolve(dsn: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, CliError> {
    let mut config: Config = if dsn.trim().is_empty() {
        Config::new()
    } else {
        dsn.parse().map_err(|e: postgres::Error| {
            CliError::new(
                format!("invalid connection string: {e}"),
                crate::error::hint_for(None, "invalid connection string"),
            )
        })?
    };
    if config.get_hosts().is_empty() {
        let hosts = env("PGHOST").unwrap_or_else(|| DEFAULT_SOCKET_DIR.to_owned());
        for h in hosts.split(',') {
            config.host(h);
        }
    }
    if config.get_ports().is_empty() {
        if let Some(p) = env("PGPORT") {
            let port = p.trim().parse().map_err(|_| {
                CliError::new(
                    format!("invalid PGPORT: {p}"),
                    "set PGPORT to a port number",
                )
            })?;
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| "postgres".to_owned());
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let db =
            env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or("postgres").to_owned());
        config.dbname(&db);
    }
    if config.get_application_name().is_none() {
        config.application_name(&env("PGAPPNAME").unwrap_or_else(|| "decnet".to_owned()));
    }
    if config.get_options().is_none() {
        if let Some(o) = env("PGOPTIONS") {
            config.options(&o);
        }
    }
    if config.get_connect_timeout().is_none() {
        if let Some(secs) = env("PGCONNECT_TIMEOUT")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&s| s > 0)
        {
            config.connect_timeout(Duration::from_secs(secs.max(2)));
        }
    }
    if config.get_password().is_none() {
        let password = env("PGPASSWORD").or_else(|| {
            let file = env("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
            password_from_file(&file, &config)
        });
        if let Some(p) = password {
            config.password(p);
        }
    }
    Ok(config)
}

/// The password of the first matching line of a password file, as libpq reads
/// it: ignored unless only its owner can read it.
fn password_from_file(file: &Path, config: &Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        eprintln!("decnet: warning: password file {} has group or world access; it is ignored (chmod 0600 it)", file.display());
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(p) => p.to_string_lossy().into_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let (db, user) = (config.get_dbname()?, config.get_user()?);
    pgpass_lookup(&text, &host, &port, db, user)
}

/// `hostname:port:database:username:password` lines; `*` matches anything,
/// `\:` and `\\` are literal; a socket directory matches `localhost` too.
pub fn pgpass_lookup(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let fields = split_escaped(line);
        let [h, p, d, u, pw] = fields.as_slice() else {
            continue;
        };
        let host_ok = h == "*" || h == host || (host.starts_with('/') && h == "localhost");
        if host_ok && (p == "*" || p == port) && (d == "*" || d == db) && (u == "*" || u == user) {
            return Some(pw.clone());
        }
    }
    None
}

fn split_escaped(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one").extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_environment_fills_what_the_string_leaves_out() {
        let env = env_of(&[
            ("PGHOST", "/run/pg"),
            ("PGPORT", "6543"),
            ("PGUSER", "sensor"),
            ("PGDATABASE", "honey"),
            ("USER", "root"),
        ]);
        let c = resolve("", &env).unwrap();
        assert!(matches!(&c.get_hosts()[0], Host::Unix(p) if p == Path::new("/run/pg")));
        assert_eq!(
            (c.get_ports(), c.get_user(), c.get_dbname()),
            (&[6543u16][..], Some("sensor"), Some("honey"))
        );
        // the string wins over the environment, as in libpq
        let c = resolve("host=db.example port=5433 user=owner dbname=decnet", &env).unwrap();
        assert!(matches!(&c.get_hosts()[0], Host::Tcp(h) if h == "db.example"));
        assert_eq!(
            (c.get_ports(), c.get_user(), c.get_dbname()),
            (&[5433u16][..], Some("owner"), Some("decnet"))
        );
        // libpq's defaults: the socket directory, the login name, a database of that name
        let c = resolve("", &env_of(&[("USER", "alice")])).unwrap();
        assert!(matches!(&c.get_hosts()[0], Host::Unix(p) if p == Path::new(DEFAULT_SOCKET_DIR)));
        assert_eq!(
            (c.get_user(), c.get_dbname()),
            (Some("alice"), Some("alice"))
        );
        assert!(resolve("", &env_of(&[("PGPORT", "x")])).is_err());
        assert_eq!(
            resolve("", &env_of(&[("PGPASSWORD", "s3cret")]))
                .unwrap()
                .get_password(),
            Some(&b"s3cret"[..])
        );
    }

    #[test]
    fn pgpass_lines_match_like_libpq() {
        let text = "# comment\ndb.example:5432:decnet:owner:pw1\n*:*:other:*:pw2\nlocalhost:5432:*:sensor:pa\\:ss\\\\w\n";
        assert_eq!(
            pgpass_lookup(text, "db.example", "5432", "decnet", "owner").as_deref(),
            Some("pw1")
        );
        assert_eq!(
            pgpass_lookup(text, "db.example", "5433", "decnet", "owner"),
            None
        );
        assert_eq!(
            pgpass_lookup(text, "anything", "1", "other", "x").as_deref(),
            Some("pw2")
        );
        assert_eq!(
            pgpass_lookup(text, "/var/run/postgresql", "5432", "decnet", "sensor").as_deref(),
            Some("pa:ss\\w")
        );
    }

    #[test]
    fn a_password_file_others_can_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("decnet-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(&file, "*:*:*:*:from-file\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let passfile = file.to_str().unwrap().to_owned();
        let env = env_of(&[("PGPASSFILE", passfile.as_str()), ("USER", "u")]);
        assert_eq!(
            resolve("", &env).unwrap().get_password(),
            Some(&b"from-file"[..])
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(resolve("", &env).unwrap().get_password(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
