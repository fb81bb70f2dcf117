-- Documentation for every function of the extension (\df+ and \dd show these).
COMMENT ON FUNCTION @extschema@.parse_log(text) IS
'Parses one DECNET RFC 5424 log line exactly as the ingest trigger does. Returns one row: parse_status (ok | partial | unparsed), parse_reason (comma-separated flag codes, NULL when ok), ts (UTC), decky, service, event_type (NULL for the NILVALUE "-"), attacker_ip, fields (SD parameters of relay@55555, escapes decoded), msg.';

COMMENT ON FUNCTION @extschema@.classify_event_kind(text) IS
'DECNET event kind of an event_type: interaction, noise, or scan (the default, also for "" and "-").';

COMMENT ON FUNCTION @extschema@.bucket_services(text[], text[]) IS
'Given parallel arrays of service and event_type, returns the sorted services whose best event kind is interaction (interacted) or scan (scanned); noise-only services are left out.';

COMMENT ON FUNCTION @extschema@.logs_parse_trigger() IS
'BEFORE INSERT row trigger of decnet.logs: parses raw_line once into ts, decky, service, event_type, attacker_ip, fields, msg, parse_status and parse_reason. Never raises for a bad line; lines with raw_bytes set are flagged lossy_text.';

COMMENT ON FUNCTION @extschema@.log_bounties(text, text, inet, jsonb) IS
'Bounties (fingerprints, ip_leak, artifacts; DECNET decnet/web/ingester.py) and credentials (bounty_type credential; DECNET decnet/web/ingester.py) of one stored line. Reads decnet.trusted_proxies.';
COMMENT ON FUNCTION @extschema@.is_sensor_service(text) IS
'True for sensors that observe attackers (sniffer, prober): they are not services the attacker used.';
COMMENT ON FUNCTION @extschema@.is_infrastructure_decky(text) IS
'True for DECNET infrastructure hosts (decnet-*), which are never deckies of an attacker.';
COMMENT ON FUNCTION @extschema@.command_event_types() IS
'Event types whose command text is kept (DECNET decnet/profiler/worker.py).';
COMMENT ON FUNCTION @extschema@.bounty_keys() IS
'SD parameter names that can yield a bounty or credential.';
COMMENT ON FUNCTION @extschema@.bounty_event_types() IS
'Event types that yield a bounty whatever their fields.';
COMMENT ON FUNCTION @extschema@.logs_statement_begin() IS
'BEFORE INSERT statement trigger of decnet.logs: opens the in-memory delta that the row trigger fills and logs_derive merges.';
COMMENT ON FUNCTION @extschema@.statement_take() IS
'Internal (called by logs_derive): takes the current statement''s delta; returns its line count.';
COMMENT ON FUNCTION @extschema@.statement_first_log_id() IS 'Internal: smallest decnet.logs id of the taken statement delta.';
COMMENT ON FUNCTION @extschema@.statement_rows() IS 'Internal: lines in the taken delta (a statement''s, or a transaction''s pending lines).';
COMMENT ON FUNCTION @extschema@.merge_taken() IS 'Internal: merges the taken delta into the derived tables (one grouped upsert per table, attackers locked in address order) and sends one decnet_attacker notification.';
COMMENT ON FUNCTION @extschema@.logs_merge_pending() IS 'Deferred constraint trigger logs_merge_at_commit of decnet.logs: merges at commit the lines of the transaction''s small statements.';
COMMENT ON FUNCTION @extschema@.defer_taken() IS 'Internal: keeps a small statement''s taken delta for the commit-time merge (true), or leaves it taken to merge now (false).';
COMMENT ON FUNCTION @extschema@.merge_event_needed() IS 'Internal (WHEN of logs_merge_at_commit): true for the first line of a transaction, so one commit-time event is queued per transaction.';
COMMENT ON FUNCTION @extschema@.merge_behind_ms() IS 'The setting decnet.merge_behind_ms: small transactions committing within that many milliseconds of the last merge queue their lines (0: never).';
COMMENT ON TYPE @extschema@.attacker_delta IS 'Internal: what a taken delta holds per attacker (events, commands, time span), handed from merge step 1 to step 8.';
COMMENT ON FUNCTION @extschema@.merge_attackers() IS 'Internal, merge step 1: creates the delta''s new attackers, row-locks all of them in address order and marks them dirty; returns them, the new ones and their uuids.';
COMMENT ON FUNCTION @extschema@.merge_attacker_services() IS 'Internal, merge step 2: upserts the delta''s (attacker, program) counts; returns the attackers with a new program.';
COMMENT ON FUNCTION @extschema@.merge_attacker_deckies(bigint, timestamptz) IS 'Internal, merge step 3: upserts the delta''s (attacker, decky) first contacts and counts; returns the attackers whose decky order may have changed.';
COMMENT ON FUNCTION @extschema@.merge_attacker_commands() IS 'Internal, merge step 4: adds the delta''s commands and keeps the first and last commands_kept_per_end() per attacker; returns the attackers with new commands.';
COMMENT ON FUNCTION @extschema@.merge_bounties_and_credentials(bigint, inet[], uuid[]) IS 'Internal, merge step 5: upserts the delta''s bounties and credentials in dedup-key order; returns per attacker how many are new, and whose kept fingerprints may have changed.';
COMMENT ON FUNCTION @extschema@.merge_smtp_targets() IS 'Internal, merge step 6: upserts the delta''s recipients per (attacker, victim domain).';
COMMENT ON FUNCTION @extschema@.merge_attacker_rows(@extschema@.attacker_delta[], inet[], inet[], inet[], inet[], bigint[], bigint[], inet[]) IS 'Internal, merge step 8: one update per affected attacker: counts, time span, and the list columns rebuilt where earlier steps changed them.';
COMMENT ON FUNCTION @extschema@.discard_taken() IS 'Internal: forgets the taken delta once merge_taken() has merged it, so queued lines are never added to lines already merged.';
COMMENT ON FUNCTION @extschema@.take_log_ids() IS 'Internal: takes the taken delta off the merge and returns its lines'' decnet.logs ids, for decnet.merge_queue.';
COMMENT ON FUNCTION @extschema@.absorb_lines(bigint[], text[]) IS 'Internal: parses queued lines (ids with their raw_line) into the taken delta, as the row trigger did at insert; returns how many.';
COMMENT ON FUNCTION @extschema@.take_queued(integer) IS 'Internal: deletes up to max_entries decnet.merge_queue entries no other merge holds and adds their lines to the taken delta; returns how many lines.';
COMMENT ON FUNCTION @extschema@.merge_queued() IS 'Merges every line queued in decnet.merge_queue (decnet.merge_behind_ms), each once; returns how many. decnet.rollup() calls it first.';
COMMENT ON FUNCTION @extschema@.take_pending() IS 'Internal: takes the transaction''s pending lines (every subtransaction not rolled back) for the commit-time merge; returns how many.';
COMMENT ON FUNCTION @extschema@.statement_parts() IS 'Internal: how many attackers, command rows, bounties, credentials, recipient domains, probe observations and IPv6 leaks the taken statement delta holds (merge_taken skips empty steps).';
COMMENT ON FUNCTION @extschema@.statement_attackers() IS 'Internal: per-attacker part of the taken statement delta.';
COMMENT ON FUNCTION @extschema@.statement_services() IS 'Internal: per-(attacker, service) part of the taken statement delta.';
COMMENT ON FUNCTION @extschema@.statement_deckies() IS 'Internal: per-(attacker, decky) part of the taken statement delta.';
COMMENT ON FUNCTION @extschema@.statement_commands() IS 'Internal: command candidates of the taken statement delta.';
COMMENT ON FUNCTION @extschema@.statement_bounties() IS 'Internal: bounties of the taken statement delta, one row per dedup key.';
COMMENT ON FUNCTION @extschema@.statement_credentials() IS 'Internal: credentials of the taken statement delta, one row per dedup key.';
COMMENT ON FUNCTION @extschema@.command_text(text, jsonb) IS
'Command text of a command-family event (first non-empty of command, query, input, line, sql, cmd), else NULL.';
COMMENT ON FUNCTION @extschema@.commands_kept_per_end() IS
'How many of the first and of the last commands are kept per attacker in decnet.attacker_commands.';
COMMENT ON FUNCTION @extschema@.fingerprints_kept() IS
'How many fingerprint bounties (the first by time) are rolled up into attackers.fingerprints.';
COMMENT ON FUNCTION @extschema@.may_have_bounty(text, jsonb) IS
'Cheap pre-filter: false when a line cannot yield any bounty or credential.';
COMMENT ON FUNCTION @extschema@.payload_key(jsonb) IS
'SHA-256 of a bounty payload''s JSON with keys sorted at every level, less the members of one sighting (method, path, client port of HTTP fingerprints): the dedup key of decnet.bounties.';
COMMENT ON FUNCTION @extschema@.logs_derive() IS
'AFTER INSERT statement trigger of decnet.logs: merges the statement delta (merge_taken), or, for a statement of fewer than 1,000 lines, leaves it to the commit-time trigger logs_merge_at_commit, which merges the transaction''s small statements once.';
COMMENT ON FUNCTION @extschema@.logs_append_only() IS
'Rejects UPDATE and DELETE on decnet.logs (SQLSTATE 55000).';
COMMENT ON FUNCTION @extschema@.derived_tables() IS
'The derived tables, their recomputation views, key columns and the columns verify() ignores.';
COMMENT ON FUNCTION @extschema@.verify() IS
'Rows where a derived table and its recomputation (from decnet.logs; session profiles from decnet.session_recordings) differ (relation, key, incremental, recomputed). Empty when consistent. After retention, rows of attackers whose lines were dropped are not compared.';
COMMENT ON FUNCTION @extschema@.rebuild() IS
'Recomputes every derived table from decnet.logs (session profiles from decnet.session_recordings), keeping attacker uuids. Blocks ingest while it runs. Refuses once retention has dropped lines. Returns the row count of each table.';

COMMENT ON FUNCTION @extschema@.statement_smtp_targets() IS 'Internal: per-(attacker, domain) recipients of the taken statement delta.';
COMMENT ON FUNCTION @extschema@.normalize_smtp_domain(text) IS
'Victim domain of a recipient address or bare domain, DECNET''s rules (decnet/profiler/worker.py): lower-cased, dots trimmed, .invalid/.test/.localhost/.local/.example refused; NULL when none.';
COMMENT ON FUNCTION @extschema@.recipient_domain(text, text, jsonb) IS
'Domain one stored line adds to decnet.smtp_targets: the value of an smtp/smtp_relay rcpt_to or rcpt_denied; NULL otherwise.';
COMMENT ON FUNCTION @extschema@.recipient_event_types() IS
'The event types that name one recipient (rcpt_to, rcpt_denied): the ones recipient_domain reads.';
COMMENT ON FUNCTION @extschema@.smtp_target_seen(text) IS
'Privacy-safe gossip query: (seen, count of recipients, first_seen, last_seen) over all attackers for a victim domain; (false, 0, NULL, NULL) when unknown or not a domain. Reveals no attacker detail.';

COMMENT ON FUNCTION @extschema@.kd_simhash(text, text) IS
'Digraph keystroke SimHash (DECNET decnet/profiler/behave_shell/_features/motor.py and decnet/util/simhash.py, bit-exact with DECNET) of the input events of a sessrec JSONL shard, optionally of one sid; 8 bytes big-endian, NULL below 8 digraphs or 20 samples. Malformed lines are skipped.';
COMMENT ON FUNCTION @extschema@.kd_hamming(bytea, bytea) IS
'Hamming distance between two 8-byte keystroke SimHashes (SQLSTATE 22023 for other lengths).';
COMMENT ON FUNCTION @extschema@.kd_centroid_final(bytea[]) IS 'Internal: final function of the kd_centroid aggregate.';

COMMENT ON FUNCTION @extschema@.seq_class(bigint[]) IS
'IP-ID/ISN sequence class (DECNET decnet/sniffer/seq_class.py): unknown (< 4 samples), zero, constant, incremental (every step 1..4096), else random.';
COMMENT ON FUNCTION @extschema@.initial_ttl(integer) IS 'Initial TTL the sender used: the first of 32, 64, 128, 255 not below the seen TTL (DECNET decnet/sniffer/p0f.py).';
COMMENT ON FUNCTION @extschema@.hop_distance(integer) IS 'initial_ttl(ttl) - ttl, clamped to 0..64 (DECNET decnet/sniffer/p0f.py).';
COMMENT ON FUNCTION @extschema@.timing_stats(timestamp with time zone[]) IS
'DECNET''s timing_stats (decnet/profiler/timing.py) as jsonb: event_count, duration_s, mean/median/stdev/min/max inter-arrival seconds (population stdev, Python rounding), cv.';
COMMENT ON FUNCTION @extschema@.behavior_class(bigint, double precision, double precision, integer) IS
'DECNET''s classify_behavior (decnet/profiler/classify.py, the code''s rule order): unknown, slow_scan, scanning, brute_force, beaconing, interactive or mixed.';
COMMENT ON FUNCTION @extschema@.cadence_tools(double precision, double precision) IS
'C2 frameworks (cobalt_strike, sliver, havoc, mythic) whose beacon interval and jitter match a mean inter-arrival and cv (DECNET decnet/profiler/tools.py).';

COMMENT ON FUNCTION @extschema@.jitter_pct(double precision) IS 'beacon_jitter_pct (DECNET decnet/profiler/behavioral.py): cv × 100, rounded to 2 places as Python rounds.';
COMMENT ON FUNCTION @extschema@.rollup(integer) IS
'Drains up to max_attackers dirty attackers and recomputes their attacker_behavior from their own events; one rollup at a time (advisory lock). An attacker that fails alone is recorded in decnet.rollup_failures and the others go on. Returns attackers processed, events read, attackers still dirty, duration. Scheduled every minute by pg_cron (decnet-rollup).';
COMMENT ON FUNCTION @extschema@.behavior_details_of(bigint[], text[], text[], bigint[], json[], double precision, double precision, text) IS
'Per-attacker behaviour details (DECNET decnet/profiler/tools.py, phases.py and decnet/sniffer/fingerprint.py) from its lines given column by column (log ids, event types, services, times in microseconds, fields; taken in log id order), its timing mean/cv and the OS signatures (decnet.os_signature_set()): os_guess, hop_distance, tcp_fingerprint, retransmit_count, kex_order_raw, ssh_client_banners, phase_sequence, tool_guesses.';
COMMENT ON FUNCTION @extschema@.behavior_details(jsonb, double precision, double precision, jsonb) IS
'behavior_details_of with jsonb arguments, as releases up to 0.5.0 call it: kept so their SQL works with a newer library until ALTER EXTENSION decnet UPDATE.';
COMMENT ON FUNCTION @extschema@.keystroke_profile(text, text) IS
'Keystroke profile of session sid from its sessrec JSONL lines (docs/keystrokes.md): SimHash and confidence, inter-key interval mean/stdev/p50/p95, Enter latency p50/p95, pause histogram (< 0.2 s, < 1.5 s, longer), start-of-action latency, max pause, control-key rates, top 32 bigrams, counts, duration, malformed lines. Timing and character classes only.';
COMMENT ON FUNCTION @extschema@.kd_chunk_neighbors(integer, integer) IS
'Every 16-bit value within radius bits of chunk: the multi-index-hashing probes of decnet.similar_sessions().';
COMMENT ON FUNCTION @extschema@.session_recordings_derive() IS
'AFTER INSERT/UPDATE statement trigger of decnet.session_recordings: (re)computes decnet.session_profiles for the written sessions, in sid order.';
COMMENT ON FUNCTION @extschema@.similar_sessions(text, integer) IS
'Sessions whose keystroke SimHash is within max_distance bits (default 8) of session sid''s, nearest first. Uses the four 16-bit chunk indexes (multi-index hashing) up to 19 bits.';
COMMENT ON FUNCTION @extschema@.os_options_pattern_ok(text) IS
'True when the text compiles as an option-order pattern (anchored regular expression); the CHECK of decnet.os_signatures.options.';
COMMENT ON FUNCTION @extschema@.os_signature_match(jsonb, text, integer, integer, integer, integer, text) IS
'Label of the first signature of a jsonb array of decnet.os_signatures rows matching one packet (context syn|synack, ttl, window, mss, wscale, letter-only options); NULL when none does.';
COMMENT ON FUNCTION @extschema@.builtin_os_signatures() IS
'The built-in OS signatures in priority order: the sniffer''s SYN table (DECNET decnet/sniffer/p0f.py), nmap''s option-less SYN, and SYN-ACK rows by TTL bucket. Migration V6 seeds decnet.os_signatures from it.';
COMMENT ON FUNCTION @extschema@.os_signature_set() IS
'decnet.os_signatures as a jsonb array in match order (priority, id).';
COMMENT ON FUNCTION @extschema@.os_match(integer, integer, integer, integer, text, text) IS
'OS label of one packet by decnet.os_signatures (ttl, window, mss, wscale, letter-only options, context syn|synack); NULL when no signature matches.';
COMMENT ON FUNCTION @extschema@.os_signatures_changed() IS
'AFTER statement trigger of decnet.os_signatures: marks every attacker with a TCP fingerprint dirty, so the next rollups redo its OS guess.';
COMMENT ON FUNCTION @extschema@.p0f_line_ok(text) IS
'True when the text parses as a p0f v2 signature line (wwww:ttt:D:ss:OOO:QQ:OS:Details); the CHECK of decnet.os_signatures.p0f.';
COMMENT ON FUNCTION @extschema@.p0f_signatures(text) IS
'The valid signatures of a p0f v2 file in file order: line number, line, OS, flavor, specificity (DECNET decnet/sniffer/p0f.py).';
COMMENT ON FUNCTION @extschema@.import_p0f(text, text, integer) IS
'Adds every valid signature of a p0f v2 file to decnet.os_signatures for a context (syn | synack), more specific ones first from base_priority; returns the count.';
COMMENT ON FUNCTION @extschema@.rir_ranges(text) IS
'Usable ranges of an RIR delegated-statistics file (standard or extended; IPv4 host counts, IPv6 prefix lengths), in file order: line_no, registry, start_ip, end_ip, country_code. Other lines are skipped.';
COMMENT ON FUNCTION @extschema@.iptoasn_ranges(text) IS
'Usable ranges of an iptoasn TSV file (start, end, AS, country, description), in file order; AS 0, bad addresses and reversed ranges are skipped.';
COMMENT ON FUNCTION @extschema@.range_prefix(inet, inet, inet) IS
'The most specific CIDR of the minimal CIDR cover of [start_ip, end_ip] that holds ip, as text; NULL when ip is outside.';
COMMENT ON FUNCTION @extschema@.is_public_address(inet) IS
'False for private, loopback, link-local, multicast, reserved, unspecified and documentation addresses (Python ipaddress definitions), true otherwise.';
COMMENT ON FUNCTION @extschema@.ranges_of(inet[]) IS
'Country code (decnet.country_ranges) and AS number, AS name, BGP prefix and AS country (decnet.asn_ranges) of each address; NULLs where unknown or not public.';
COMMENT ON FUNCTION @extschema@.country_of(inet) IS
'Country code of a public address from decnet.country_ranges (loaded with decnet.load_rir), or NULL.';
COMMENT ON FUNCTION @extschema@.asn_of(inet) IS
'AS number, AS name, BGP prefix and country of a public address from decnet.asn_ranges (loaded with decnet.load_iptoasn); no row when unknown.';
COMMENT ON FUNCTION @extschema@.attacker_enrichment_columns() IS
'The decnet.attackers columns filled by enrichment: kept by rebuild(), ignored by verify().';
COMMENT ON FUNCTION @extschema@.enrich_attackers(inet[]) IS
'Internal: sets country and AS of the given attackers from the loaded ranges; returns the rows changed.';
COMMENT ON FUNCTION @extschema@.load_rir(text) IS
'Loads an RIR delegated-statistics file''s text (unchanged, checked against its version and summary counts): replaces the ranges of its registries, records the load, refreshes every attacker''s country. Refuses a file with no usable range, or one that would shrink a registry to less than half (load_rir_file(file, true) forces that). Returns ranges per registry.';
COMMENT ON FUNCTION @extschema@.load_rir_file(text, boolean) IS
'load_rir(), and with force true it also loads a whole file that shrinks a registry to less than half of what it holds.';
COMMENT ON FUNCTION @extschema@.load_iptoasn(text) IS
'Loads an iptoasn TSV file''s text: replaces the ranges of its address families, records the load, refreshes every attacker''s AS. Refuses a file with no usable range, or one that would shrink a family to less than half (load_iptoasn_file(file, true) forces that). Returns the ranges loaded.';
COMMENT ON FUNCTION @extschema@.load_iptoasn_file(text, boolean) IS
'load_iptoasn(), and with force true it also loads a file that shrinks an address family to less than half of what it holds.';
COMMENT ON FUNCTION @extschema@.rir_file_problem(text) IS
'Why an RIR delegated-statistics file is not whole (no version line, summary or version counts that disagree with its records), or NULL.';
COMMENT ON FUNCTION @extschema@.check_enrichment_load(text, bigint, bigint, boolean) IS
'Internal (loaders): raises when a load holds no range, or would shrink a source to less than half of what it holds unless forced.';
COMMENT ON FUNCTION @extschema@.enrich_ptr(inet) IS
'Reverse DNS name of one address (hickory-resolver), or NULL: no PTR, a DNS failure, a timeout (decnet.ptr_timeout_ms), a non-public address (no DNS traffic) or decnet.ptr_enabled off. Never raises for a DNS problem; statement_timeout and cancel stop it.';
COMMENT ON FUNCTION @extschema@.resolve_ptrs(text[]) IS
'Reverse DNS of many addresses, decnet.ptr_concurrency at a time: (ip, ptr), ptr NULL without an answer; no rows when decnet.ptr_enabled is off.';
COMMENT ON FUNCTION @extschema@.resolve_pending_ptr(integer) IS
'Resolves attackers never attempted (oldest first) and stores ptr_record and ptr_attempted_at; no row lock during DNS. Scheduled by pg_cron (decnet-ptr). Returns attempted, resolved, remaining.';
-- identities (issue 8, docs/identities.md)
COMMENT ON FUNCTION @extschema@.statement_probes() IS 'Internal: takes the current statement''s prober hash observations.';
COMMENT ON FUNCTION @extschema@.statement_ipv6_leaks() IS 'Internal: takes the current statement''s IPv6 link-local leaks.';
COMMENT ON FUNCTION @extschema@.probe_event_types() IS 'Event types whose hash is tracked for rotation: the prober''s jarm_fingerprint, hassh_fingerprint, tcpfp_fingerprint and the sniffer''s tls_client_hello (client JA3 per destination port).';
COMMENT ON FUNCTION @extschema@.probe_observation(text, jsonb) IS 'The (probe_type, port, hash) a stored line observes: zero or one row (no row for an empty hash or a bad port).';
COMMENT ON FUNCTION @extschema@.leaked_link_local(text, jsonb) IS 'The link-local (fe80::/10) source of an ipv6_link_local_leak line, else NULL.';
COMMENT ON FUNCTION @extschema@.leak_attacker_v4(jsonb) IS 'The IPv4 address a leak line ties its link-local source to (attacker_v4), else NULL.';
COMMENT ON FUNCTION @extschema@.ipv6_iid_kind(inet) IS 'eui64 when the IPv6 interface id embeds a MAC (ff:fe), stable_privacy for any other IPv6 address, unknown otherwise (DECNET decnet/sniffer/fingerprint.py).';
COMMENT ON FUNCTION @extschema@.ipv6_mac_oui(inet) IS 'The OUI (universal/local bit restored) of an EUI-64 interface id, else NULL.';
COMMENT ON FUNCTION @extschema@.ipv6_eui64_mac(inet) IS 'The MAC address an EUI-64 interface id embeds, else NULL.';
COMMENT ON FUNCTION @extschema@.fingerprint_summary(jsonb) IS 'Sorted distinct JA3, JA4, HASSH, TLS certificate SHA-256, JA4H and JA4-QUIC values of a list of bounty rows or payloads (DECNET decnet/profiler/identity_rollup.py); a family without values is null.';
COMMENT ON FUNCTION @extschema@.identity_similarity(jsonb, jsonb) IS 'Identity edge weight of two attacker observations given as 0.5.0 jsonb documents (the passes use decnet.identity_observation): 1.0 shared strong fingerprint (with the veto), 0.6 command Jaccard per phase, 0.2 credential Jaccard, 0.05 same AS, 0.6 keystroke rhythm (DECNET decnet/clustering/impl/, H.5).';
COMMENT ON FUNCTION @extschema@.identity_edge(jsonb, jsonb) IS 'Whether identity_similarity reaches the edge threshold (1.0).';
COMMENT ON FUNCTION @extschema@.campaign_similarity(jsonb, jsonb) IS 'Campaign edge weight of two identities given as 0.5.0 jsonb documents (the passes use decnet.campaign_features): 1.0 decky handoff, 1.0 shared infrastructure, 0.4 temporal overlap, 0.1 cohort, 0.6 keystroke rhythm (DECNET decnet/clustering/campaign/impl/).';
COMMENT ON FUNCTION @extschema@.campaign_edge(jsonb, jsonb) IS 'Whether campaign_similarity reaches the edge threshold (1.0).';
COMMENT ON FUNCTION @extschema@.command_phase(text) IS 'Kill-chain phase a command points to (discovery, persistence, command_and_control, lateral_movement), or NULL.';
COMMENT ON FUNCTION @extschema@.connected_components(text[], text[]) IS 'Connected components of the graph with edges a[i]-b[i]: each node with the smallest node of its component.';
COMMENT ON FUNCTION @extschema@.keep_previous_groups(text[], text[]) IS 'Internal: for a fresh clustering (component, previous group per member), which component claims and which keeps each previous group.';
COMMENT ON FUNCTION @extschema@.merge_probe_observations() IS 'Internal (ingest trigger): merges the statement''s prober observations into fingerprint_state and fingerprint_rotations and notifies decnet_rotation.';
COMMENT ON FUNCTION @extschema@.merge_ipv6_leaks() IS 'Internal (ingest trigger): merges the statement''s IPv6 leaks and refreshes the five leak columns of their attackers.';
COMMENT ON FUNCTION @extschema@.identity_signal_max_attackers() IS 'A signal value shared by more attackers than this (a popular tool''s JA3, a common command) links nobody.';
COMMENT ON FUNCTION @extschema@.json_text_array(jsonb) IS 'A jsonb array of strings as text[]; NULL for anything else.';
COMMENT ON FUNCTION @extschema@.identity_signals_of(inet[]) IS 'Internal: the identity signals of some attackers (strong fingerprints, EUI-64 MACs, payload hashes and C2 servers, and command, credential and keystroke-chunk candidate keys).';
COMMENT ON FUNCTION @extschema@.identity_observations(inet[]) IS 'Internal: what the identity rules compare, per attacker, as decnet.identity_observation.';
COMMENT ON TYPE @extschema@.identity_observation IS 'What the identity rules compare of one attacker: strong fingerprints (kind:value), payload hashes, C2 servers, commands with the kill-chain phase of each, credentials as principal and secret SHA-256, AS and keystroke centroid. Parallel arrays have one element per command or credential.';
COMMENT ON TYPE @extschema@.campaign_features IS 'What the campaign rules compare of one identity: per decky its first and last kill-chain phase with their times, the members'' activity windows, cohort (asn:, decky:, tool:), infrastructure (payload:, c2:) and keystroke centroid. Parallel arrays have one element per decky or member.';
COMMENT ON FUNCTION @extschema@.refresh_identities(uuid[]) IS 'Internal: recomputes the member count, time span, fingerprints, leaked interface ids and keystroke centroid of identities.';
COMMENT ON FUNCTION @extschema@.identity_edges(inet[]) IS 'Internal: identity edges touching some attackers (NULL: all), from candidate pairs sharing a rare signal value.';
COMMENT ON FUNCTION @extschema@.resolve_identities(inet[]) IS 'Incremental identity pass for some attackers (run by rollup()): refreshes their signals, finds their edges, merges the identities they join (smallest uuid wins). Returns attackers, edges, new identities, merges.';
COMMENT ON FUNCTION @extschema@.recluster_identities() IS 'Full identity pass over every attacker, keeping identity ids stable; splits identities whose evidence is gone. Scheduled hourly by pg_cron (decnet-identities).';
COMMENT ON FUNCTION @extschema@.resolve_identity(uuid) IS 'The live identity an identity uuid stands for now, following merged_into.';
COMMENT ON FUNCTION @extschema@.identity_of(inet) IS 'The identity of an attacker address, or NULL before a rollup resolved it.';
COMMENT ON FUNCTION @extschema@.cluster_campaigns() IS 'Groups live identities into campaigns (DECNET decnet/clustering/campaign/impl/) from scratch, keeping campaign ids stable. Scheduled every 10 minutes by pg_cron (decnet-campaigns).';
-- operations (issue 9)
COMMENT ON FUNCTION @extschema@.stats() IS 'One row for operators: lines ingested and flagged, attackers, live identities, dirty and PTR backlogs, how long the oldest dirty attacker has waited, lines waiting in the merge queue (decnet.merge_behind_ms), last rollup time and duration, time of the last line and idle time since, stale enrichment data, attackers whose rollup failed, pg_cron jobs missing for this database, alert deliveries not yet acknowledged and how long the oldest has waited (decnet notify).';
COMMENT ON FUNCTION @extschema@.require_migrated() IS 'Raises object_not_in_prerequisite_state, with a hint to run decnet migrate, when the tables of the migrations are missing.';
COMMENT ON FUNCTION @extschema@.cron_jobs() IS 'The pg_cron jobs decnet needs: name, schedule, command.';
COMMENT ON FUNCTION @extschema@.missing_cron_jobs() IS 'The jobs of cron_jobs() pg_cron does not run for this database (all of them where pg_cron is not installed).';
COMMENT ON FUNCTION @extschema@.schedule_jobs() IS 'Schedules (creates or updates) every job of cron_jobs() in pg_cron; in a database pg_cron does not serve it raises, with the cron.schedule_in_database() calls to run there in the hint.';
COMMENT ON FUNCTION @extschema@.notify(text, jsonb) IS 'Internal: writes a notification payload to decnet.notifications and NOTIFYs the channel with its seq only (no channel privileges exist in PostgreSQL).';
COMMENT ON FUNCTION @extschema@.rollup_attackers(inet[], jsonb) IS 'Internal (rollup): recomputes behaviour and identity signals of these attackers from their latest rollup_lines_max() lines; returns the events seen.';
COMMENT ON FUNCTION @extschema@.rollup_lines_max() IS 'The most lines of one attacker a rollup reads (its latest by log id): memory stays bounded whatever its line count.';
COMMENT ON FUNCTION @extschema@.index_key(text) IS 'A value bounded for a keyed column: itself when at most 256 bytes, else a prefix and the SHA-256 of the whole value (equal values, equal keys).';
COMMENT ON FUNCTION @extschema@.log_partitions() IS 'The partitions of decnet.logs and their received_at ranges, oldest first (the default partition last).';
COMMENT ON FUNCTION @extschema@.create_log_partitions() IS 'Creates the partitions of decnet.logs for the current and the next premake periods (decnet.log_partitioning) that do not exist; moves matching lines out of the default partition. Scheduled daily by pg_cron (decnet-partitions). Returns the partitions created.';
COMMENT ON FUNCTION @extschema@.drop_logs_before(timestamptz) IS 'Retention: drops the partitions of decnet.logs received entirely before the cutoff. Derived tables keep their rows; the affected attackers go to decnet.truncated_attackers and each drop to decnet.log_retention.';
COMMENT ON FUNCTION @extschema@.history_dropped(jsonb) IS 'Internal (verify): whether a derived row names an attacker some of whose lines retention dropped.';
COMMENT ON FUNCTION @extschema@.c2_endpoints(text) IS 'The servers a command reaches out to, as host:port (http/https/ftp/tftp URLs with default ports, bash /dev/tcp/host/port).';
COMMENT ON FUNCTION @extschema@.mark_dirty(inet[]) IS 'Internal: marks attackers for the next rollup (an upsert that row-locks each mark until the caller commits).';
COMMENT ON FUNCTION @extschema@.service_families(text[]) IS
'One attacker''s services from its programs (APP-NAMEs): sshd is ssh, login and telnetd telnet, smtp_relay smtp; auth-helper, sessrec, bash, sudo, su and systemd-journal join the attacker''s one login service (ssh or telnet), ssh otherwise. Sorted, distinct (correction #55).';
COMMENT ON FUNCTION @extschema@.family_buckets(text[], text[]) IS
'One attacker''s interacted and scanned services (families) from parallel arrays of decnet.attacker_services.service and bucket: a family takes the best bucket of its programs.';
COMMENT ON PROCEDURE @extschema@.rollup_backlog(integer, integer) IS
'The scheduled rollup (pg_cron decnet-rollup, every minute): CALL it to drain the whole dirty backlog in batches of batch_size attackers, each committed on its own, for up to budget_ms. Stops early when nothing is left; while another pass holds the rollup lock or every dirty attacker is still being written, it waits a second and tries again.';
COMMENT ON FUNCTION @extschema@.identity_link_reasons(@extschema@.identity_observation, @extschema@.identity_observation) IS 'Why two attacker observations are (or are not) one actor: one row per shared signal behind each contributing tier (high: a strong fingerprint, or a payload hash or C2 server; medium: the commands of the best phase; low: credentials; very_low: the AS; keystroke: the rhythm), with the tier''s weight. The distinct tiers'' weights add up to identity_similarity.';
COMMENT ON FUNCTION @extschema@.store_identity_links(inet[], inet[], inet[]) IS 'Internal (the identity passes): stores why each edge holds in decnet.identity_link_signals, replacing the scope''s rows (NULL: all).';
COMMENT ON FUNCTION @extschema@.identity_links(uuid) IS 'The links inside an identity (merged ids are followed): for each pair of its addresses an edge joined, every shared signal (tier, kind, value) and the tier''s weight. docs/identities.md.';
COMMENT ON FUNCTION @extschema@.identity_group_edges(bigint[], text[], boolean[], text[], @extschema@.identity_observation[]) IS 'Internal (identity_edges): attackers[i] shares the signal value numbered groups[i]; every pair inside a group with a member in scope is a candidate, weighed once with the observations (ips[k], observations[k]). Returns the pairs that reach the edge threshold.';
COMMENT ON FUNCTION @extschema@.campaign_edge_pairs(text[], text[], text[], @extschema@.campaign_features[]) IS 'Internal (cluster_campaigns): the candidate pairs (a[i], b[i]) of identities whose features reach the campaign edge threshold, each identity''s features (ids[k], features[k]) read once.';
COMMENT ON FUNCTION @extschema@.campaign_handoff_rule() IS 'The campaign hand-off rule as Rust states it: the phases an identity leaves a decky in (leaving), those the next one starts there with (arriving), and the window in seconds. cluster_campaigns pre-filters candidate pairs with it.';
-- sharing (issue 21, docs/sharing.md)
COMMENT ON FUNCTION @extschema@.rfc3339(timestamptz) IS 'A time as RFC 3339 UTC with milliseconds (2026-05-01T00:00:01.000Z), as STIX and MISP want it.';
COMMENT ON FUNCTION @extschema@.export_facts(timestamptz, timestamptz, inet[]) IS 'What the exports share of each attacker active in [since, until) (or of the listed addresses): address, times, totals, services, deckies, behaviour, country, AS, fingerprints and a multi-address identity. One JSON object per attacker.';
COMMENT ON FUNCTION @extschema@.export_scope(timestamptz, timestamptz, inet[]) IS 'Names an export (window and addresses) independently of the session time zone; a MISP event''s uuid is made from it.';
COMMENT ON FUNCTION @extschema@.export_stix(timestamptz, timestamptz, inet[]) IS 'A STIX 2.1 bundle of the attackers active in [since, until) or of the listed addresses: addresses, indicators, observed-data, fingerprint indicators, identities as infrastructure. Ids are UUIDv5: exporting twice gives the same ids. docs/sharing.md.';
COMMENT ON FUNCTION @extschema@.export_misp(timestamptz, timestamptz, inet[]) IS 'A MISP event (PyMISP / MISP import JSON) of the same attackers: ip-src, ja3-fingerprint-md5, hassh-md5, x509-fingerprint-sha256 and JA4 text attributes, with tags. docs/sharing.md.';
COMMENT ON FUNCTION @extschema@.export_csv(text) IS 'CSV lines, header first, of attackers, credentials (hashes, never secrets) or smtp_domains; attacker-written fields are defused against spreadsheet formulas.';
COMMENT ON FUNCTION @extschema@.export_jsonl(text) IS 'A table or view of schema decnet as JSON Lines (one object per row), read with the caller''s rights.';
COMMENT ON FUNCTION @extschema@.raise_alerts(inet[]) IS 'Internal (rollup, identity pass): checks these attackers against every enabled decnet.alert_rules row; each new match goes to decnet.alerts once per rule and key and to decnet.alert_outbox for every enabled webhook. Returns the alerts raised.';
COMMENT ON FUNCTION @extschema@.stix_bundle(jsonb) IS 'Internal (export_stix): the STIX 2.1 bundle of a JSON array of export_facts objects.';
COMMENT ON FUNCTION @extschema@.misp_event(jsonb, text) IS 'Internal (export_misp): the MISP event of a JSON array of export_facts objects; the scope text fixes its uuid.';
COMMENT ON FUNCTION @extschema@.csv_line(text[]) IS 'One CSV line of the fields (NULL: empty), quoted as RFC 4180 says; a field that starts like a formula gets a leading quote.';
COMMENT ON FUNCTION @extschema@.export_navigator(timestamptz, timestamptz, inet[]) IS 'An ATT&CK Navigator layer (4.5, Enterprise) of the attackers active in [since, until) or of the listed addresses: per technique, how many attackers showed it in their kept commands, credentials or scans. docs/sharing.md.';
COMMENT ON FUNCTION @extschema@.navigator_layer(jsonb, text) IS 'Internal (export_navigator): the Navigator layer of a JSON array of attacker activity (commands, credentials, scanned).';
