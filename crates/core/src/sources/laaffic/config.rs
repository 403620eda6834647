//! The `laaffic:` section of the config file: the API key and secret and how to reach the API.

use std::path::PathBuf;

use serde::Deserialize;

use super::client::LaafficCredentials;
use crate::input::{ConfigError, Env, ReadFile, err, one_credential, pair};
use crate::sources::SourceConfig;
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

/// Environment variable of the Laaffic API key.
pub const ENV_LAAFFIC_KEY: &str = "LAAFFIC_API_KEY";
/// Environment variable of the Laaffic API secret.
pub const ENV_LAAFFIC_SECRET: &str = "LAAFFIC_API_SECRET";
pub(crate) fn laaffic_credentials(
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
