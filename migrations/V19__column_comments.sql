-- Every column says what it is (issue 18): \d+ and the web console read these.
-- Tables first; then views whose columns repeat a table's take that comment
-- (a recomputed_* view's column is what verify() compares with the table's).
-- pg::every_column_of_schema_decnet_has_a_comment keeps it complete.

-- logs
COMMENT ON COLUMN decnet.logs.id IS 'Order of storage: the statement''s lines in the order they were given.';
COMMENT ON COLUMN decnet.logs.raw_line IS 'The line as received (trailing CR/LF removed); the source of every other column.';
COMMENT ON COLUMN decnet.logs.decky IS 'HOSTNAME: the decky (or sensor host) that logged the line; cut to 255 bytes (flag long_header).';
COMMENT ON COLUMN decnet.logs.service IS 'APP-NAME: the program that logged the line (auth-helper, sshd, http, sniffer, …); cut to 48 bytes. Profiles count its service family (decnet.service_families).';
COMMENT ON COLUMN decnet.logs.event_type IS 'MSGID: what happened (auth_attempt, command, tls_client_hello, …); NULL for the NILVALUE "-".';
COMMENT ON COLUMN decnet.logs.fields IS 'The SD parameters of relay@55555 (escapes decoded), plus bash CMD tokens and the port split off host:port values; at most 256 keys.';
COMMENT ON COLUMN decnet.logs.msg IS 'Free text after the structured data (MSG), if any.';

-- attackers
COMMENT ON COLUMN decnet.attackers.ip IS 'The attacker address (never host:port).';
COMMENT ON COLUMN decnet.attackers.uuid IS 'Stable id of the profile; credentials.attacker_uuid points to it.';
COMMENT ON COLUMN decnet.attackers.first_seen IS 'Event time (logs.ts) of its earliest line.';
COMMENT ON COLUMN decnet.attackers.last_seen IS 'Event time (logs.ts) of its latest line.';
COMMENT ON COLUMN decnet.attackers.service_count IS 'cardinality(services): distinct service families used, sensors left out.';
COMMENT ON COLUMN decnet.attackers.decky_count IS 'cardinality(deckies).';
COMMENT ON COLUMN decnet.attackers.is_traversal IS 'True when it touched two or more deckies.';
COMMENT ON COLUMN decnet.attackers.created_at IS 'When the profile was first written.';
COMMENT ON COLUMN decnet.attackers.updated_at IS 'When a merge last changed the profile.';
COMMENT ON COLUMN decnet.attackers.country_code IS 'ISO 3166 country of the address from decnet.country_ranges (NULL: not public, or no range holds it).';
COMMENT ON COLUMN decnet.attackers.country_source IS 'Which load gave country_code (the registry of the range).';
COMMENT ON COLUMN decnet.attackers.asn IS 'Autonomous system of the address from decnet.asn_ranges.';
COMMENT ON COLUMN decnet.attackers.as_name IS 'Name of that autonomous system.';
COMMENT ON COLUMN decnet.attackers.asn_source IS 'Which load gave asn.';
COMMENT ON COLUMN decnet.attackers.ptr_record IS 'Reverse DNS name of the address (decnet.resolve_pending_ptr), NULL when none or not yet asked.';
COMMENT ON COLUMN decnet.attackers.ptr_attempted_at IS 'When reverse DNS was last asked for it; NULL: never (stats().ptr_backlog counts these).';
COMMENT ON COLUMN decnet.attackers.rotation_count IS 'Fingerprint rotations recorded for it (decnet.fingerprint_rotations).';
COMMENT ON COLUMN decnet.attackers.last_rotation_at IS 'Event time of its latest fingerprint rotation.';
COMMENT ON COLUMN decnet.attackers.ipv6_leak_count IS 'IPv6 link-local leaks tied to it (sum of attacker_ipv6_leaks.leak_count).';
COMMENT ON COLUMN decnet.attackers.last_ipv6_leak_at IS 'Event time of its latest IPv6 link-local leak.';
COMMENT ON COLUMN decnet.attackers.last_ipv6_link_local IS 'The link-local address of its latest leak.';
COMMENT ON COLUMN decnet.attackers.last_ipv6_iid_kind IS 'How that address''s interface id was made: eui64, random, low_byte, …';
COMMENT ON COLUMN decnet.attackers.last_ipv6_mac_oui IS 'The vendor OUI of the MAC inside an EUI-64 interface id.';

-- attacker_services, attacker_deckies, attacker_commands
COMMENT ON COLUMN decnet.attacker_services.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.attacker_services.service IS 'The program (APP-NAME) as logged; attackers.services counts its family.';
COMMENT ON COLUMN decnet.attacker_services.event_count IS 'Lines of this attacker from this program.';
COMMENT ON COLUMN decnet.attacker_services.interaction_count IS 'Of them, interaction events (decnet.classify_event_kind).';
COMMENT ON COLUMN decnet.attacker_services.scan_count IS 'Of them, scan events (the default kind).';
COMMENT ON COLUMN decnet.attacker_services.noise_count IS 'Of them, noise events (startup, parse_error, …).';
COMMENT ON COLUMN decnet.attacker_services.first_seen IS 'Event time of the earliest of these lines.';
COMMENT ON COLUMN decnet.attacker_services.last_seen IS 'Event time of the latest of these lines.';
COMMENT ON COLUMN decnet.attacker_services.bucket IS 'interacted if any interaction, else scanned if any scan, else noise (generated).';
COMMENT ON COLUMN decnet.attacker_deckies.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.attacker_deckies.decky IS 'A decky it touched (decnet-* infrastructure hosts left out).';
COMMENT ON COLUMN decnet.attacker_deckies.first_seen IS 'Event time of its first line there: orders attackers.deckies.';
COMMENT ON COLUMN decnet.attacker_deckies.first_log_id IS 'logs.id of that first line: breaks ties of first_seen.';
COMMENT ON COLUMN decnet.attacker_deckies.last_seen IS 'Event time of its latest line there.';
COMMENT ON COLUMN decnet.attacker_deckies.event_count IS 'Its lines there.';
COMMENT ON COLUMN decnet.attacker_commands.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.attacker_commands.log_id IS 'logs.id of the line that carried the command.';
COMMENT ON COLUMN decnet.attacker_commands.ts IS 'Event time of the command.';
COMMENT ON COLUMN decnet.attacker_commands.service IS 'Program that logged it (bash, ssh, mysql, …).';
COMMENT ON COLUMN decnet.attacker_commands.decky IS 'Decky it ran on.';
COMMENT ON COLUMN decnet.attacker_commands.command IS 'The command text; one of the first or last decnet.commands_kept_per_end() of the attacker.';

-- bounties, credentials, smtp_targets
COMMENT ON COLUMN decnet.bounties.id IS 'Row id.';
COMMENT ON COLUMN decnet.bounties.bounty_type IS 'fingerprint, ip_leak or artifact (spec E.3).';
COMMENT ON COLUMN decnet.bounties.attacker_ip IS 'The attacker it was taken from.';
COMMENT ON COLUMN decnet.bounties.payload IS 'What was captured: the fingerprint, leaked address or artifact, as of its first sighting.';
COMMENT ON COLUMN decnet.bounties.payload_key IS 'Dedup key: SHA-256 of the payload without its sighting members (method, path, client port; correction #47).';
COMMENT ON COLUMN decnet.bounties.fingerprint_type IS 'payload->>fingerprint_type for fingerprints (ja3, ja4, hassh, ja4h, tls_certificate, …).';
COMMENT ON COLUMN decnet.bounties.decky IS 'Decky of the first sighting.';
COMMENT ON COLUMN decnet.bounties.service IS 'Program of the first sighting.';
COMMENT ON COLUMN decnet.bounties.first_seen IS 'Event time of the first sighting.';
COMMENT ON COLUMN decnet.bounties.last_seen IS 'Event time of the latest sighting.';
COMMENT ON COLUMN decnet.bounties.first_log_id IS 'logs.id of the first sighting.';
COMMENT ON COLUMN decnet.bounties.seen_count IS 'Lines that carried it.';
COMMENT ON COLUMN decnet.credentials.id IS 'Row id.';
COMMENT ON COLUMN decnet.credentials.attacker_ip IS 'The address that tried it; NULL when the line named none.';
COMMENT ON COLUMN decnet.credentials.attacker_uuid IS 'attackers.uuid of that address.';
COMMENT ON COLUMN decnet.credentials.decky IS 'Decky it was tried on.';
COMMENT ON COLUMN decnet.credentials.service IS 'Program that captured it (auth-helper, ftp, http, …).';
COMMENT ON COLUMN decnet.credentials.principal IS 'User name as sent.';
COMMENT ON COLUMN decnet.credentials.principal_key IS 'principal bounded for the index (decnet.index_key): equal names keep equal keys.';
COMMENT ON COLUMN decnet.credentials.secret_kind IS 'password, hash, token, … (spec E.2).';
COMMENT ON COLUMN decnet.credentials.secret_sha256 IS 'SHA-256 (hex) of the secret''s exact bytes: the dedup key.';
COMMENT ON COLUMN decnet.credentials.secret_b64 IS 'The secret''s exact bytes, base64.';
COMMENT ON COLUMN decnet.credentials.secret_printable IS 'The secret as text, non-printables replaced.';
COMMENT ON COLUMN decnet.credentials.outcome IS 'Outcome of the latest attempt that reported one (success, failure, …).';
COMMENT ON COLUMN decnet.credentials.outcome_log_id IS 'logs.id of that attempt.';
COMMENT ON COLUMN decnet.credentials.first_seen IS 'Event time of the first attempt.';
COMMENT ON COLUMN decnet.credentials.last_seen IS 'Event time of the latest attempt.';
COMMENT ON COLUMN decnet.credentials.first_log_id IS 'logs.id of the first attempt.';
COMMENT ON COLUMN decnet.credentials.attempt_count IS 'Attempts with this credential.';
COMMENT ON COLUMN decnet.smtp_targets.attacker_ip IS 'The sender.';
COMMENT ON COLUMN decnet.smtp_targets.domain IS 'A victim domain: the domain of a recipient it tried (lower case, at most 253 characters).';
COMMENT ON COLUMN decnet.smtp_targets.count IS 'Recipients it tried at that domain.';
COMMENT ON COLUMN decnet.smtp_targets.first_seen IS 'Event time of the first such recipient.';
COMMENT ON COLUMN decnet.smtp_targets.last_seen IS 'Event time of the latest.';

-- behaviour
COMMENT ON COLUMN decnet.dirty_attackers.ip IS 'An attacker with lines newer than its behaviour row.';
COMMENT ON COLUMN decnet.dirty_attackers.marked_at IS 'When it was first marked since its last rollup: stats().oldest_dirty_age is the oldest.';
COMMENT ON COLUMN decnet.attacker_behavior.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.attacker_behavior.event_count IS 'Its own lines (sensors left out) when it was rolled up.';
COMMENT ON COLUMN decnet.attacker_behavior.timing_stats IS 'Inter-arrival statistics over its distinct instants (latest decnet.rollup_lines_max() lines): event_count, duration_s, mean/median/stdev/min/max_iat_s, cv.';
COMMENT ON COLUMN decnet.attacker_behavior.behavior_class IS 'unknown, scanning, slow_scan, brute_force, beaconing, interactive or mixed (spec D.8, with corrections #32, #55, #57).';
COMMENT ON COLUMN decnet.attacker_behavior.beacon_interval_s IS 'Mean interval when the class is beaconing.';
COMMENT ON COLUMN decnet.attacker_behavior.beacon_jitter_pct IS 'Jitter of that interval, percent.';
COMMENT ON COLUMN decnet.attacker_behavior.tool_guesses IS 'Tools its cadence, banners and fingerprints point to (spec D.9).';
COMMENT ON COLUMN decnet.attacker_behavior.phase_sequence IS 'Kill-chain phases of its commands, in order.';
COMMENT ON COLUMN decnet.attacker_behavior.os_guess IS 'Operating system from decnet.os_signatures, the sensors'' labels or the TTL.';
COMMENT ON COLUMN decnet.attacker_behavior.hop_distance IS 'Network hops from the initial TTL the sensors saw.';
COMMENT ON COLUMN decnet.attacker_behavior.tcp_fingerprint IS 'The TCP SYN fingerprint the guess used (window, MSS, scale, options, TTL).';
COMMENT ON COLUMN decnet.attacker_behavior.kex_order_raw IS 'SSH key-exchange algorithms in the order its client offered them.';
COMMENT ON COLUMN decnet.attacker_behavior.ssh_client_banners IS 'SSH client version strings it sent.';
COMMENT ON COLUMN decnet.attacker_behavior.retransmit_count IS 'TCP retransmissions the sniffer saw.';
COMMENT ON COLUMN decnet.attacker_behavior.updated_at IS 'When it was last rolled up.';
COMMENT ON COLUMN decnet.rollup_runs.id IS 'Run id.';
COMMENT ON COLUMN decnet.rollup_runs.started_at IS 'When the batch started.';
COMMENT ON COLUMN decnet.rollup_runs.duration_ms IS 'How long it took.';
COMMENT ON COLUMN decnet.rollup_runs.attackers IS 'Attackers it rolled up.';
COMMENT ON COLUMN decnet.rollup_runs.events IS 'Their lines it read.';
COMMENT ON COLUMN decnet.rollup_runs.remaining IS 'Dirty attackers left after it.';
COMMENT ON COLUMN decnet.rollup_failures.ip IS 'An attacker whose rollup failed on its own.';
COMMENT ON COLUMN decnet.rollup_failures.failures IS 'How many times in a row.';
COMMENT ON COLUMN decnet.rollup_failures.first_failed_at IS 'First failure.';
COMMENT ON COLUMN decnet.rollup_failures.last_failed_at IS 'Latest failure.';
COMMENT ON COLUMN decnet.rollup_failures.sqlstate IS 'SQLSTATE of the latest error.';
COMMENT ON COLUMN decnet.rollup_failures.message IS 'Message of the latest error (first 1,000 characters).';
COMMENT ON COLUMN decnet.os_signatures.id IS 'Row id.';
COMMENT ON COLUMN decnet.os_signatures.priority IS 'Lower matches first.';
COMMENT ON COLUMN decnet.os_signatures.label IS 'The OS (or tool, e.g. nmap) a match means.';
COMMENT ON COLUMN decnet.os_signatures.context IS 'Which packets it applies to: syn (the attacker''s) or synack (an answer the prober got).';
COMMENT ON COLUMN decnet.os_signatures.initial_ttl IS 'Initial TTL bucket (32, 64, 128, 255); NULL: any.';
COMMENT ON COLUMN decnet.os_signatures.windows IS 'TCP window sizes that match; NULL: any.';
COMMENT ON COLUMN decnet.os_signatures.window_min IS 'Smallest matching window; NULL: no bound.';
COMMENT ON COLUMN decnet.os_signatures.mss IS 'MSS values that match; NULL: any.';
COMMENT ON COLUMN decnet.os_signatures.wscales IS 'Window scales that match; NULL: any.';
COMMENT ON COLUMN decnet.os_signatures.options IS 'TCP option order as letters (M, S, T, N, W, E); NULL: any.';
COMMENT ON COLUMN decnet.os_signatures.sack IS 'SACK permitted required (true) or absent (false); NULL: either.';
COMMENT ON COLUMN decnet.os_signatures.timestamps IS 'Timestamps option required or absent; NULL: either.';
COMMENT ON COLUMN decnet.os_signatures.eol IS 'End-of-options padding required or absent; NULL: either.';
COMMENT ON COLUMN decnet.os_signatures.p0f IS 'The p0f signature it was taken from, for reference.';
COMMENT ON COLUMN decnet.os_signatures.builtin IS 'Shipped with decnet (migrations keep these in step); users add rows with false.';
COMMENT ON COLUMN decnet.os_signatures.note IS 'Where the signature comes from.';

-- sessions
COMMENT ON COLUMN decnet.session_recordings.sid IS 'sessrec session id.';
COMMENT ON COLUMN decnet.session_recordings.attacker_ip IS 'The attacker (from the session_recorded line).';
COMMENT ON COLUMN decnet.session_recordings.decky IS 'Decky of the session.';
COMMENT ON COLUMN decnet.session_recordings.service IS 'ssh or telnet.';
COMMENT ON COLUMN decnet.session_recordings.started_at IS 'Session start (shard header).';
COMMENT ON COLUMN decnet.session_recordings.events IS 'The session''s shard lines (JSONL) as loaded.';
COMMENT ON COLUMN decnet.session_recordings.source IS 'Where they were loaded from (file path or caller''s label).';
COMMENT ON COLUMN decnet.session_recordings.recorded_at IS 'When they were loaded.';
COMMENT ON COLUMN decnet.session_profiles.sid IS 'sessrec session id.';
COMMENT ON COLUMN decnet.session_profiles.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.session_profiles.decky IS 'Decky of the session.';
COMMENT ON COLUMN decnet.session_profiles.service IS 'ssh or telnet.';
COMMENT ON COLUMN decnet.session_profiles.started_at IS 'Session start.';
COMMENT ON COLUMN decnet.session_profiles.schema_version IS 'Version of the profile''s feature set.';
COMMENT ON COLUMN decnet.session_profiles.kd_simhash IS 'Digraph-timing SimHash of the typing (8 bytes; spec H.4); NULL below 8 digraphs or 20 samples.';
COMMENT ON COLUMN decnet.session_profiles.kd_simhash_confidence IS 'min(0.95, 0.40 + 0.05 × digraphs).';
COMMENT ON COLUMN decnet.session_profiles.iki_mean_s IS 'Mean inter-key interval within typing bursts, seconds.';
COMMENT ON COLUMN decnet.session_profiles.iki_stdev_s IS 'Its standard deviation.';
COMMENT ON COLUMN decnet.session_profiles.iki_p50_s IS 'Its median.';
COMMENT ON COLUMN decnet.session_profiles.iki_p95_s IS 'Its 95th percentile.';
COMMENT ON COLUMN decnet.session_profiles.enter_latency_p50_s IS 'Median time from a command''s last key to Enter.';
COMMENT ON COLUMN decnet.session_profiles.enter_latency_p95_s IS '95th percentile of that time.';
COMMENT ON COLUMN decnet.session_profiles.pause_burst IS 'Pauses within a burst (up to 1.5 s).';
COMMENT ON COLUMN decnet.session_profiles.pause_think IS 'Thinking pauses (1.5 s to 10 s).';
COMMENT ON COLUMN decnet.session_profiles.pause_distracted IS 'Longer pauses.';
COMMENT ON COLUMN decnet.session_profiles.start_of_action_latency_s IS 'Time from output to the next first key.';
COMMENT ON COLUMN decnet.session_profiles.max_pause_s IS 'Longest pause between keys.';
COMMENT ON COLUMN decnet.session_profiles.backspace_rate IS 'Backspaces per key.';
COMMENT ON COLUMN decnet.session_profiles.wkill_rate IS '^W per key.';
COMMENT ON COLUMN decnet.session_profiles.ukill_rate IS '^U per key.';
COMMENT ON COLUMN decnet.session_profiles.abort_rate IS '^C per key.';
COMMENT ON COLUMN decnet.session_profiles.eof_rate IS '^D per key.';
COMMENT ON COLUMN decnet.session_profiles.arrow_rate IS 'Arrow keys per key.';
COMMENT ON COLUMN decnet.session_profiles.tab_rate IS 'Tabs (completion) per key.';
COMMENT ON COLUMN decnet.session_profiles.top_bigrams IS 'Most frequent digraphs with their mean flight times.';
COMMENT ON COLUMN decnet.session_profiles.total_keystrokes IS 'Single-character input events.';
COMMENT ON COLUMN decnet.session_profiles.paste_events IS 'Input events of 4 or more characters (pastes).';
COMMENT ON COLUMN decnet.session_profiles.input_events IS 'Input events.';
COMMENT ON COLUMN decnet.session_profiles.output_events IS 'Output events.';
COMMENT ON COLUMN decnet.session_profiles.duration_s IS 'Last event time minus first.';
COMMENT ON COLUMN decnet.session_profiles.malformed_lines IS 'Shard lines skipped as malformed (correction #56).';
COMMENT ON COLUMN decnet.session_profiles.profiled_at IS 'When the profile was computed.';
COMMENT ON COLUMN decnet.session_profiles.kd_chunk0 IS 'Bits 63–48 of kd_simhash: similar_sessions finds candidates by equal chunks.';
COMMENT ON COLUMN decnet.session_profiles.kd_chunk1 IS 'Bits 47–32 of kd_simhash.';
COMMENT ON COLUMN decnet.session_profiles.kd_chunk2 IS 'Bits 31–16 of kd_simhash.';
COMMENT ON COLUMN decnet.session_profiles.kd_chunk3 IS 'Bits 15–0 of kd_simhash.';

-- enrichment
COMMENT ON COLUMN decnet.country_ranges.start_ip IS 'First address of the range.';
COMMENT ON COLUMN decnet.country_ranges.end_ip IS 'Last address of the range.';
COMMENT ON COLUMN decnet.country_ranges.country_code IS 'ISO 3166 country the registry assigned it to.';
COMMENT ON COLUMN decnet.country_ranges.registry IS 'The RIR whose delegation file gave it.';
COMMENT ON COLUMN decnet.asn_ranges.start_ip IS 'First address of the range.';
COMMENT ON COLUMN decnet.asn_ranges.end_ip IS 'Last address of the range.';
COMMENT ON COLUMN decnet.asn_ranges.asn IS 'Autonomous system that announces it.';
COMMENT ON COLUMN decnet.asn_ranges.as_name IS 'Its name.';
COMMENT ON COLUMN decnet.asn_ranges.country IS 'Country of the AS (iptoasn).';
COMMENT ON COLUMN decnet.enrichment_loads.source IS 'Which data: rir (countries) or iptoasn (AS).';
COMMENT ON COLUMN decnet.enrichment_loads.loaded_at IS 'When it was last loaded.';
COMMENT ON COLUMN decnet.enrichment_loads.ranges IS 'Ranges it holds.';

-- identities and campaigns
COMMENT ON COLUMN decnet.fingerprint_state.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.fingerprint_state.probe_type IS 'jarm, hassh, tcpfp (the prober) or ja3 (the sniffer''s client hello).';
COMMENT ON COLUMN decnet.fingerprint_state.port IS 'Port it was observed on.';
COMMENT ON COLUMN decnet.fingerprint_state.last_hash IS 'The latest hash by event time.';
COMMENT ON COLUMN decnet.fingerprint_state.first_seen IS 'First observation.';
COMMENT ON COLUMN decnet.fingerprint_state.last_seen IS 'Latest observation.';
COMMENT ON COLUMN decnet.fingerprint_state.observation_count IS 'Observations.';
COMMENT ON COLUMN decnet.fingerprint_state.rotation_count IS 'Changes between consecutive observations.';
COMMENT ON COLUMN decnet.fingerprint_rotations.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.fingerprint_rotations.probe_type IS 'jarm, hassh, tcpfp or ja3.';
COMMENT ON COLUMN decnet.fingerprint_rotations.port IS 'Port.';
COMMENT ON COLUMN decnet.fingerprint_rotations.rotated_at IS 'Event time of the observation with the new hash.';
COMMENT ON COLUMN decnet.fingerprint_rotations.old_hash IS 'Hash before.';
COMMENT ON COLUMN decnet.fingerprint_rotations.new_hash IS 'Hash after.';
COMMENT ON COLUMN decnet.fingerprint_rotations.log_id IS 'logs.id of the observation with the new hash.';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.attacker_ip IS 'The address the leak was seen from.';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.link_local IS 'The leaked fe80::/10 address.';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.iid_kind IS 'How its interface id was made: eui64, random, low_byte, …';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.mac_oui IS 'Vendor OUI of the MAC inside an EUI-64 id.';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.mac IS 'The MAC inside an EUI-64 id (computed from the address, not trusted from the sensor).';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.attacker_v4 IS 'IPv4 addresses the leak lines tied it to.';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.first_seen IS 'First leak.';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.last_seen IS 'Latest leak.';
COMMENT ON COLUMN decnet.attacker_ipv6_leaks.leak_count IS 'Leak lines.';
COMMENT ON COLUMN decnet.attacker_identities.uuid IS 'Identity id; stays stable across passes.';
COMMENT ON COLUMN decnet.attacker_identities.merged_into IS 'The identity this one merged into (NULL: live); decnet.resolve_identity follows it.';
COMMENT ON COLUMN decnet.attacker_identities.campaign_id IS 'The campaign it belongs to, if any.';
COMMENT ON COLUMN decnet.attacker_identities.member_count IS 'Member addresses (0 once merged).';
COMMENT ON COLUMN decnet.attacker_identities.first_seen IS 'Earliest first_seen of its members.';
COMMENT ON COLUMN decnet.attacker_identities.last_seen IS 'Latest last_seen of its members.';
COMMENT ON COLUMN decnet.attacker_identities.ja3_hashes IS 'JA3 hashes of every member, sorted; NULL when none (spec D.12).';
COMMENT ON COLUMN decnet.attacker_identities.ja4_hashes IS 'JA4 hashes of every member; NULL when none.';
COMMENT ON COLUMN decnet.attacker_identities.hassh_hashes IS 'HASSH hashes of every member; NULL when none.';
COMMENT ON COLUMN decnet.attacker_identities.tls_cert_sha256 IS 'TLS certificate SHA-256s of every member; NULL when none.';
COMMENT ON COLUMN decnet.attacker_identities.ja4h_hashes IS 'JA4H hashes of every member; NULL when none.';
COMMENT ON COLUMN decnet.attacker_identities.ja4_quic_hashes IS 'JA4 QUIC hashes of every member; NULL when none.';
COMMENT ON COLUMN decnet.attacker_identities.ipv6_link_local_iids IS 'Leaked interface ids: [{iid, oui, kind, first_seen}], one per address.';
COMMENT ON COLUMN decnet.attacker_identities.kd_digraph_simhash IS 'Per-bit majority of its members'' session SimHashes (spec H.5).';
COMMENT ON COLUMN decnet.attacker_identities.created_at IS 'When it was made.';
COMMENT ON COLUMN decnet.attacker_identities.updated_at IS 'When a pass last changed it.';
COMMENT ON COLUMN decnet.identity_members.attacker_ip IS 'An attacker address.';
COMMENT ON COLUMN decnet.identity_members.identity_id IS 'Its live identity.';
COMMENT ON COLUMN decnet.identity_members.joined_at IS 'When it joined that identity.';
COMMENT ON COLUMN decnet.identity_signals.kind IS 'ja3, ja4, hassh, tls_cert, mac, payload, c2, or a candidate key of a weaker tier (cmd, cred, kd0–kd3).';
COMMENT ON COLUMN decnet.identity_signals.value IS 'The value (bounded like every key).';
COMMENT ON COLUMN decnet.identity_signals.attacker_ip IS 'An attacker that has it.';
COMMENT ON COLUMN decnet.identity_runs.id IS 'Run id.';
COMMENT ON COLUMN decnet.identity_runs.started_at IS 'When the pass started.';
COMMENT ON COLUMN decnet.identity_runs.duration_ms IS 'How long it took.';
COMMENT ON COLUMN decnet.identity_runs.mode IS 'incremental (rollup), full (hourly) or campaigns.';
COMMENT ON COLUMN decnet.identity_runs.attackers IS 'Attackers (or identities, for campaigns) it looked at.';
COMMENT ON COLUMN decnet.identity_runs.edges IS 'Edges it found.';
COMMENT ON COLUMN decnet.identity_runs.identities IS 'Identities (or campaigns) it made.';
COMMENT ON COLUMN decnet.identity_runs.merges IS 'Identities it merged into others.';
COMMENT ON COLUMN decnet.identity_link_signals.a IS 'One address of the edge (the smaller).';
COMMENT ON COLUMN decnet.identity_link_signals.b IS 'The other address.';
COMMENT ON COLUMN decnet.identity_link_signals.tier IS 'high, medium, low, very_low or keystroke.';
COMMENT ON COLUMN decnet.identity_link_signals.kind IS 'What is shared: ja3, ja4, hassh, tls_cert, mac, payload_hash, c2, commands:<phase>, credentials, asn, kd_simhash.';
COMMENT ON COLUMN decnet.identity_link_signals.value IS 'The shared value (commands and credentials one per line), bounded like every key.';
COMMENT ON COLUMN decnet.identity_link_signals.weight IS 'The tier''s contribution to the edge; the distinct tiers of an edge add up to at least 1.0.';
COMMENT ON COLUMN decnet.identity_link_signals.found_at IS 'When the pass that found the edge ran.';
COMMENT ON COLUMN decnet.campaigns.uuid IS 'Campaign id; stays stable across passes.';
COMMENT ON COLUMN decnet.campaigns.merged_into IS 'The campaign this one merged into (NULL: live).';
COMMENT ON COLUMN decnet.campaigns.identity_count IS 'Identities in it.';
COMMENT ON COLUMN decnet.campaigns.first_seen IS 'Earliest first_seen of its identities.';
COMMENT ON COLUMN decnet.campaigns.last_seen IS 'Latest last_seen of its identities.';
COMMENT ON COLUMN decnet.campaigns.ja3_hashes IS 'JA3 hashes of its identities; NULL when none.';
COMMENT ON COLUMN decnet.campaigns.hassh_hashes IS 'HASSH hashes of its identities; NULL when none.';
COMMENT ON COLUMN decnet.campaigns.tls_cert_sha256 IS 'TLS certificate SHA-256s of its identities; NULL when none.';
COMMENT ON COLUMN decnet.campaigns.created_at IS 'When it was made.';
COMMENT ON COLUMN decnet.campaigns.updated_at IS 'When a pass last changed it.';

-- operations
COMMENT ON COLUMN decnet.log_partitioning.singleton IS 'Always true: the table has one row.';
COMMENT ON COLUMN decnet.log_partitioning.period IS 'Partition size of decnet.logs: day, week or month.';
COMMENT ON COLUMN decnet.log_partitioning.premake IS 'Periods made ahead of the current one.';
COMMENT ON COLUMN decnet.log_retention.id IS 'Row id.';
COMMENT ON COLUMN decnet.log_retention.dropped_at IS 'When drop_logs_before() dropped the partition.';
COMMENT ON COLUMN decnet.log_retention.partition_name IS 'The partition dropped.';
COMMENT ON COLUMN decnet.log_retention.received_from IS 'Lower bound of its received_at range.';
COMMENT ON COLUMN decnet.log_retention.received_before IS 'Upper bound of its received_at range.';
COMMENT ON COLUMN decnet.log_retention.lines IS 'Lines it held.';
COMMENT ON COLUMN decnet.log_retention.attackerless_lines IS 'Of them, lines without an attacker.';
COMMENT ON COLUMN decnet.truncated_attackers.ip IS 'An attacker some of whose lines retention dropped: verify() leaves it out.';
COMMENT ON COLUMN decnet.truncated_attackers.dropped_at IS 'When its lines were first dropped.';
COMMENT ON COLUMN decnet.notifications.seq IS 'Sequence number the NOTIFY payload carries.';
COMMENT ON COLUMN decnet.notifications.channel IS 'The channel (decnet_attacker, decnet_rotation, …).';
COMMENT ON COLUMN decnet.notifications.payload IS 'What happened; only roles that may read it see it (the NOTIFY carries seq only).';
COMMENT ON COLUMN decnet.notifications.created_at IS 'When it was written (kept 7 days).';
COMMENT ON COLUMN decnet.ingest_positions.device IS 'st_dev of the file.';
COMMENT ON COLUMN decnet.ingest_positions.inode IS 'st_ino of the file.';
COMMENT ON COLUMN decnet.ingest_positions.path IS 'Path it was last read under.';
COMMENT ON COLUMN decnet.ingest_positions.head_len IS 'Bytes hashed into head_sha256 (at most 1 KiB).';
COMMENT ON COLUMN decnet.ingest_positions.head_sha256 IS 'SHA-256 of its first head_len bytes: recognises a copytruncated or replaced file.';
COMMENT ON COLUMN decnet.ingest_positions.byte_offset IS 'Offset after the last line stored.';
COMMENT ON COLUMN decnet.ingest_positions.lines IS 'Lines stored from it.';
COMMENT ON COLUMN decnet.ingest_positions.updated_at IS 'When lines from it were last stored.';
COMMENT ON COLUMN decnet.merge_queue.id IS 'Row id.';
COMMENT ON COLUMN decnet.merge_queue.queued_at IS 'When the transaction queued its lines.';
COMMENT ON COLUMN decnet.merge_queue.log_ids IS 'logs.id of its lines.';
COMMENT ON COLUMN decnet.merge_queue_state.last_merge_at IS 'When lines were last merged at commit.';

-- refinery's history table (absent where the migrations run without decnet migrate)
DO $$
BEGIN
    IF to_regclass('decnet.schema_migrations') IS NOT NULL THEN
        COMMENT ON COLUMN decnet.schema_migrations.version IS 'Migration number (decnet migrate, refinery).';
        COMMENT ON COLUMN decnet.schema_migrations.name IS 'Migration name.';
        COMMENT ON COLUMN decnet.schema_migrations.applied_on IS 'When it was applied.';
        COMMENT ON COLUMN decnet.schema_migrations.checksum IS 'Checksum of the file as applied.';
        COMMENT ON TABLE decnet.schema_migrations IS 'The numbered migrations decnet migrate applied (refinery''s history).';
    END IF;
END
$$;

-- views of their own
COMMENT ON COLUMN decnet.service_buckets.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.service_buckets.interacted IS 'Service families it interacted with (a command, a mail, a file, …).';
COMMENT ON COLUMN decnet.service_buckets.scanned IS 'Service families it only scanned (connected, tried to log in).';
COMMENT ON COLUMN decnet.identity_summary.identity_id IS 'Identity id.';
COMMENT ON COLUMN decnet.identity_summary.member_ips IS 'Its addresses, sorted.';
COMMENT ON COLUMN decnet.identity_summary.countries IS 'Countries of its addresses.';
COMMENT ON COLUMN decnet.identity_summary.asns IS 'Autonomous systems of its addresses.';
COMMENT ON COLUMN decnet.identity_summary.as_names IS 'Their names.';
COMMENT ON COLUMN decnet.identity_summary.rotation_count IS 'Fingerprint rotations of its addresses.';
COMMENT ON COLUMN decnet.campaign_summary.identities IS 'Its identities.';
COMMENT ON COLUMN decnet.campaign_summary.member_ips IS 'Addresses of its identities.';
COMMENT ON COLUMN decnet.campaign_summary.countries IS 'Countries of those addresses.';
COMMENT ON COLUMN decnet.campaign_summary.asns IS 'Autonomous systems of those addresses.';
COMMENT ON COLUMN decnet.campaign_summary.campaign_id IS 'Campaign id.';
COMMENT ON COLUMN decnet.enrichment_status.stale IS 'Loaded more than 30 days ago.';
COMMENT ON COLUMN decnet.ingest_sources.idle_for IS 'Time since lines from it were last stored.';
COMMENT ON COLUMN decnet.probe_observations.log_id IS 'logs.id of the observation.';
COMMENT ON COLUMN decnet.probe_observations.attacker_ip IS 'The attacker observed.';
COMMENT ON COLUMN decnet.probe_observations.probe_type IS 'jarm, hassh, tcpfp or ja3.';
COMMENT ON COLUMN decnet.probe_observations.port IS 'Port.';
COMMENT ON COLUMN decnet.probe_observations.hash IS 'The observed hash.';
COMMENT ON COLUMN decnet.probe_observations.ts IS 'Event time.';
COMMENT ON VIEW decnet.recomputed_log_bounties IS 'Every bounty and credential each stored line yields (decnet.log_bounties), one row per line and bounty: what the recomputed_bounties and recomputed_credentials views group.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.id IS 'logs.id of the line.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.ts IS 'Event time of the line.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.decky IS 'Decky of the line.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.service IS 'Program of the line.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.bounty_type IS 'fingerprint, ip_leak, artifact or credential.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.attacker_ip IS 'The attacker it belongs to.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.payload IS 'What the line yields (for credentials, the credential fields).';

COMMENT ON VIEW decnet.enrichment_status IS 'Each enrichment source: when it was loaded, how many ranges, whether it is stale.';
COMMENT ON VIEW decnet.probe_observations IS 'Every stored line that observes a rotation-tracked hash (prober JARM, HASSH, TCP; sniffer client JA3 per port).';
COMMENT ON TABLE decnet.identity_signals IS 'What identity resolution compares, per attacker: strong fingerprints, infrastructure and candidate keys for the weaker tiers; refreshed for the attackers each rollup drains.';

-- Views whose columns repeat a table's: the table's comment. A recomputed_*
-- view recomputes its table from decnet.logs (verify() compares the two).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT v.relname AS view_name, a.attname AS column_name,
               CASE WHEN v.relname LIKE 'recomputed\_%' THEN 'Recomputed from decnet.logs: ' ELSE '' END || d.description AS comment
        FROM pg_class v
        JOIN pg_attribute a ON a.attrelid = v.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_class t ON t.relnamespace = v.relnamespace AND t.relname = CASE
                 WHEN v.relname LIKE 'recomputed\_%' THEN substr(v.relname, 12)
                 WHEN v.relname = 'identity_summary' THEN 'attacker_identities'
                 WHEN v.relname = 'campaign_summary' THEN 'campaigns'
                 WHEN v.relname = 'enrichment_status' THEN 'enrichment_loads'
                 WHEN v.relname = 'ingest_sources' THEN 'ingest_positions' END
        JOIN pg_attribute ta ON ta.attrelid = t.oid AND ta.attname = a.attname
        JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = ta.attnum
        WHERE v.relnamespace = 'decnet'::regnamespace AND v.relkind = 'v'
          AND NOT EXISTS (SELECT 1 FROM pg_description vd WHERE vd.objoid = v.oid AND vd.classoid = 'pg_class'::regclass
                                                          AND vd.objsubid = a.attnum)
        ORDER BY 1, 2
    LOOP
        EXECUTE format('COMMENT ON COLUMN decnet.%I.%I IS %L', r.view_name, r.column_name, r.comment);
    END LOOP;
END
$$;

-- A recomputed_* view: what its table holds, from decnet.logs alone.
DO $$
DECLARE
    v text;
BEGIN
    FOR v IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'decnet'::regnamespace AND c.relkind = 'v' AND c.relname LIKE 'recomputed\_%'
               AND obj_description(c.oid, 'pg_class') IS NULL ORDER BY 1
    LOOP
        EXECUTE format('COMMENT ON VIEW decnet.%I IS %L', v,
                       format('decnet.%s recomputed from decnet.logs alone: verify() compares the two, rebuild() copies it.', substr(v, 12)));
    END LOOP;
END
$$;
