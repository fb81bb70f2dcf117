//! decnet-cases.md §4 (bounties and credentials) against `bounty::extract`.

use crate::bounty::{
    self, casing_category, classify_ua, extract, guess_tool_from_order, ip_category, Config,
    LogEvent,
};
use serde_json::{json, Map, Value};
use sha2::Digest as _;

fn fields(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn run(service: &str, event_type: &str, ip: Option<&str>, f: Value) -> Vec<bounty::Extracted> {
    run_cfg(service, event_type, ip, f, &Config::default())
}

fn run_cfg(
    service: &str,
    event_type: &str,
    ip: Option<&str>,
    f: Value,
    cfg: &Config,
) -> Vec<bounty::Extracted> {
    let f = fields(f);
    extract(
        &LogEvent {
            service,
            event_type,
            attacker_ip: ip,
            fields: bounty::Fields::Stored(&f),
        },
        cfg,
    )
}

fn of_type<'a>(b: &'a [bounty::Extracted], ft: &str) -> Vec<&'a bounty::Extracted> {
    b.iter()
        .filter(|x| x.payload.get("fingerprint_type").and_then(Value::as_str) == Some(ft))
        .collect()
}

#[test]
fn native_credential() {
    let b = run(
        "ssh",
        "auth_attempt",
        Some("1.2.3.4"),
        json!({"username": "root", "principal": "root",
        "secret_printable": "hunter2", "secret_b64": "aHVudGVyMg=="}),
    );
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].bounty_type, "credential");
    assert_eq!(
        b[0].payload["secret_sha256"],
        "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"
    );
    assert_eq!(b[0].payload["principal"], "root");
    assert_eq!(b[0].payload["secret_kind"], "plaintext");
    assert!(run(
        "ssh",
        "auth_attempt",
        Some("1.2.3.4"),
        json!({"secret_b64": "not!base64!!"})
    )
    .is_empty());
    assert!(run(
        "ssh",
        "auth_attempt",
        Some("1.2.3.4"),
        json!({"username": "admin", "password": "stale"})
    )
    .is_empty());
    // principal falls back to username; no principal at all is null
    let b = run(
        "ftp",
        "auth_attempt",
        None,
        json!({"username": "deploy", "secret_b64": ""}),
    );
    assert_eq!(
        (
            b[0].payload["principal"].as_str(),
            b[0].attacker_ip.as_deref()
        ),
        (Some("deploy"), None)
    );
    let b = run(
        "ftp",
        "auth_attempt",
        None,
        json!({"secret_b64": "eA==", "secret_kind": "postgres_md5_challenge"}),
    );
    assert_eq!(
        (
            b[0].payload["principal"].clone(),
            b[0].payload["secret_kind"].as_str()
        ),
        (Value::Null, Some("postgres_md5_challenge"))
    );
}

#[test]
fn ja3_only_from_the_sniffer() {
    let f = json!({"ja3": "abc123def456abc123def456abc12345", "tls_version": "TLS 1.3", "sni": "example.com"});
    let b = run("sniffer", "tls_client_hello", Some("1.2.3.4"), f.clone());
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].payload["ja3"], "abc123def456abc123def456abc12345");
    assert_eq!(b[0].payload["tls_version"], "TLS 1.3");
    assert_eq!(b[0].payload["sni"], "example.com");
    assert_eq!(b[0].payload["alpn"], Value::Null);
    assert!(run("http", "request", Some("1.2.3.4"), f).is_empty());
    assert!(run("sniffer", "startup", None, json!({})).is_empty());
}

#[test]
fn artifacts() {
    let b = run(
        "ssh",
        "file_captured",
        Some("31.56.209.39"),
        json!({"stored_as": "2026-04-28T22:35:58Z_abc123def456_evil.sh",
        "sha256": "deadbeef".repeat(8), "size": "1234", "orig_path": "/tmp/evil.sh", "attribution": "ssh-session-pid-940", "writer_comm": "bash"}),
    );
    assert_eq!(b.len(), 1);
    assert_eq!(
        (
            b[0].bounty_type,
            b[0].payload["kind"].as_str(),
            b[0].payload["orig_path"].as_str()
        ),
        ("artifact", Some("file"), Some("/tmp/evil.sh"))
    );
    assert!(run(
        "ssh",
        "file_captured",
        Some("1.1.1.1"),
        json!({"sha256": "x"})
    )
    .is_empty());
    let b = run(
        "smtp",
        "message_stored",
        Some("1.1.1.1"),
        json!({"stored_as": "m1", "subject": "URGENT: invoice", "mail_from": "spammer@spammer.example"}),
    );
    assert_eq!(
        (
            b[0].payload["kind"].as_str(),
            b[0].payload["subject"].as_str()
        ),
        (Some("mail"), Some("URGENT: invoice"))
    );
}

#[test]
fn icmp_bounties_key_on_target() {
    let b = run(
        "prober",
        "icmp_fingerprint",
        None,
        json!({"target_ip": "198.51.100.7", "icmp_fp_hash": "aabbccdd11223344", "icmp_matrix": "PTFP",
        "icmp_port_unreach": "1", "icmp_port_unreach_rtt_ms": "12.3", "icmp_time_exceeded": "1", "icmp_time_exceeded_rtt_ms": "8.1",
        "icmp_time_exceeded_hop": "10.0.0.1", "icmp_frag_needed": "0"}),
    );
    assert_eq!(b.len(), 1);
    let p = &b[0].payload;
    assert_eq!(b[0].attacker_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(
        (
            p["fingerprint_type"].as_str(),
            p["matrix"].as_str(),
            p["fp_hash"].as_str()
        ),
        (Some("icmp_error"), Some("PTFP"), Some("aabbccdd11223344"))
    );
    assert_eq!(p["errors"]["port_unreachable"]["returned"], true);
    assert_eq!(p["errors"]["port_unreachable"]["rtt_ms"], "12.3");
    assert_eq!(p["errors"]["time_exceeded"]["src_ip"], "10.0.0.1");
    assert_eq!(p["errors"]["frag_needed"]["returned"], false);
    assert!(run(
        "prober",
        "icmp_fingerprint",
        None,
        json!({"target_ip": "198.51.100.7"})
    )
    .is_empty());
    let b = run(
        "prober",
        "icmp6_fingerprint",
        None,
        json!({"target_ip": "2001:db8::1", "icmp6_fp_hash": "ff00112233445566", "icmp6_matrix": "PHUB"}),
    );
    assert_eq!(
        (b[0].attacker_ip.as_deref(), b[0].payload["matrix"].as_str()),
        (Some("2001:db8::1"), Some("PHUB"))
    );
}

#[test]
fn prober_hashes_key_on_target() {
    let b = run(
        "prober",
        "hassh_fingerprint",
        Some("77.91.68.15"),
        json!({"target_ip": "77.91.68.15", "target_port": "22",
        "hassh_server_hash": "b12d", "ssh_banner": "SSH-2.0-OpenSSH_8.4p1"}),
    );
    assert_eq!(
        (
            b[0].payload["fingerprint_type"].as_str(),
            b[0].payload["hash"].as_str()
        ),
        (Some("hassh_server"), Some("b12d"))
    );
    let b = run(
        "prober",
        "jarm_fingerprint",
        None,
        json!({"target_ip": "77.91.68.15", "target_port": "443", "jarm_hash": "29d"}),
    );
    assert_eq!(
        (
            b[0].attacker_ip.as_deref(),
            b[0].payload["fingerprint_type"].as_str()
        ),
        (Some("77.91.68.15"), Some("jarm"))
    );
}

#[test]
fn ua_classification() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("", "empty", None),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "browser", None),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0", "browser", None),
        ("curl/8.0.1", "cli", Some("curl")), ("curl/7.81.0", "cli", Some("curl")), ("Wget/1.21.3", "cli", Some("wget")),
        ("HTTPie/3.2.1", "cli", Some("httpie")),
        ("python-requests/2.31.0", "library", Some("python-requests")), ("aiohttp/3.9.1", "library", Some("aiohttp")),
        ("httpx/0.27.0", "library", Some("httpx")), ("Go-http-client/1.1", "library", Some("go-stdlib")),
        ("Java/11.0.19", "library", Some("java-stdlib")), ("okhttp/4.11.0", "library", Some("okhttp")),
        ("Apache-HttpClient/5.2.1 (Java/11.0.19)", "library", Some("apache-httpclient")), ("axios/1.6.2", "library", Some("axios")),
        ("PostmanRuntime/7.36.1", "library", Some("postman")), ("GuzzleHttp/7", "library", Some("guzzle")),
        ("Nmap Scripting Engine; https://nmap.org/book/nse.html", "scanner", Some("nmap")),
        ("Mozilla/5.0 (compatible; Nuclei - Open-source project)", "scanner", Some("nuclei")),
        ("sqlmap/1.7.11#stable (http://sqlmap.org)", "scanner", Some("sqlmap")), ("gobuster/3.6", "scanner", Some("gobuster")),
        ("Mozilla/5.0 (Nikto/2.5.0)", "scanner", Some("nikto")), ("masscan/1.3.2", "scanner", Some("masscan")),
        ("wpscan v3.8.25 ", "scanner", Some("wpscan")), ("zgrab/0.x", "scanner", Some("zgrab")),
        ("Mozilla/5.0 (X11; Acunetix; Linux x86_64)", "scanner", Some("acunetix")), ("ffuf/2.1.0", "scanner", Some("ffuf")),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "bot", None),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot", None),
        ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", "bot", None),
        ("FUCKYOU/1.0", "nonstandard", None), ("myscanner", "nonstandard", None), ("customtool-v2", "nonstandard", None),
        ("ABCDE", "nonstandard", None), ("X", "nonstandard", None), ("lol", "nonstandard", None), ("hello-world-ua", "nonstandard", None),
    ];
    for &(ua, cat, tool) in cases {
        let c = classify_ua(ua);
        assert_eq!((c.category, c.tool), (cat, tool), "{ua}");
    }
    assert_eq!(classify_ua("lol").signals, vec!["suspicious_short"]);
    assert_eq!(
        classify_ua(&"A".repeat(600)).signals,
        vec!["suspicious_long"]
    );
    assert_eq!(classify_ua("curl/8\u{0}.0").signals, vec!["nonprintable"]);
    for ua in [
        "Mozilla/5.0' OR 1=1 --",
        "${jndi:ldap://evil.example/x}",
        "<script>alert(1)</script>",
        "mytool/../../etc/passwd",
    ] {
        assert!(classify_ua(ua).signals.contains(&"injection_like"), "{ua}");
    }
    assert!(
        classify_ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36")
            .signals
            .is_empty()
    );
    let c = classify_ua("sqlmap/1.7' OR 1=1 --");
    assert_eq!(
        (c.category, c.tool, c.signals),
        ("scanner", Some("sqlmap"), vec!["injection_like"])
    );
}

#[test]
fn useragent_bounty_end_to_end() {
    let b = run(
        "http",
        "request",
        Some("8.8.8.8"),
        json!({"method": "GET", "path": "/", "headers": "{\"User-Agent\": \"FUCKYOU/1.0\"}"}),
    );
    let ua = of_type(&b, "http_useragent");
    assert_eq!(ua.len(), 1);
    assert_eq!(
        (
            ua[0].payload["value"].as_str(),
            ua[0].payload["category"].as_str(),
            ua[0].payload["tool"].clone()
        ),
        (Some("FUCKYOU/1.0"), Some("nonstandard"), Value::Null)
    );
    let b = run(
        "http",
        "request",
        Some("8.8.8.8"),
        json!({"headers": {"User-Agent": ""}}),
    );
    let ua = of_type(&b, "http_useragent");
    assert_eq!(
        (ua.len(), ua[0].payload["category"].as_str()),
        (1, Some("empty"))
    );
    // any service, not only http
    let b = run(
        "ssh",
        "x",
        Some("8.8.8.8"),
        json!({"headers": "{\"user-agent\": \"sqlmap/1.7.11\"}"}),
    );
    assert_eq!(of_type(&b, "http_useragent")[0].payload["tool"], "sqlmap");
}

fn claim(headers: Value, ip: &str) -> Option<bounty::Extracted> {
    claim_cfg(headers, ip, "http", &Config::default())
}

fn claim_cfg(headers: Value, ip: &str, service: &str, cfg: &Config) -> Option<bounty::Extracted> {
    run_cfg(
        service,
        "request",
        Some(ip),
        json!({"method": "GET", "path": "/wp-admin/", "headers": headers}),
        cfg,
    )
    .into_iter()
    .find(|b| b.bounty_type == "ip_leak" || b.payload["fingerprint_type"] == "spoofed_source")
}

#[test]
fn forwarding_header_claims() {
    let b = claim(json!({"X-Forwarded-For": "1.1.1.1, 10.0.0.1"}), "8.8.8.8").unwrap();
    assert_eq!(b.bounty_type, "ip_leak");
    assert_eq!(
        (
            b.payload["source_ip"].as_str(),
            b.payload["real_ip_claim"].as_str(),
            b.payload["source_header"].as_str()
        ),
        (Some("8.8.8.8"), Some("1.1.1.1"), Some("X-Forwarded-For"))
    );
    assert!(b.payload.get("method").is_none());
    assert!(claim(json!({"X-Forwarded-For": "8.8.8.8"}), "8.8.8.8").is_none());
    for private in [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.1.1",
    ] {
        assert_ne!(
            claim(json!({"X-Forwarded-For": private}), "8.8.8.8")
                .unwrap()
                .bounty_type,
            "ip_leak",
            "{private}"
        );
    }
    let b = claim(json!({"Forwarded": "for=1.2.3.4;by=5.6.7.8"}), "8.8.8.8").unwrap();
    assert_eq!(
        (
            b.payload["real_ip_claim"].as_str(),
            b.payload["source_header"].as_str()
        ),
        (Some("1.2.3.4"), Some("Forwarded"))
    );
    let b = claim(
        json!({"Forwarded": "for=\"[2606:4700:4700::1111]:4711\""}),
        "8.8.8.8",
    )
    .unwrap();
    assert_eq!(b.payload["real_ip_claim"], "2606:4700:4700::1111");
    assert_eq!(
        claim(json!({"X-Real-IP": "1.1.1.1"}), "8.8.8.8")
            .unwrap()
            .payload["source_header"],
        "X-Real-IP"
    );
    assert_eq!(
        claim(json!({"CF-Connecting-IP": "1.0.0.1"}), "8.8.8.8")
            .unwrap()
            .payload["source_header"],
        "CF-Connecting-IP"
    );
    let b = claim(
        json!({"Forwarded": "for=1.1.1.1", "X-Forwarded-For": "2.2.2.2", "X-Real-IP": "3.3.3.3"}),
        "8.8.8.8",
    )
    .unwrap();
    assert_eq!(b.payload["real_ip_claim"], "1.1.1.1");
    assert!(
        b.payload["headers_seen"].get("X-Forwarded-For").is_some()
            && b.payload["headers_seen"].get("X-Real-IP").is_some()
    );
    assert_eq!(
        claim(json!({"x-forwarded-for": "1.1.1.1"}), "8.8.8.8")
            .unwrap()
            .payload["real_ip_claim"],
        "1.1.1.1"
    );
    for trusted in ["8.8.8.8", "8.8.8.0/24"] {
        assert!(claim_cfg(
            json!({"X-Forwarded-For": "1.1.1.1"}),
            "8.8.8.8",
            "http",
            &Config::with_trusted_proxies(trusted)
        )
        .is_none());
    }
    assert_eq!(
        claim(
            json!({"X-Forwarded-For": "garbage, 1.1.1.1, not-ip"}),
            "8.8.8.8"
        )
        .unwrap()
        .payload["real_ip_claim"],
        "1.1.1.1"
    );
    assert!(claim(
        json!({"X-Forwarded-For": "not-ip, still-not-ip"}),
        "8.8.8.8"
    )
    .is_none());
    assert!(claim(json!({}), "8.8.8.8").is_none());
    assert!(claim_cfg(
        json!({"X-Forwarded-For": "1.1.1.1"}),
        "8.8.8.8",
        "ssh",
        &Config::default()
    )
    .is_none());
    assert!(claim(json!({"X-Forwarded-For": "1.1.1.1"}), "").is_none());
    let s = claim(json!({"X-Forwarded-For": "127.0.0.1"}), "8.8.8.8").unwrap();
    assert_eq!(
        (
            s.payload["claim_category"].as_str(),
            s.payload["claimed_ip"].as_str()
        ),
        (Some("loopback"), Some("127.0.0.1"))
    );
    assert_eq!(
        claim(json!({"X-Forwarded-For": "10.0.0.5"}), "8.8.8.8")
            .unwrap()
            .payload["claim_category"],
        "private"
    );
}

#[test]
fn claim_categories() {
    let cat = |s: &str| ip_category(s.parse().unwrap());
    for (ip, c) in [
        ("8.8.8.8", "public"),
        ("2606:4700:4700::1111", "public"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link_local"),
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
    ] {
        assert_eq!(cat(ip), c, "{ip}");
    }
}

#[test]
fn http_quirks_cases() {
    assert_eq!(
        ["User-Agent", "Host", "X-Forwarded-For"].map(casing_category),
        ["title"; 3]
    );
    assert_eq!(
        ["user-agent", "x-forwarded-for"].map(casing_category),
        ["lower"; 2]
    );
    assert_eq!(casing_category("USER-AGENT"), "upper");
    assert_eq!(casing_category("USer-AgEnt"), "mixed");
    let q = |h: Value| {
        of_type(
            &run("http", "request", Some("8.8.8.8"), json!({"headers": h})),
            "http_quirks",
        )[0]
        .payload
        .clone()
    };
    let a = q(json!({"Host": "a", "User-Agent": "x", "Accept": "*/*"}));
    assert_eq!(
        (a["order_hash"].as_str(), a["casing_hash"].as_str()),
        (Some("b1c589ad3fbc85b1"), Some("113bf582974f3124"))
    );
    assert_eq!(a["tool_guess"], "curl");
    assert_eq!(
        a,
        q(json!({"Host": "b", "User-Agent": "y", "Accept": "text/html"}))
    );
    assert_ne!(
        a["order_hash"],
        q(json!({"Accept": "*/*", "User-Agent": "x", "Host": "a"}))["order_hash"]
    );
    let l = q(json!({"host": "a", "user-agent": "x", "accept": "*/*"}));
    assert_ne!(a["casing_hash"], l["casing_hash"]);
    assert_eq!(
        (a["casing_category"].as_str(), l["casing_category"].as_str()),
        (Some("title"), Some("lower"))
    );
    let v1 = q(json!({"Host": "a", "User-Agent": "x", "Content-Length": "100"}));
    let v2 = q(json!({"Host": "a", "User-Agent": "x", "Content-Length": "999", "Cookie": "c"}));
    assert_eq!(v1, v2);
    assert_eq!(v1["stable_count"], 2);
    let volatile = q(json!({"Content-Length": "1", "Cookie": "c"}));
    assert_eq!(
        (
            volatile["stable_count"].as_u64(),
            volatile["order"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let s = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        guess_tool_from_order(&s(&["host", "user-agent", "accept"])),
        Some("curl")
    );
    assert_eq!(
        guess_tool_from_order(&s(&[
            "host",
            "user-agent",
            "accept-encoding",
            "accept",
            "connection"
        ])),
        Some("python-requests")
    );
    assert_eq!(
        guess_tool_from_order(&s(&["host", "user-agent", "accept-encoding"])),
        Some("go-http-client")
    );
    assert_eq!(
        guess_tool_from_order(&s(&["host", "user-agent"])),
        Some("nmap-nse")
    );
    assert_eq!(
        guess_tool_from_order(&s(&["accept", "host", "user-agent"])),
        None
    );
    assert!(of_type(
        &run(
            "ssh",
            "request",
            Some("8.8.8.8"),
            json!({"headers": {"Host": "a"}})
        ),
        "http_quirks"
    )
    .is_empty());
    assert!(of_type(
        &run("http", "request", Some("8.8.8.8"), json!({"headers": {}})),
        "http_quirks"
    )
    .is_empty());
    assert_eq!(bounty::short_hash("abc").len(), 16);
    assert_ne!(bounty::short_hash("abc"), bounty::short_hash("def"));
}

#[test]
fn protocol_fingerprints() {
    let b = run(
        "http",
        "http_request_fingerprint",
        Some("1.2.3.4"),
        json!({"ja4h": "GE11nn0000_02_abc_000", "method": "GET", "remote_port": "40838"}),
    );
    let j = of_type(&b, "ja4h");
    assert_eq!(
        (
            j[0].payload["protocol"].as_str(),
            j[0].payload["remote_port"].as_str()
        ),
        (Some("h1"), Some("40838"))
    );
    let b = run(
        "http",
        "http2_settings",
        Some("1.2.3.4"),
        json!({"settings": "1:65536"}),
    );
    assert_eq!(of_type(&b, "http2_settings")[0].payload["protocol"], "h2");
    let b = run(
        "sniffer",
        "quic_client_hello",
        Some("1.2.3.4"),
        json!({"ja4_quic": "q13d0310h2_002f_0403_h3"}),
    );
    assert_eq!(of_type(&b, "ja4_quic").len(), 1);
    let b = run(
        "vnc",
        "version",
        Some("1.2.3.4"),
        json!({"client_version": "RFB 003.008"}),
    );
    assert_eq!(
        of_type(&b, "vnc_client_version")[0].payload["value"],
        "RFB 003.008"
    );
}

#[test]
fn payload_key_ignores_key_order_only() {
    let a = json!({"b": 1, "a": {"y": [1, {"q": true, "p": null}], "x": "s"}});
    let b = json!({"a": {"x": "s", "y": [1, {"p": null, "q": true}]}, "b": 1});
    assert_eq!(bounty::payload_key(&a), bounty::payload_key(&b));
    assert_ne!(
        bounty::payload_key(&a),
        bounty::payload_key(&json!({"b": 2, "a": {"y": [1, {"q": true, "p": null}], "x": "s"}}))
    );
    // the text it hashes is fixed: pin one value
    assert_eq!(
        bounty::hex(&bounty::payload_key(&json!({"k": "v"}))),
        bounty::hex(&sha2::Sha256::digest(br#"{"k":"v"}"#))
    );
}

#[test]
fn payload_key_hashes_the_sorted_compact_json_text() {
    // Keys already stored in decnet.bounties were made from this text: escapes,
    // non-ASCII, numbers and nesting must come out exactly as serde_json writes them.
    let p = json!({"z": "tab\tquote\"back\\slash\u{1}", "é": ["ü", 1.5, -2, null, false], "a": {"d": {}, "c": []},
                   "B": "👾", "": 0});
    let text = r#"{"":0,"B":"👾","a":{"c":[],"d":{}},"z":"tab\tquote\"back\\slash\u0001","é":["ü",1.5,-2,null,false]}"#;
    assert_eq!(
        bounty::payload_key(&p),
        <[u8; 32]>::from(sha2::Sha256::digest(text.as_bytes()))
    );
}

#[test]
fn stored_and_parsed_fields_give_the_same_bounties() {
    use std::borrow::Cow;
    let line = "<134>1 2026-05-01T00:00:00Z decky-01 http - request [relay@55555 remote_addr=\"203.0.113.9\" method=\"GET\" path=\"/\" headers=\"{\\\"Host\\\": \\\"x\\\", \\\"User-Agent\\\": \\\"curl/8.0\\\", \\\"X-Forwarded-For\\\": \\\"8.8.8.8\\\"}\" secret_b64=\"cGFzcw==\" username=\"root\"]";
    let p = crate::syslog::parse_line(line);
    let pairs: &[(Cow<'_, str>, Cow<'_, str>)] = &p.fields;
    let stored: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&p.fields_json()).expect("fields_json is a JSON object");
    let ip = p.attacker_ip.map(|i| i.to_string());
    let ev = |fields| LogEvent {
        service: "http",
        event_type: "request",
        attacker_ip: ip.as_deref(),
        fields,
    };
    let parsed = extract(&ev(bounty::Fields::Parsed(pairs)), &Config::default());
    let from_jsonb = extract(&ev(bounty::Fields::Stored(&stored)), &Config::default());
    assert_eq!(parsed, from_jsonb);
    let types: Vec<_> = parsed.iter().map(|b| b.bounty_type).collect();
    assert!(
        types.contains(&"credential")
            && types.contains(&"ip_leak")
            && types.contains(&"fingerprint"),
        "{types:?}"
    );
}

#[test]
fn classify_ua_answers_the_same_from_its_cache() {
    // more distinct agents than the cache holds: it is cleared and refilled
    for i in 0..5000 {
        let ua = if i % 2 == 0 {
            format!("curl/7.{i}")
        } else {
            format!("Mozilla/5.0 (X11; rv:{i}) zgrab/0.x")
        };
        let (first, again) = (classify_ua(&ua), classify_ua(&ua));
        assert_eq!(first, again, "{ua}");
        assert_eq!(
            first.category,
            if i % 2 == 0 { "cli" } else { "scanner" },
            "{ua}"
        );
    }
    let long = format!("sqlmap/1.0 {}", "x".repeat(600));
    assert_eq!(classify_ua(&long), classify_ua(&long));
    assert_eq!(classify_ua(&long).signals, vec!["suspicious_long"]);
}

#[test]
fn sighting_members_stay_out_of_the_dedup_key() {
    let ua = |path: &str| {
        json!({"fingerprint_type": "http_useragent", "value": "curl/8", "category": "cli", "tool": "curl",
                                 "signals": null, "method": "GET", "path": path})
    };
    assert_eq!(
        bounty::payload_key(&ua("/a")),
        bounty::payload_key(&ua("/b"))
    );
    let mut other = ua("/a");
    other["value"] = json!("curl/7");
    assert_ne!(bounty::payload_key(&ua("/a")), bounty::payload_key(&other));
    let h2 = |port: &str| json!({"fingerprint_type": "http2_settings", "settings": "1:65536", "frame_order": "s,w", "protocol": "h2", "remote_port": port});
    assert_eq!(bounty::payload_key(&h2("1")), bounty::payload_key(&h2("2")));
    // other fingerprints keep every member: a JA3 on another port is another bounty
    let ja3 = |port: &str| json!({"fingerprint_type": "ja3", "ja3": "abc", "dst_port": port});
    assert_ne!(
        bounty::payload_key(&ja3("443")),
        bounty::payload_key(&ja3("8443"))
    );
}
