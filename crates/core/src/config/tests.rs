//! The collection config's tests: the files in `src/config/testdata` and the rules of each key.
use super::*;
use crate::secret::Secret;
use crate::sources::laaffic::client::LaafficCredentials;
use crate::sources::laaffic::config::LaafficConfig;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/testdata");

fn flags() -> Flags {
    Flags {
        interval: Duration::from_secs(60),
        sobot_base_url: "https://www.sobot.com".to_string(),
        laaffic_base_url: "https://api.laaffic.com".to_string(),
        shard: Shard::default(),
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Credential files without a disk.
fn files(path: &Path) -> Result<String, io::Error> {
    let content = match path.to_str().unwrap_or("") {
        "/run/secrets/sobot_app_id" => "acme-from-file\n",
        "/run/secrets/sobot_app_key" => "s3cret\n",
        "testdata/secrets/sobot_app_key" => "relative-s3cret\n",
        "/run/secrets/laaffic_api_key" => "lk\n",
        "/run/secrets/laaffic_api_secret" => "ls\n",
        "/run/secrets/empty" => " \n",
        "/run/secrets/forbidden" => return Err(io::ErrorKind::PermissionDenied.into()),
        "/run/secrets/platform_union_key" => "union-s3cret\n",
        _ => return Err(io::ErrorKind::NotFound.into()),
    };
    Ok(content.to_string())
}

/// A file of `testdata`, named `testdata/NAME` in errors, with no environment.
fn testdata(name: &str) -> Result<CollectionConfig, ConfigError> {
    let yaml = std::fs::read_to_string(Path::new(TESTDATA).join(name)).expect("testdata file");
    from_yaml(&yaml, Some(&Path::new("testdata").join(name)), &flags(), &no_env, &files)
}

/// Every bad file of `testdata` and the whole line it gives (the process prints it after
/// `sobot_exporter: ` and exits 2). No environment; credential files as in [`files`]. The lists of
/// known keys and collectors end with the tests' example source's, which the registry holds here.
const BAD: &[(&str, &str)] = &[
    (
        "bad_platform_no_union_code.yml",
        "testdata/bad_platform_no_union_code.yml: platform.union_code: required for the platform",
    ),
    (
        "bad_platform_no_key.yml",
        "the platform needs its union key: set SOBOT_PLATFORM_UNION_KEY or \
         testdata/bad_platform_no_key.yml: platform.union_key_file",
    ),
    (
        "bad_platform_group_collector.yml",
        "testdata/bad_platform_group_collector.yml: platform.collectors: group_human_session cannot \
         run for tenants (per-group collectors need a tenant's groups; Laaffic is not a Sobot tenant's)",
    ),
    (
        "bad_platform_pattern.yml",
        "testdata/bad_platform_pattern.yml: platform.tenants.include_names: invalid regular expression: \
         found open group without closing ')'",
    ),
    (
        "bad_platform_interval.yml",
        "testdata/bad_platform_interval.yml: platform.interval: invalid duration (value not shown) (e.g. \
         5m)",
    ),
    (
        "bad_unknown_key.yml",
        "testdata/bad_unknown_key.yml: unknown key `bogus` at line 2, column 1 (known: timezone, \
         windows, collectors, groups, agents, max_agents, collector_windows, agent_score_evaluations, \
         quality, sobot, laaffic, platform, example)",
    ),
    (
        "bad_key_typo.yml",
        "testdata/bad_key_typo.yml: unknown key `timzone` at line 1, column 1; did you mean `timezone`?",
    ),
    (
        "bad_inline_secret.yml",
        "testdata/bad_inline_secret.yml: sobot.app_key at line 2, column 3: inline secrets are refused \
         on purpose (a config file is read by many and kept in version control): put it in a file \
         named by sobot.app_key_file, or set SOBOT_APP_KEY",
    ),
    (
        "bad_inline_laaffic_secret.yml",
        "testdata/bad_inline_laaffic_secret.yml: laaffic.api_secret at line 2, column 3: inline \
         secrets are refused on purpose (a config file is read by many and kept in version control): \
         put it in a file named by laaffic.api_secret_file, or set LAAFFIC_API_SECRET",
    ),
    (
        "bad_inline_union_key.yml",
        "testdata/bad_inline_union_key.yml: platform.union_key at line 3, column 3: inline secrets \
         are refused on purpose (a config file is read by many and kept in version control): put it \
         in a file named by platform.union_key_file, or set SOBOT_PLATFORM_UNION_KEY",
    ),
    (
        "bad_key_as_a_key.yml",
        "testdata/bad_key_as_a_key.yml: sobot: unknown key that looks like a credential (not shown) at \
         line 2, column 3: secrets are read from files or the environment only (see --help)",
    ),
    (
        "bad_yaml.yml",
        "testdata/bad_yaml.yml: windows: the `[` at line 1, column 10 is never closed: end the list with \
         `]` (entries may go on several lines, each but the last followed by a comma)",
    ),
    ("bad_type.yml", "testdata/bad_type.yml: max_agents: a whole number is needed at line 1, column 13"),
    (
        "bad_key_in_max_agents.yml",
        "testdata/bad_key_in_max_agents.yml: max_agents: a whole number is needed at line 1, column 13",
    ),
    (
        "bad_bool.yml",
        "testdata/bad_bool.yml: platform.tenants_on_metrics: `true` or `false` is needed at line 2, \
         column 23",
    ),
    (
        "bad_windows_scalar.yml",
        "testdata/bad_windows_scalar.yml: windows: a list is needed, e.g. `windows: [today]` at line 1, \
         column 10",
    ),
    (
        "bad_agents_scalar.yml",
        "testdata/bad_agents_scalar.yml: agents: a list is needed, e.g. `agents: [AGENT_ID]` at line 3, \
         column 9",
    ),
    (
        "bad_section_scalar.yml",
        "testdata/bad_section_scalar.yml: sobot: a section of `key: value` lines is needed, not a single \
         value or a list at line 1, column 8",
    ),
    (
        "bad_timeout_list.yml",
        "testdata/bad_timeout_list.yml: sobot.timeout: a single value is needed, not a list or a section \
         at line 2, column 12",
    ),
    (
        "bad_top_level_list.yml",
        "testdata/bad_top_level_list.yml: the file must hold settings as `key: value` lines, e.g. \
         `timezone: Asia/Shanghai` at line 1, column 1",
    ),
    (
        "bad_two_documents.yml",
        "testdata/bad_two_documents.yml: the file holds a second YAML document (a `---` line) at line 3, \
         column 1; a config is one document",
    ),
    ("bad_key_twice.yml", "testdata/bad_key_twice.yml: windows is set twice; keep one at line 2, column 1"),
    (
        "bad_alias_bomb.yml",
        "testdata/bad_alias_bomb.yml: the file is too large or too deeply nested for a config file (too \
         many entries, aliases or levels); write it out plainly",
    ),
    (
        "bad_timezone.yml",
        "testdata/bad_timezone.yml: timezone: unknown time zone \"Mars/Olympus\"; expected an IANA name, \
         e.g. Asia/Shanghai",
    ),
    (
        "bad_timezone_city.yml",
        "testdata/bad_timezone_city.yml: timezone: unknown time zone \"Beijing\"; did you mean \
         Asia/Shanghai?",
    ),
    (
        "bad_key_in_timezone.yml",
        "testdata/bad_key_in_timezone.yml: timezone: unknown time zone (value not shown); expected an \
         IANA name, e.g. Asia/Shanghai",
    ),
    (
        "bad_key_in_app_key_file.yml",
        "testdata/bad_key_in_app_key_file.yml: sobot.app_key_file: cannot read the file named there \
         (value not shown): no such file; expected the path of a file holding the secret, e.g. \
         /run/secrets/sobot_app_key (never the secret itself)",
    ),
    (
        "bad_key_in_windows.yml",
        "testdata/bad_key_in_windows.yml: windows: unknown window (value not shown) (known: today, \
         yesterday)",
    ),
    (
        "bad_key_in_collectors.yml",
        "testdata/bad_key_in_collectors.yml: collectors: unknown collector (value not shown) (known: \
         robot_session, robot_satisfaction, human_session, human_satisfaction, customer_session, \
         message_stats, get_service_data, human_duration, group_human_session, group_human_satisfaction, \
         quality_result, chat_result, call_result, laaffic_seats, example_shop)",
    ),
    (
        "bad_key_in_groups.yml",
        "testdata/bad_key_in_groups.yml: groups: entry 1 is not one id (value not shown): one id per \
         entry, without blanks, spaces or commas (the documents' ids are 32 hex digits)",
    ),
    (
        "bad_key_in_agents.yml",
        "testdata/bad_key_in_agents.yml: agents: entries 1 and 2 are the same (value not shown); list \
         each once",
    ),
    (
        "bad_key_in_duration.yml",
        "testdata/bad_key_in_duration.yml: sobot.timeout: invalid duration (value not shown) (e.g. 15s)",
    ),
    (
        "bad_key_in_quality_interval.yml",
        "testdata/bad_key_in_quality_interval.yml: quality.interval: invalid duration (value not shown) \
         (e.g. 5m)",
    ),
    (
        "bad_key_in_platform_interval.yml",
        "testdata/bad_key_in_platform_interval.yml: platform.interval: invalid duration (value not \
         shown) (e.g. 5m)",
    ),
    (
        "bad_key_in_platform_collectors.yml",
        "testdata/bad_key_in_platform_collectors.yml: platform.collectors: unknown collector (value not \
         shown) (e.g. robot_session)",
    ),
    (
        "bad_window.yml",
        "testdata/bad_window.yml: windows: unknown window \"last_week\" (known: today, yesterday)",
    ),
    ("bad_no_window.yml", "testdata/bad_no_window.yml: windows: at least one window is needed"),
    ("bad_window_twice.yml", "testdata/bad_window_twice.yml: windows: \"today\" is listed twice"),
    (
        "bad_agent_id.yml",
        "testdata/bad_agent_id.yml: agents: entry 1 is not one id (value not shown): one id per entry, \
         without blanks, spaces or commas (the documents' ids are 32 hex digits)",
    ),
    (
        "bad_group_id.yml",
        "testdata/bad_group_id.yml: groups: entry 1 is not one id (value not shown): one id per entry, \
         without blanks, spaces or commas (the documents' ids are 32 hex digits)",
    ),
    ("bad_max_agents.yml", "testdata/bad_max_agents.yml: max_agents: must be at least 1"),
    (
        "bad_collector.yml",
        "testdata/bad_collector.yml: collectors: unknown collector \"nope\" (known: robot_session, \
         robot_satisfaction, human_session, human_satisfaction, customer_session, message_stats, \
         get_service_data, human_duration, group_human_session, group_human_satisfaction, \
         quality_result, chat_result, call_result, laaffic_seats, example_shop)",
    ),
    (
        "bad_group_collector_without_groups.yml",
        "testdata/bad_group_collector_without_groups.yml: collectors: group_human_session needs \
         groups to be configured",
    ),
    (
        "bad_collector_twice.yml",
        "testdata/bad_collector_twice.yml: collectors: \"robot_session\" is listed twice",
    ),
    (
        "bad_group_twice.yml",
        "testdata/bad_group_twice.yml: groups: entries 1 and 2 are the same (value not shown); list each \
         once",
    ),
    (
        "bad_agent_twice.yml",
        "testdata/bad_agent_twice.yml: agents: entries 1 and 3 are the same (value not shown); list each \
         once",
    ),
    (
        "bad_quality_and_chat.yml",
        "testdata/bad_quality_and_chat.yml: collectors: quality_result and chat_result both give \
         the chat channel's inspections; choose one",
    ),
    (
        "bad_quality_interval.yml",
        "testdata/bad_quality_interval.yml: quality.interval: invalid duration \"50ms\" (e.g. 5m)",
    ),
    ("bad_page_size.yml", "testdata/bad_page_size.yml: quality.page_size: must be between 1 and 10000"),
    ("bad_max_pages.yml", "testdata/bad_max_pages.yml: quality.max_pages: must be at least 1"),
    (
        "bad_sobot_timeout.yml",
        "testdata/bad_sobot_timeout.yml: sobot.timeout: invalid duration (value not shown) (e.g. 15s)",
    ),
    (
        "bad_sobot_connect_timeout.yml",
        "testdata/bad_sobot_connect_timeout.yml: sobot.connect_timeout: invalid duration \"0s\" \
         (e.g. 15s)",
    ),
    ("bad_rate_limit.yml", "testdata/bad_rate_limit.yml: sobot.rate_limit_per_minute: must be at least 1"),
    (
        "bad_laaffic_timeout.yml",
        "testdata/bad_laaffic_timeout.yml: laaffic.timeout: invalid duration \"1.5s\" (e.g. 15s)",
    ),
    (
        "bad_missing_credentials.yml",
        "missing credentials: set SOBOT_APP_ID and SOBOT_APP_KEY (or sobot.app_id and \
         sobot.app_key_file in --config.file) for Sobot, LAAFFIC_API_KEY and LAAFFIC_API_SECRET (or \
         laaffic.api_key_file and laaffic.api_secret_file) for Laaffic, or run with --demo",
    ),
    (
        "bad_app_id_twice.yml",
        "testdata/bad_app_id_twice.yml: sobot.app_id and testdata/bad_app_id_twice.yml: \
         sobot.app_id_file are both set; use one",
    ),
    (
        "bad_key_file_missing.yml",
        "testdata/bad_key_file_missing.yml: sobot.app_key_file: cannot read /run/secrets/missing: \
         no such file",
    ),
    (
        "bad_key_file_forbidden.yml",
        "testdata/bad_key_file_forbidden.yml: sobot.app_key_file: cannot read \
         /run/secrets/forbidden: permission denied",
    ),
    (
        "bad_key_file_empty.yml",
        "testdata/bad_key_file_empty.yml: sobot.app_key_file: /run/secrets/empty is empty",
    ),
    (
        "bad_sobot_half.yml",
        "the Sobot app id is set but the Sobot app key (SOBOT_APP_KEY or sobot.app_key_file) is missing",
    ),
    ("bad_laaffic_half.yml", "the Laaffic API secret is set but the Laaffic API key is missing"),
    (
        "bad_sobot_collector_without_credentials.yml",
        "testdata/bad_sobot_collector_without_credentials.yml: collectors: robot_session needs \
         Sobot credentials",
    ),
    (
        "bad_laaffic_collector_without_credentials.yml",
        "testdata/bad_laaffic_collector_without_credentials.yml: collectors: laaffic_seats needs \
         Laaffic credentials",
    ),
    ("bad_no_collector.yml", "testdata/bad_no_collector.yml: collectors: no collector to run"),
    (
        "bad_collector_windows_unknown.yml",
        "testdata/bad_collector_windows_unknown.yml: collector_windows: unknown collector \
         \"get_servce_data\"; did you mean get_service_data?",
    ),
    (
        "bad_collector_windows_not_running.yml",
        "testdata/bad_collector_windows_not_running.yml: collector_windows: laaffic_seats is not \
         collected (not in collectors, or its vendor has no credentials): remove it here or collect it",
    ),
    (
        "bad_collector_windows_window.yml",
        "testdata/bad_collector_windows_window.yml: collector_windows.get_service_data: unknown window \
         \"last_week\" (known: today, yesterday)",
    ),
    (
        "bad_collector_windows_empty.yml",
        "testdata/bad_collector_windows_empty.yml: collector_windows.human_duration: at least one \
         window is needed",
    ),
    (
        "bad_collector_windows_scalar.yml",
        "testdata/bad_collector_windows_scalar.yml: collector_windows.get_service_data: a list is \
         needed, e.g. `get_service_data: [today]` at line 2, column 21",
    ),
    ("bad_max_seats.yml", "testdata/bad_max_seats.yml: laaffic.max_seats: must be at least 1"),
    (
        "bad_part_scores.yml",
        "testdata/bad_part_scores.yml: quality.part_scores: `true` or `false` is needed at line 2, \
         column 16",
    ),
    // The parser notices an unclosed bracket at the next key, a line late: the bracket is named.
    (
        "bad_unclosed_bracket.yml",
        "testdata/bad_unclosed_bracket.yml: windows: the `[` at line 1, column 10 is never closed: end \
         the list with `]` (entries may go on several lines, each but the last followed by a comma)",
    ),
    (
        "bad_unclosed_brace.yml",
        "testdata/bad_unclosed_brace.yml: sobot: the `{` at line 1, column 8 is never closed: end the \
         section with `}` (entries may go on several lines, each but the last followed by a comma)",
    ),
    (
        "bad_interval.yml",
        "testdata/bad_interval.yml: unknown key `interval` at line 1, column 1: the collection interval \
         is a flag, --collect.interval (e.g. --collect.interval=60s); `interval:` is a key of the \
         quality and platform sections only",
    ),
    (
        "bad_key_case.yml",
        "testdata/bad_key_case.yml: sobot: unknown key (value not shown) at line 2, column 3; did you \
         mean `timeout`?",
    ),
];

/// Keys of other shapes than `KEY` in wrong fields: with dashes (no long run of letters and
/// digits) and Laaffic's (8 letters and digits). Never quoted.
const OTHER_KEYS: &[(&str, &str)] = &[
    (
        "bad_dashed_key_in_timezone.yml",
        "testdata/bad_dashed_key_in_timezone.yml: timezone: unknown time zone (value not shown); expected \
         an IANA name, e.g. Asia/Shanghai",
    ),
    (
        "bad_dashed_key_in_groups.yml",
        "testdata/bad_dashed_key_in_groups.yml: groups: entry 2 is not one id (value not shown): one id \
         per entry, without blanks, spaces or commas (the documents' ids are 32 hex digits)",
    ),
    (
        "bad_dashed_key_in_app_key_file.yml",
        "testdata/bad_dashed_key_in_app_key_file.yml: sobot.app_key_file: cannot read the file named \
         there (value not shown): no such file; expected the path of a file holding the secret, e.g. \
         /run/secrets/sobot_app_key (never the secret itself)",
    ),
    (
        "bad_laaffic_key_in_windows.yml",
        "testdata/bad_laaffic_key_in_windows.yml: windows: unknown window (value not shown) (known: \
         today, yesterday)",
    ),
    (
        "bad_laaffic_key_in_duration.yml",
        "testdata/bad_laaffic_key_in_duration.yml: laaffic.timeout: invalid duration (value not shown) \
         (e.g. 15s)",
    ),
    (
        "bad_laaffic_key_in_timezone.yml",
        "testdata/bad_laaffic_key_in_timezone.yml: timezone: unknown time zone (value not shown); \
         expected an IANA name, e.g. Asia/Shanghai",
    ),
    (
        "bad_laaffic_key_in_groups.yml",
        "testdata/bad_laaffic_key_in_groups.yml: groups: entries 2 and 3 are the same (value not shown); \
         list each once",
    ),
];

#[test]
fn keys_of_any_shape_in_wrong_fields_are_not_printed() {
    for (name, want) in OTHER_KEYS {
        let e = testdata(name).expect_err(name);
        assert_eq!(e.0, *want, "{name}");
        assert!(!e.0.contains("SbtKey") && !e.0.contains("bDqJFiq9"), "{name}: {e}");
    }
}

/// Every good file of `testdata`; [`good_files_load`] checks values of each.
const GOOD: &[&str] = &["good_minimal.yml", "good_full.yml", "good_laaffic_only.yml", "good_platform.yml"];

#[test]
fn bad_files_give_their_error_line() {
    for (name, want) in BAD {
        let e = testdata(name).expect_err(name);
        assert_eq!(e.0, *want, "{name}");
        assert!(!e.0.contains('\n'), "{name}: {e:?} is not one line");
        assert!(!e.0.contains("SuperSecret123"), "{name}: the error quotes the file: {e}");
        assert!(!e.0.contains(KEY), "{name}: the error quotes a key: {e}");
    }
}

/// The app key the `bad_key_*` files put where it does not belong.
const KEY: &str = "8748cd7faeb1401ab3d97cf45013afc4";

#[test]
fn library_internals_stay_out_of_errors() {
    let parse_line = |yaml: &str| parse(yaml, Some(Path::new("c.yml"))).expect_err("refused").0;
    let too_large = "c.yml: the file is too large or too deeply nested for a config file (too many \
                     entries, aliases or levels); write it out plainly";
    // More entries than the parser's budget (it said `budget breached: Nodes { nodes: 250001 }`).
    let many = format!("groups: [{}]\n", vec!["g"; 250_001].join(","));
    assert_eq!(parse_line(&many), too_large);
    // Nested past the parser's own limit (it said `recursion limit exceeded`).
    let deep = format!("windows: {}{}\n", "[".repeat(2000), "]".repeat(2000));
    assert_eq!(parse_line(&deep), too_large);
    for yaml in ["windows: [today]\n---\n", "groups: [~]\n", "windows: [today]\nwindows: [today]\n"] {
        let line = parse_line(yaml);
        for internal in ["from_str", "Option<", "Options", "DuplicateKeyPolicy", "{"] {
            assert!(!line.contains(internal), "{yaml:?}: {line}");
        }
    }
}

#[test]
fn secrets_of_the_files_named_are_not_printed() {
    // A union key that does not look like one, copied into the wrong field: redacted all the same.
    let read = |p: &Path| -> Result<String, io::Error> {
        match p.to_str() {
            Some("/run/secrets/union") => Ok("Hunter/Two\n".to_string()),
            _ => files(p),
        }
    };
    let yaml = "timezone: Hunter/Two\nplatform:\n  union_code: u\n  email: e\n  union_key_file: /run/secrets/union\n";
    let e = from_yaml(yaml, Some(Path::new("c.yml")), &flags(), &no_env, &read).expect_err("bad zone");
    assert_eq!(
        e.0,
        "c.yml: timezone: unknown time zone \"<redacted>\"; expected an IANA name, e.g. Asia/Shanghai"
    );
}

#[test]
fn every_testdata_file_is_in_a_table() {
    let mut seen = 0;
    for entry in std::fs::read_dir(TESTDATA).expect("testdata") {
        let name = entry.expect("entry").file_name().into_string().expect("utf8");
        assert!(
            BAD.iter().chain(OTHER_KEYS).any(|(bad, _)| *bad == name) || GOOD.contains(&name.as_str()),
            "{name} is in neither BAD, OTHER_KEYS nor GOOD"
        );
        seen += 1;
    }
    assert_eq!(seen, BAD.len() + OTHER_KEYS.len() + GOOD.len());
}

fn names(c: &CollectionConfig) -> Vec<String> {
    c.collectors.iter().map(CollectorKind::name).collect()
}

#[test]
fn good_files_load() {
    let c = testdata("good_minimal.yml").expect("good_minimal.yml");
    assert_eq!(c.interval, Duration::from_secs(60));
    assert_eq!(c.tz.iana_name(), Some("Asia/Shanghai"));
    assert_eq!(c.windows, [Window::Today]);
    assert_eq!(
        names(&c),
        [
            "robot_session",
            "robot_satisfaction",
            "human_session",
            "human_satisfaction",
            "customer_session",
            "message_stats",
            "get_service_data",
            "human_duration",
            "quality_result",
            "call_result"
        ]
    );
    assert!(c.groups.is_empty() && c.agents.is_empty());
    assert_eq!(c.max_agents, 2000);
    assert_eq!(
        (c.quality_interval, c.quality_page_size, c.quality_max_pages),
        (Duration::from_secs(300), 1000, 50)
    );
    // The knobs' defaults keep the output of before they existed.
    assert!(c.collector_windows.is_empty() && c.agent_score_evaluations && c.quality_part_scores);
    let sobot = ClientSettings {
        base_url: "https://www.sobot.com".to_string(),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(15),
        rate_limit_per_minute: 1000,
    };
    assert_eq!(c.sobot, sobot);
    assert_eq!(
        c.credentials,
        Some(Credentials { app_id: "acme".to_string(), app_key: Secret::new("s3cret") })
    );
    assert!(c.sections.is_empty(), "no Laaffic credentials");

    let c = testdata("good_full.yml").expect("good_full.yml");
    assert_eq!(c.tz.iana_name(), Some("UTC"));
    assert_eq!(c.windows, [Window::Yesterday, Window::Today]);
    assert_eq!(names(&c), ["human_session", "group_human_session", "chat_result", "laaffic_seats"]);
    assert_eq!(
        (&c.groups[..], &c.agents[..]),
        (&["g1".to_string(), "g2".to_string()][..], &["a1".to_string()][..])
    );
    assert_eq!(c.max_agents, 10);
    assert_eq!(
        (c.quality_interval, c.quality_page_size, c.quality_max_pages),
        (Duration::from_secs(90), 200, 3)
    );
    let laaffic = c.sections.of::<LaafficConfig>("laaffic").expect("Laaffic's credentials");
    assert_eq!((c.agent_score_evaluations, c.quality_part_scores, laaffic.max_seats), (false, false, 3000));
    let windows_of = |name: &str| {
        let kind = CollectorKind::all().into_iter().find(|k| k.name() == name).expect("a collector");
        c.windows_of(&kind)
    };
    assert_eq!(windows_of("chat_result"), [Window::Today]);
    assert_eq!(windows_of("laaffic_seats"), [Window::Today, Window::Yesterday]);
    assert_eq!(windows_of("human_session"), [Window::Yesterday, Window::Today], "the default");
    let sobot = ClientSettings {
        timeout: Duration::from_secs(20),
        connect_timeout: Duration::from_secs(2),
        rate_limit_per_minute: 500,
        ..sobot
    };
    assert_eq!(c.sobot, sobot);
    assert_eq!(
        laaffic.client,
        ClientSettings {
            base_url: "https://api.laaffic.com".to_string(),
            connect_timeout: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
            rate_limit_per_minute: 600,
        }
    );
    // The relative key file is read next to the config file, not from the working directory.
    assert_eq!(
        c.credentials,
        Some(Credentials { app_id: "acme-from-file".to_string(), app_key: Secret::new("relative-s3cret") })
    );
    assert_eq!(
        laaffic.credentials,
        LaafficCredentials { api_key: Secret::new("lk"), api_secret: Secret::new("ls") }
    );

    let c = testdata("good_platform.yml").expect("good_platform.yml");
    assert!(c.credentials.is_none() && c.sections.is_empty());
    assert!(c.collectors.is_empty(), "no company: only the platform's tenants");
    let p = c.platform.expect("platform");
    assert_eq!((p.union_code.as_str(), p.email.as_str()), ("10004", "admin@platform.example"));
    assert_eq!(p.union_key.expose(), "union-s3cret");
    assert_eq!(p.interval, Duration::from_secs(120));
    let tenant_collectors: Vec<String> = p.collectors.iter().map(CollectorKind::name).collect();
    assert_eq!(tenant_collectors, ["robot_session", "human_session", "get_service_data", "call_result"]);
    assert!(!p.tenants_on_metrics);
    assert!(p.tenants.allows("1", "测试一号") && p.tenants.allows("2", "Shop 9"));
    assert!(!p.tenants.allows("be7f05de11a54390c3f3ec35e6010b", "测试二号"), "excluded by id");
    assert!(!p.tenants.allows("3", "Another shop"), "not included");
    assert!(!p.tenants.allows("4", "x测试一号"), "anchored");
    assert_eq!(p.shard, Shard::default());

    let c = testdata("good_laaffic_only.yml").expect("good_laaffic_only.yml");
    assert!(c.credentials.is_none());
    assert_eq!(names(&c), ["laaffic_seats"]);
}

#[test]
fn configs_compare_by_value() {
    let full = testdata("good_full.yml").expect("valid");
    assert_eq!(full, testdata("good_full.yml").expect("valid"));
    assert_ne!(full, testdata("good_minimal.yml").expect("valid"));
    let fewer = CollectionConfig { collectors: full.collectors[1..].to_vec(), ..full.clone() };
    assert_ne!(full, fewer);
    let seats = CollectorKind::Source(&crate::sources::laaffic::SEATS);
    assert!(CollectorKind::all().contains(&seats));
    assert_ne!(CollectorKind::all()[0], CollectorKind::all()[1]);
}

fn env_with_credentials(key: &str) -> Option<String> {
    match key {
        ENV_APP_ID => Some("app".to_string()),
        ENV_APP_KEY => Some("key".to_string()),
        _ => None,
    }
}

#[test]
fn an_empty_file_is_no_file() {
    let none = from_yaml("", None, &flags(), &env_with_credentials, &files).expect("valid");
    let empty =
        from_yaml("# nothing\n\n", Some(Path::new("empty.yml")), &flags(), &env_with_credentials, &files);
    assert_eq!(empty.expect("valid"), none);
}

#[test]
fn only_collectors_with_credentials_run() {
    let laaffic_only = |k: &str| match k {
        ENV_LAAFFIC_KEY => Some("k".to_string()),
        ENV_LAAFFIC_SECRET => Some("s".to_string()),
        _ => None,
    };
    let c = from_yaml("", None, &flags(), &laaffic_only, &files).expect("Laaffic alone is enough");
    assert!(c.credentials.is_none());
    assert_eq!(names(&c), ["laaffic_seats"]);
    let laaffic = c.sections.of::<LaafficConfig>("laaffic").expect("laaffic");
    assert_eq!(laaffic.credentials.api_secret.expose(), "s");
    // The defaults: Laaffic's own client settings, the seats capped by max_agents (which capped
    // them before they had a cap of their own).
    assert_eq!((laaffic.client.rate_limit_per_minute, laaffic.max_seats), (600, 2000));
    assert_eq!(laaffic.client.base_url, "https://api.laaffic.com");
    let yaml = |text: &str| from_yaml(text, Some(Path::new("c.yml")), &flags(), &laaffic_only, &files);
    let e = yaml("collectors: [robot_session]\n").expect_err("a listed collector without credentials");
    assert!(e.0.contains("robot_session needs Sobot credentials"), "{e}");
    let e = yaml("collectors: []\n").expect_err("nothing");
    assert!(e.0.contains("no collector to run"), "{e}");
}

#[test]
fn credentials_from_files() {
    let yaml = std::fs::read_to_string(Path::new(TESTDATA).join("good_minimal.yml")).expect("testdata");
    let path = Some(Path::new("files.yml"));
    let c = from_yaml(&yaml, path, &flags(), &no_env, &files).expect("valid");
    let creds = c.credentials.expect("credentials");
    assert_eq!(creds.app_key.expose(), "s3cret");
    assert_eq!(creds.app_id, "acme");
    let e = from_yaml(&yaml, path, &flags(), &env_with_credentials, &files).expect_err("given twice");
    assert_eq!(e.0, "files.yml: sobot.app_id and SOBOT_APP_ID are both set; use one");
    let key_file = "sobot:\n  app_key_file: /run/secrets/sobot_app_key\n";
    let e = from_yaml(key_file, path, &flags(), &env_with_credentials, &files).expect_err("given twice");
    assert_eq!(e.0, "SOBOT_APP_KEY and files.yml: sobot.app_key_file are both set; use one");
}

/// The registry says what the config file's structs accept: each source's keys are known in
/// each of its sections (a key of another section is not), and the collectors' names are unique.
#[test]
fn the_registry_matches_the_config_file() {
    for source in crate::sources::SOURCES {
        // A source that reads its own sections is asked; the general config's struct otherwise.
        let error = |yaml: &str| match source.configure {
            Some(configure) => {
                let input = SectionInput {
                    yaml,
                    path: None,
                    at: &|key: &str| key.to_string(),
                    env: &|_: &str| None,
                    read: &files,
                    yaml_error: messages::yaml_error,
                    base_url: &|_: &str| None,
                    max_agents: 2000,
                };
                configure(&input).err()
            }
            None => parse(yaml, None).err(),
        };
        let unknown = |yaml: &str| error(yaml).is_some_and(|e| e.0.contains("unknown key"));
        for section in source.sections {
            assert!(!unknown(&format!("{section}: {{}}\n")), "{section}");
            // Every key the section's struct accepts is in the registry: the error line of
            // an unknown key lists the known ones.
            let line = error(&format!("{section}:\n  zzzz_unheard_of: 1\n")).map(|e| e.0).unwrap_or_default();
            let known = line.split("(known: ").nth(1).expect("the known keys").trim_end_matches(')');
            for key in known.split(", ") {
                assert!(source.keys.contains(&key), "{section}.{key} is missing from the registry");
            }
        }
        for key in source.keys {
            let accepted = source.sections.iter().any(|section| {
                !unknown(&format!("{section}:\n  {key}: ~\n"))
                    || !unknown(&format!("{section}:\n  tenants:\n    {key}: ~\n"))
            });
            assert!(accepted, "{key} of {:?} is not a key of its sections", source.sections);
        }
    }
    let names: Vec<String> = CollectorKind::all().iter().map(CollectorKind::name).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    let secrets: Vec<&str> = crate::sources::secret_env().collect();
    assert_eq!(
        secrets,
        // The last is the tests' example source's.
        [
            "SOBOT_APP_KEY",
            "LAAFFIC_API_KEY",
            "LAAFFIC_API_SECRET",
            "SOBOT_PLATFORM_UNION_KEY",
            "EXAMPLE_SHOP_TOKEN"
        ]
    );
}
