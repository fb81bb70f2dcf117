//! The behaviour rollup on planted traffic: attackers generated with known
//! cadences come out with the class and beacon interval they were made with;
//! OS signatures match what the sensors really emit, and users can add theirs.

use decnet_it::*;
use postgres::Client;
use std::collections::BTreeMap;

/// `secs` after 2026-05-01T00:00:00Z (the planted traffic stays within May 2026).
fn ts(secs: f64) -> String {
    let micros = (secs * 1e6).round() as i64;
    let (s, us) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (days, rem) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    assert!(days < 30, "planted traffic stays within May");
    format!(
        "2026-05-{:02}T{:02}:{:02}:{:02}.{us:06}+00:00",
        1 + days,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn line(at: f64, decky: &str, service: &str, event: &str, fields: &[(&str, String)]) -> String {
    let sd: Vec<String> = fields.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!(
        "<134>1 {} {decky} {service} - {event} [relay@55555 {}]\n",
        ts(at),
        sd.join(" ")
    )
}

/// A SYN the sniffer fingerprinted: it must not make the attacker a multi-service scanner.
fn sniffer_syn(at: f64, ip: &str) -> String {
    line(
        at,
        "web-01",
        "sniffer",
        "tcp_syn_fingerprint",
        &[
            ("src_ip", ip.into()),
            ("dst_port", "22".into()),
            ("ttl", "57".into()),
            ("initial_ttl", "64".into()),
            ("hop_distance", "7".into()),
            ("window", "64240".into()),
            ("mss", "1460".into()),
            ("wscale", "7".into()),
            ("options_sig", "M,S,T,N,W".into()),
            ("has_sack", "true".into()),
            ("has_timestamps", "true".into()),
            ("os_guess", "linux".into()),
        ],
    )
}

#[derive(Debug)]
struct Planted {
    class: &'static str,
    interval_s: Option<f64>,
}

/// Plants five attackers of each kind; returns the lines and what each attacker was made to be.
fn plant() -> (String, BTreeMap<String, Planted>) {
    let mut rng = Rng::new(2026);
    let mut out = String::new();
    let mut planted = BTreeMap::new();
    let jitter = |rng: &mut Rng, x: f64, frac: f64| x * (1.0 + frac * (2.0 * rng.unit() - 1.0));
    for (k, interval) in [30.0, 45.0, 60.0, 90.0, 300.0].into_iter().enumerate() {
        // beacon: one service, a fixed cadence with ±15 % jitter
        let ip = format!("203.0.113.{}", 10 + k);
        let mut t = 100.0 * k as f64;
        for _ in 0..30 {
            out += &line(
                t,
                "web-02",
                "http",
                "request",
                &[
                    ("src_ip", ip.clone()),
                    ("method", "GET".into()),
                    ("path", "/jquery-3.3.1.min.js".into()),
                ],
            );
            t += jitter(&mut rng, interval, 0.15);
        }
        out += &sniffer_syn(5.0 + 100.0 * k as f64, &ip);
        planted.insert(
            ip,
            Planted {
                class: "beaconing",
                interval_s: Some(interval),
            },
        );

        // brute forcer: one service, a login every ~1 s, seen by the sniffer too (§K.6)
        let ip = format!("198.51.100.{}", 10 + k);
        let mut t = 20_000.0 + 1000.0 * k as f64;
        out += &sniffer_syn(t - 0.5, &ip);
        for i in 0..40 {
            out += &line(
                t,
                "ssh-01",
                "ssh",
                "login_attempt",
                &[
                    ("src_ip", ip.clone()),
                    ("username", "root".into()),
                    ("password", format!("pw{i}")),
                ],
            );
            t += jitter(&mut rng, 1.0, 0.2);
        }
        planted.insert(
            ip,
            Planted {
                class: "brute_force",
                interval_s: None,
            },
        );

        // scanner: five services, 0.2 s apart
        let ip = format!("192.0.2.{}", 10 + k);
        let mut t = 40_000.0 + 1000.0 * k as f64;
        for i in 0..20 {
            let service = ["ssh", "http", "ftp", "smtp", "telnet"][i % 5];
            out += &line(
                t,
                "web-03",
                service,
                "connection",
                &[("src_ip", ip.clone())],
            );
            t += jitter(&mut rng, 0.2, 0.3);
        }
        planted.insert(
            ip,
            Planted {
                class: "scanning",
                interval_s: None,
            },
        );

        // slow scanner: four services, about a minute apart
        let ip = format!("100.64.0.{}", 10 + k);
        let mut t = 60_000.0 + 2000.0 * k as f64;
        for i in 0..12 {
            let service = ["ssh", "http", "mysql", "redis"][i % 4];
            out += &line(t, "db-01", service, "connection", &[("src_ip", ip.clone())]);
            t += jitter(&mut rng, 60.0, 0.5);
        }
        planted.insert(
            ip,
            Planted {
                class: "slow_scan",
                interval_s: None,
            },
        );

        // interactive shell: one service, typing bursts and long reads
        let ip = format!("172.31.0.{}", 10 + k);
        let mut t = 90_000.0 + 1000.0 * k as f64;
        for _ in 0..40 {
            out += &line(
                t,
                "ssh-02",
                "ssh",
                "command",
                &[("src_ip", ip.clone()), ("command", "ls -la".into())],
            );
            t += if rng.unit() < 0.8 {
                jitter(&mut rng, 0.5, 0.5)
            } else {
                jitter(&mut rng, 12.0, 0.3)
            };
        }
        out += &sniffer_syn(t + 1.0, &ip);
        planted.insert(
            ip,
            Planted {
                class: "interactive",
                interval_s: None,
            },
        );

        // DECNET's own SSH decky: the PAM hook's auth_attempt and the native
        // sshd line for every password, a SYN the sniffer saw. Three programs,
        // one service (correction #55), one action per password (#57).
        let ip = format!("198.18.0.{}", 10 + k);
        let mut t = 120_000.0 + 1000.0 * k as f64;
        out += &sniffer_syn(t - 0.5, &ip);
        for i in 0..20 {
            out += &line(
                t,
                "ssh-03",
                "auth-helper",
                "auth_attempt",
                &[
                    ("username", "root".into()),
                    ("password", format!("pw{i}")),
                    ("src_ip", ip.clone()),
                ],
            );
            // sshd's line for the same password, at the same instant (as DECNET's corpus has it)
            out += &sshd_failed(t, "ssh-03", &ip);
            t += jitter(&mut rng, 1.5, 0.2);
        }
        planted.insert(
            ip,
            Planted {
                class: "brute_force",
                interval_s: None,
            },
        );

        // … and one who logs in there and types: the login through the PAM
        // hook, bash's command logger, the session recorder at the end
        let ip = format!("198.18.1.{}", 10 + k);
        let mut t = 140_000.0 + 1000.0 * k as f64;
        out += &sniffer_syn(t - 0.5, &ip);
        out += &line(
            t,
            "ssh-03",
            "auth-helper",
            "auth_attempt",
            &[
                ("username", "root".into()),
                ("password", "admin".into()),
                ("src_ip", ip.clone()),
            ],
        );
        let start = t;
        for _ in 0..30 {
            t += if rng.unit() < 0.8 {
                jitter(&mut rng, 0.5, 0.5)
            } else {
                jitter(&mut rng, 12.0, 0.3)
            };
            out += &bash_command(t, "ssh-03", &ip, "uname -a");
        }
        out += &line(
            t + 0.2,
            "ssh-03",
            "sessrec",
            "session_recorded",
            &[
                ("sid", format!("{:016x}", 0xabc0 + k)),
                ("service", "ssh".into()),
                ("src_ip", ip.clone()),
                ("duration_s", format!("{:.3}", t - start)),
                ("bytes", "4096".into()),
                ("truncated", "false".into()),
            ],
        );
        planted.insert(
            ip,
            Planted {
                class: "interactive",
                interval_s: None,
            },
        );
    }
    (out, planted)
}

/// The native sshd line DECNET's rsyslog relays: numeric PROCID, prose.
fn sshd_failed(at: f64, decky: &str, ip: &str) -> String {
    format!(
        "<38>1 {} {decky} sshd 4242 - - Failed password for root from {ip} port 40022 ssh2\n",
        ts(at)
    )
}

/// A command as bash's PROMPT_COMMAND logger writes it (single-wrapped, §A.2).
fn bash_command(at: f64, decky: &str, ip: &str, cmd: &str) -> String {
    format!(
        "<14>1 {} {decky} bash - - -  CMD uid=0 user=root src={ip} pwd=/root cmd={cmd}\n",
        ts(at)
    )
}

fn rollup_all(c: &mut Client) {
    let r = c
        .query_one(
            "SELECT attackers, remaining FROM decnet.rollup(100000)",
            &[],
        )
        .unwrap();
    assert!(r.get::<_, i32>(0) > 0);
    assert_eq!(r.get::<_, i64>(1), 0);
}

#[test]
fn planted_attackers_get_the_class_and_interval_they_were_made_with() {
    let mut c = migrated_db("it_behavior_planted");
    let (lines, planted) = plant();
    ingest_bytes(&mut c, lines.as_bytes());
    rollup_all(&mut c);
    let rows = c.query("SELECT host(attacker_ip), behavior_class, beacon_interval_s FROM decnet.attacker_behavior", &[]).unwrap();
    assert_eq!(rows.len(), planted.len());
    for r in rows {
        let (ip, class, interval): (String, String, Option<f64>) = (r.get(0), r.get(1), r.get(2));
        let want = &planted[&ip];
        assert_eq!(class, want.class, "{ip}: planted {want:?}");
        match want.interval_s {
            Some(i) => {
                let got = interval.expect("a beacon has an interval");
                assert!(
                    (got - i).abs() / i < 0.05,
                    "{ip}: interval {got} for a planted {i} s beacon"
                );
            }
            None => assert_eq!(interval, None, "{ip} is not a beacon"),
        }
    }

    // DECNET's SSH deckies: one service, the programs kept apart per attacker
    let families = c
        .query(
            "SELECT host(a.ip), a.services, a.service_count, b.interacted, b.scanned,
                    (SELECT array_agg(service ORDER BY service) FROM decnet.attacker_services s WHERE s.attacker_ip = a.ip)
             FROM decnet.attackers a JOIN decnet.service_buckets b ON b.attacker_ip = a.ip
             WHERE a.ip << '198.18.0.0/15' ORDER BY a.ip",
            &[],
        )
        .unwrap();
    assert_eq!(families.len(), 10);
    for r in families {
        let ip: String = r.get(0);
        let (services, count): (Vec<String>, i32) = (r.get(1), r.get(2));
        let (interacted, scanned, programs): (Vec<String>, Vec<String>, Vec<String>) =
            (r.get(3), r.get(4), r.get(5));
        assert_eq!((services, count), (vec!["ssh".to_string()], 1), "{ip}");
        if ip.starts_with("198.18.0.") {
            assert_eq!(
                (interacted, scanned),
                (vec![], vec!["ssh".to_string()]),
                "{ip}"
            );
            assert_eq!(programs, ["auth-helper", "sshd"], "{ip}");
        } else {
            assert_eq!(
                (interacted, scanned),
                (vec!["ssh".to_string()], vec![]),
                "{ip}"
            );
            assert_eq!(programs, ["auth-helper", "bash", "sessrec"], "{ip}");
        }
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

#[test]
fn os_signatures_match_emitter_lines_and_users_can_add_their_own() {
    let mut c = migrated_db("it_behavior_os");
    // decnet-cases §6.2 guess_os, through the seeded table
    for (ttl, window, mss, wscale, options, want) in [
        (64, 29200, 1460, Some(7), "M,S,T,N,W", Some("linux")),
        (128, 64240, 1460, Some(8), "M,N,W,N,N,T,S", Some("windows")),
        (
            64,
            65535,
            1460,
            Some(6),
            "M,N,W,N,N,T,S,E",
            Some("macos_ios"),
        ),
        (64, 1024, 1460, Some(10), "M,W,T,S,S", Some("nmap")),
        (64, 31337, 1460, Some(10), "M,W,T,S,S", Some("nmap")),
        (250, 4128, 536, None, "M", Some("embedded")),
        (50, 100, 0, None, "", None),
    ] {
        let got: Option<String> = c
            .query_one(
                "SELECT decnet.os_match($1, $2, $3, $4, $5)",
                &[&ttl, &window, &mss, &wscale, &options],
            )
            .unwrap()
            .get(0);
        assert_eq!(got.as_deref(), want, "{ttl} {window} {options}");
    }

    // three attackers as the sensors write them (letter-only options, §K.10)
    let syn = |ip: &str, ttl: &str, window: &str, mss: &str, options: &str, label: &str| {
        line(
            10.0,
            "web-01",
            "sniffer",
            "tcp_syn_fingerprint",
            &[
                ("src_ip", ip.into()),
                ("ttl", ttl.into()),
                ("window", window.into()),
                ("mss", mss.into()),
                ("wscale", "".into()),
                ("options_sig", options.into()),
                ("has_sack", "false".into()),
                ("has_timestamps", "false".into()),
                ("os_guess", label.into()),
            ],
        )
    };
    let lines = [
        // an option-less nmap SYN the sniffer could not name
        syn("198.18.0.1", "58", "1024", "0", "", "unknown"),
        // masscan's SYN: TTL 255, window 1024, no options; the sniffer says embedded
        syn("198.18.0.2", "247", "1024", "0", "", "embedded"),
        // the prober's SYN-ACK from an attacker's Linux host
        line(
            20.0,
            "decnet-prober",
            "prober",
            "tcpfp_fingerprint",
            &[
                ("target_ip", "198.18.0.3".into()),
                ("target_port", "22".into()),
                ("ttl", "52".into()),
                ("window_size", "64240".into()),
                ("mss", "1460".into()),
                ("window_scale", "7".into()),
                ("sack_ok", "1".into()),
                ("timestamp", "1".into()),
                ("options_order", "M,S,T,N,W".into()),
            ],
        ),
    ]
    .concat();
    ingest_bytes(&mut c, lines.as_bytes());
    rollup_all(&mut c);
    let os = |c: &mut Client, ip: &str| -> (Option<String>, Vec<String>) {
        let r = c.query_one("SELECT os_guess, tool_guesses FROM decnet.attacker_behavior WHERE attacker_ip = $1::text::inet", &[&ip]).unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        os(&mut c, "198.18.0.1"),
        (Some("nmap".into()), vec!["nmap".to_string()])
    );
    assert_eq!(os(&mut c, "198.18.0.2").0.as_deref(), Some("embedded"));
    assert_eq!(os(&mut c, "198.18.0.3").0.as_deref(), Some("linux"));

    // a user signature: it outranks the built-ins, and re-queues the attackers it may change
    c.batch_execute(
        "INSERT INTO decnet.os_signatures (label, initial_ttl, windows, options, note)
                     VALUES ('masscan', 255, '{1024}', '', 'masscan default SYN')",
    )
    .unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.dirty_attackers"),
        3
    );
    rollup_all(&mut c);
    assert_eq!(os(&mut c, "198.18.0.2").0.as_deref(), Some("masscan"));
    assert_eq!(
        os(&mut c, "198.18.0.1").0.as_deref(),
        Some("nmap"),
        "TTL bucket 64 is not masscan's"
    );

    // a p0f v2 file: its signatures match letter-only options once MSS and scale are put back
    let file = "# p0f.fp excerpt\n\nnot a signature\nS4:64:1:*:M*,S,T,N,W7:.:Linux:2.6 (p0f)\n";
    let added: i32 = c
        .query_one("SELECT decnet.import_p0f($1, 'syn', 50)", &[&file])
        .unwrap()
        .get(0);
    assert_eq!(added, 1);
    let linux_syn = line(
        30.0,
        "web-01",
        "sniffer",
        "tcp_syn_fingerprint",
        &[
            ("src_ip", "198.18.0.4".into()),
            ("ttl", "60".into()),
            ("window", "5840".into()),
            ("mss", "1460".into()),
            ("wscale", "7".into()),
            ("options_sig", "M,S,T,N,W".into()),
            ("has_sack", "true".into()),
            ("has_timestamps", "true".into()),
            ("os_guess", "unknown".into()),
        ],
    );
    ingest_bytes(&mut c, linux_syn.as_bytes());
    rollup_all(&mut c);
    assert_eq!(os(&mut c, "198.18.0.4").0.as_deref(), Some("Linux"));
    assert_eq!(
        os(&mut c, "198.18.0.3").0.as_deref(),
        Some("linux"),
        "a p0f SYN row never labels a SYN-ACK"
    );

    // a pattern that does not compile is refused with a check violation
    let err = c
        .batch_execute("INSERT INTO decnet.os_signatures (label, options) VALUES ('broken', 'M,(')")
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("23514"));
    let err = c
        .batch_execute("INSERT INTO decnet.os_signatures (label, p0f) VALUES ('broken', '5840:64')")
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("23514"));
}

/// Issue 18's acceptance on the demo corpus (10,000 lines, seed 1) and the
/// issue's own 20,000: no SSH-only attacker with more than 8 events under 5 s
/// apart is `scanning`, and such attackers do come out `brute_force`.
#[test]
fn ssh_only_brute_forcers_of_the_demo_corpus_are_not_scanners() {
    for (n, name) in [(10_000, "it_behavior_demo"), (20_000, "it_behavior_20k")] {
        let mut c = migrated_db(name);
        ingest_bytes(&mut c, &std::fs::read(corpus(n, 1)).unwrap());
        rollup_all(&mut c);
        let r = c
            .query_one(
                "SELECT count(*) FILTER (WHERE b.behavior_class = 'scanning'),
                        count(*) FILTER (WHERE b.behavior_class = 'brute_force'), count(*)
                 FROM decnet.attackers a JOIN decnet.attacker_behavior b ON b.attacker_ip = a.ip
                 WHERE a.services = '{ssh}' AND (b.timing_stats->>'event_count')::int > 8
                   AND (b.timing_stats->>'mean_iat_s')::float8 < 5",
                &[],
            )
            .unwrap();
        let (scanning, brute_force, all): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
        assert!(
            all > 0,
            "{n} lines: the corpus has SSH-only attackers this fast"
        );
        assert_eq!(scanning, 0, "{n} lines: {scanning} of {all} are scanning");
        assert!(brute_force > 0, "{n} lines: none of {all} is brute_force");
    }
}
