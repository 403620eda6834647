//! The `laaffic:` section of the config file: the API key and secret and how to reach the API,
//! read by the source itself (`configure`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::client::LaafficCredentials;
use crate::input::{ConfigError, Env, ReadFile, duration, err, one_credential, pair};
use crate::sources::{AnySettings, SectionInput, SourceConfig};
use crate::upstream::ClientSettings;

/// `laaffic:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaafficSection {
    /// File holding the API key; or use `LAAFFIC_API_KEY`.
    pub api_key_file: Option<PathBuf>,
    /// File holding the API secret; or use `LAAFFIC_API_SECRET`.
    pub api_secret_file: Option<PathBuf>,
    /// Total timeout of one request; default 15s.
    pub timeout: Option<String>,
    /// Connect timeout; default 5s.
    pub connect_timeout: Option<String>,
    /// Cardinality guard of the seats: distinct seats at most; default `max_agents`.
    pub max_seats: Option<usize>,
}

/// The validated Laaffic settings, kept in the collection config's sections when its credentials
/// are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaafficConfig {
    /// How to reach Laaffic.
    pub client: ClientSettings,
    /// The API key and secret.
    pub credentials: LaafficCredentials,
    /// Cardinality guard of the seats.
    pub max_seats: usize,
}

impl SourceConfig for LaafficConfig {
    fn client(&self) -> &ClientSettings {
        &self.client
    }
}

/// The base URL when no flag gives one.
const DEFAULT_BASE_URL: &str = "https://api.laaffic.com";

/// The file as Laaffic reads it: its section, the other keys ignored.
#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    laaffic: LaafficSection,
}

/// Laaffic's settings from its section, the environment and `--laaffic.base-url`; `None` without
/// credentials.
pub(crate) fn configure(input: &SectionInput<'_>) -> Result<Option<Box<dyn AnySettings>>, ConfigError> {
    let l = input.parse::<File>()?.laaffic;
    let at = input.at;
    // Seats were capped by max_agents before they had a cap of their own: so they still are
    // unless max_seats is set.
    let max_seats = match l.max_seats {
        Some(0) => return Err(err(format!("{}: must be at least 1", at("laaffic.max_seats")))),
        Some(n) => n,
        None => input.max_agents,
    };
    let timeout = |value: &Option<String>, key: &str, default: u64| {
        duration(value, &at(key), Duration::from_secs(default), Duration::from_nanos(1), "15s")
    };
    let client = ClientSettings {
        base_url: (input.base_url)("laaffic").unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
        timeout: timeout(&l.timeout, "laaffic.timeout", 15)?,
        connect_timeout: timeout(&l.connect_timeout, "laaffic.connect_timeout", 5)?,
        rate_limit_per_minute: 600,
    };
    let credentials = laaffic_credentials(&l, input.env, input.read, at)?;
    Ok(credentials.map(|credentials| {
        Box::new(LaafficConfig { client, credentials, max_seats }) as Box<dyn AnySettings>
    }))
}

/// Environment variable of the Laaffic API key.
pub const ENV_LAAFFIC_KEY: &str = "LAAFFIC_API_KEY";
/// Environment variable of the Laaffic API secret.
pub const ENV_LAAFFIC_SECRET: &str = "LAAFFIC_API_SECRET";
fn laaffic_credentials(
    l: &LaafficSection,
    env: &Env<'_>,
    read: &ReadFile<'_>,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<LaafficCredentials>, ConfigError> {
    let key_at = at("laaffic.api_key_file");
    let key = one_credential(env, read, ENV_LAAFFIC_KEY, l.api_key_file.as_ref(), &key_at)?;
    // The key is sent as a header: a line break or control character would break the request.
    if key.as_ref().is_some_and(|k| k.expose().chars().any(char::is_control)) {
        return Err(err(format!(
            "the Laaffic API key ({ENV_LAAFFIC_KEY} or {key_at}) holds a control character (a line break?)"
        )));
    }
    let secret = one_credential(
        env,
        read,
        ENV_LAAFFIC_SECRET,
        l.api_secret_file.as_ref(),
        &at("laaffic.api_secret_file"),
    )?;
    pair(key, secret, ("the Laaffic API key", "the Laaffic API secret"), |api_key, api_secret| {
        LaafficCredentials { api_key, api_secret }
    })
}
