//! Service families (correction #55): the programs inside one honeypot
//! service count as that service.
//!
//! DECNET's SSH container logs through four programs: `auth-helper` (the PAM
//! hook that captures every password), the native `sshd` lines, `sessrec` (the
//! pty recorder) and `bash` (the PROMPT_COMMAND logger); its telnet container
//! reuses `auth-helper`, `sessrec` and `bash` behind busybox `telnetd` and
//! Debian's `/bin/login`. The SMTP template logs as `smtp`, or as
//! `smtp_relay` when it runs as an open relay. Counted one program per
//! service, an SSH brute-forcer is a two- or three-service scanner.
//!
//! `decnet.logs.service` and `decnet.attacker_services` keep the program (the
//! APP-NAME); the attacker's `services`, `service_count`, buckets and
//! behaviour class count families.

use std::collections::BTreeMap;

/// What a program's lines belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family<'a> {
    /// A service of its own, under this name.
    Service(&'a str),
    /// A program of the interactive login services (SSH or telnet); which one
    /// its lines belong to is decided per attacker by [`families_of`].
    LoginHelper,
}

/// The login services that share helper programs. The first is the default.
pub const LOGIN_SERVICES: [&str; 2] = ["ssh", "telnet"];

/// Programs that are another service's, by the name that service logs under.
pub const PROGRAM_ALIASES: [(&str, &str); 4] = [
    ("sshd", "ssh"),
    ("login", "telnet"),
    ("telnetd", "telnet"),
    ("smtp_relay", "smtp"),
];

/// Programs run by both the SSH and the telnet containers: the PAM hook, the
/// session recorder, the shell's command logger, privilege changes and the
/// file-capture logger (`logger -t systemd-journal`).
pub const LOGIN_HELPERS: [&str; 6] = [
    "auth-helper",
    "sessrec",
    "bash",
    "sudo",
    "su",
    "systemd-journal",
];

pub fn program_family(program: &str) -> Family<'_> {
    if LOGIN_HELPERS.contains(&program) {
        return Family::LoginHelper;
    }
    match PROGRAM_ALIASES.iter().find(|(p, _)| *p == program) {
        Some((_, service)) => Family::Service(service),
        None => Family::Service(program),
    }
}

/// The family of each of one attacker's programs, in the order given. A login
/// helper joins the attacker's login service when it used exactly one of them
/// (its `telnet` connection lines say telnet); otherwise SSH. When the
/// attacker used both, the helper adds no service either way.
pub fn families_of<'a>(programs: &[&'a str]) -> Vec<&'a str> {
    let direct: Vec<Family<'a>> = programs.iter().map(|p| program_family(p)).collect();
    let mut used = LOGIN_SERVICES
        .iter()
        .copied()
        .filter(|login| direct.contains(&Family::Service(login)));
    let helper_joins = match (used.next(), used.next()) {
        (Some(only), None) => only,
        _ => LOGIN_SERVICES[0],
    };
    direct
        .into_iter()
        .map(|f| match f {
            Family::Service(s) => s,
            Family::LoginHelper => helper_joins,
        })
        .collect()
}

/// The attacker's services: its programs' families, sorted and distinct.
pub fn service_families<'a>(programs: &[&'a str]) -> Vec<&'a str> {
    let mut out = families_of(programs);
    out.sort_unstable();
    out.dedup();
    out
}

/// Per family, the best bucket of its programs (interacted > scanned > noise);
/// returns (interacted, scanned), each sorted. `buckets` runs parallel to
/// `programs`, as in decnet.attacker_services.
pub fn family_buckets(programs: &[&str], buckets: &[&str]) -> (Vec<String>, Vec<String>) {
    fn rank(bucket: &str) -> u8 {
        match bucket {
            "interacted" => 2,
            "scanned" => 1,
            _ => 0,
        }
    }
    let mut best: BTreeMap<&str, u8> = BTreeMap::new();
    for (family, bucket) in families_of(programs).into_iter().zip(buckets) {
        let slot = best.entry(family).or_insert(0);
        *slot = (*slot).max(rank(bucket));
    }
    let pick = |r| {
        best.iter()
            .filter(|(_, b)| **b == r)
            .map(|(f, _)| f.to_string())
            .collect()
    };
    (pick(2), pick(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_programs_are_one_service() {
        assert_eq!(
            service_families(&["auth-helper", "sshd", "sessrec", "bash"]),
            vec!["ssh"]
        );
        assert_eq!(service_families(&["auth-helper"]), vec!["ssh"]);
        assert_eq!(
            service_families(&["auth-helper", "http", "ssh"]),
            vec!["http", "ssh"]
        );
        // a program nobody knows is its own service
        assert_eq!(
            service_families(&["bash", "mongodb"]),
            vec!["mongodb", "ssh"]
        );
    }

    #[test]
    fn helpers_follow_the_one_login_service_used() {
        assert_eq!(
            families_of(&["auth-helper", "telnet", "bash"]),
            vec!["telnet", "telnet", "telnet"]
        );
        assert_eq!(families_of(&["login", "sessrec"]), vec!["telnet", "telnet"]);
        // both used: the helper adds nothing new whichever it is
        assert_eq!(
            service_families(&["auth-helper", "telnet", "sshd"]),
            vec!["ssh", "telnet"]
        );
        assert_eq!(service_families(&["smtp_relay", "smtp"]), vec!["smtp"]);
    }

    #[test]
    fn the_best_bucket_of_a_family_wins() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            family_buckets(
                &["auth-helper", "bash", "sshd"],
                &["scanned", "interacted", "scanned"]
            ),
            (v(&["ssh"]), v(&[]))
        );
        assert_eq!(
            family_buckets(
                &["auth-helper", "http", "mutator"],
                &["scanned", "scanned", "noise"]
            ),
            (v(&[]), v(&["http", "ssh"]))
        );
        assert_eq!(family_buckets(&[], &[]), (v(&[]), v(&[])));
    }
}
