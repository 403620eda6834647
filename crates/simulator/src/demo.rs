//! Demo mode (`--demo`) in one place: the embedded simulator with credentials of its own, and
//! what the demo changes in the collection config (both vendors' base URLs, the credentials, the
//! skill groups, both windows, a small quality page, and a platform of a few dozen tenants, one of them listed
//! with a key that Sobot refuses, another refusing its key three simulated hours a day). Its figures
//! follow a simulated day, at the real time of day or `--demo.speed` times as fast.

use std::io;
use std::path::Path;

use tracing::info;

use crate::{DataMode, SimConfig, SimPlatform, Simulator, demo_population, mix, sim_platform};
use sobot_exporter_core::config::{self as collection, Flags};
use sobot_exporter_core::config::{CollectionConfig, ConfigError};
use sobot_exporter_core::input::ReadFile;
use sobot_exporter_core::secret::Secret;
use sobot_exporter_core::sources::laaffic::client::LaafficCredentials;
use sobot_exporter_core::sources::laaffic::config::{ENV_LAAFFIC_KEY, ENV_LAAFFIC_SECRET};
use sobot_exporter_core::sources::platform::config::{ENV_UNION_KEY, PlatformSection};
use sobot_exporter_core::sources::sobot::client::Credentials;
use sobot_exporter_core::sources::sobot::config::{ENV_APP_ID, ENV_APP_KEY, SobotSection};

/// Quality page size of the demo: small, so that it shows paging at work.
pub(crate) const QUALITY_PAGE_SIZE: u32 = 50;

/// Tenants of the demo's platform.
const TENANTS: usize = 24;

/// The demo tenant whose listed key Sobot refuses (it shows a failing tenant).
const WRONG_KEY_TENANT: usize = 5;

/// The demo tenant whose key Sobot refuses three simulated hours a day, from six simulated hours
/// after the start (it shows a tenant failing and recovering).
const OUTAGE_TENANT: usize = 11;

/// The demo before it runs: the simulator's port, bound, and the credentials it accepts.
#[derive(Debug)]
pub struct Demo {
    listener: std::net::TcpListener,
    base_url: String,
    credentials: Credentials,
    laaffic: LaafficCredentials,
    platform: SimPlatform,
}

impl Demo {
    /// Binds the simulator's port on 127.0.0.1 (no runtime needed, so that its URL is known
    /// before the config is loaded) and makes up this process's credentials.
    pub fn bind() -> io::Result<Demo> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let key = format!("demo-{:x}", mix(u64::from(std::process::id())));
        let laaffic = LaafficCredentials {
            api_key: Secret::new("demo-laaffic"),
            api_secret: Secret::new(format!("{key}-laaffic")),
        };
        let mut platform = sim_platform(TENANTS);
        platform.union_key = Secret::new(format!("{key}-union"));
        if let Some(tenant) = platform.tenants.get_mut(WRONG_KEY_TENANT) {
            tenant.accepted_key = Some(Secret::new(format!("{key}-not-the-listed-one")));
        }
        let credentials = Credentials { app_id: "demo".to_string(), app_key: Secret::new(key) };
        Ok(Demo { listener, base_url, credentials, laaffic, platform })
    }

    /// Where the simulator listens: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The environment of the demo: its credentials, nothing else.
    fn env(&self, name: &str) -> Option<String> {
        match name {
            ENV_APP_ID => Some(self.credentials.app_id.clone()),
            ENV_APP_KEY => Some(self.credentials.app_key.expose().to_string()),
            ENV_LAAFFIC_KEY => Some(self.laaffic.api_key.expose().to_string()),
            ENV_LAAFFIC_SECRET => Some(self.laaffic.api_secret.expose().to_string()),
            ENV_UNION_KEY => Some(self.platform.union_key.expose().to_string()),
            _ => None,
        }
    }

    /// Starts the simulator on the bound port (within the runtime), its day running `speed`
    /// times as fast as the real clock; it stops when dropped. The demo stays, for the config to
    /// be loaded again on a reload.
    pub async fn start(&self, speed: u32) -> io::Result<Simulator> {
        let config = SimConfig {
            data: DataMode::Live,
            agents: demo_population(),
            quality_records: 180,
            laaffic_seats: 24,
            laaffic_api_key: self.laaffic.api_key.clone(),
            laaffic_api_secret: self.laaffic.api_secret.clone(),
            platform: Some(self.platform.clone()),
            speed,
            outages: self.platform.tenants.get(OUTAGE_TENANT).map(|t| t.app_id.clone()),
            ..SimConfig::fixtures(&self.credentials.app_id, self.credentials.app_key.expose())
        };
        let simulator = Simulator::start_on(self.listener.try_clone()?, config).await?;
        info!(
            simulator = %simulator.base_url(),
            tenants = TENANTS,
            speed,
            "demo mode: collecting from the embedded simulator (the platform's tenants are on /sd and /probe?target=<tenant>)"
        );
        Ok(simulator)
    }
}

impl sobot_exporter_core::config::Demo for Demo {
    /// The collection config of the demo, from the file's text (empty without a file): the
    /// simulator serves both vendors with the demo's credentials, so the file's credential keys
    /// and the environment are ignored (and the sources that read their own sections, Laaffic's,
    /// get none: the demo's defaults); the file's groups and quality page size default to the
    /// demo's.
    fn collection(
        &self,
        yaml: &str,
        path: Option<&Path>,
        flags: &Flags,
        read: &ReadFile<'_>,
    ) -> Result<CollectionConfig, ConfigError> {
        let mut file = collection::parse(yaml, path)?;
        // The simulated company has skill groups: show the per-group collectors too.
        file.groups.get_or_insert_with(groups);
        // Both windows, so that every "today vs yesterday" panel has its two lines.
        file.windows.get_or_insert_with(|| vec!["today".to_string(), "yesterday".to_string()]);
        file.quality.page_size.get_or_insert(QUALITY_PAGE_SIZE);
        file.sobot = SobotSection { app_id: None, app_id_file: None, app_key_file: None, ..file.sobot };
        // The simulated platform's tenants: on /sd and /probe, their platform figures on /metrics.
        let platform = file.platform.take().unwrap_or_else(|| PlatformSection {
            interval: Some("1m".to_string()),
            tenants_on_metrics: Some(false),
            ..PlatformSection::default()
        });
        file.platform = Some(PlatformSection {
            union_code: Some(self.platform.union_code.clone()),
            email: Some(self.platform.email.clone()),
            union_key_file: None,
            ..platform
        });
        let flags = Flags {
            sobot_base_url: self.base_url.clone(),
            laaffic_base_url: self.base_url.clone(),
            ..flags.clone()
        };
        collection::build(file, path, &flags, &|name| self.env(name), read)
    }
}

/// The skill groups of the demo's simulated company.
fn groups() -> Vec<String> {
    let mut groups: Vec<String> = demo_population().into_iter().map(|a| a.group).collect();
    groups.dedup();
    groups
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sobot_exporter_core::config::Demo as _;
    use sobot_exporter_core::sources::laaffic::config::LaafficConfig;

    use super::*;

    fn flags() -> Flags {
        Flags {
            interval: Duration::from_secs(60),
            sobot_base_url: "https://www.sobot.com".to_string(),
            laaffic_base_url: "https://api.laaffic.com".to_string(),
            shard: sobot_exporter_core::shard::Shard::default(),
        }
    }

    fn no_file(path: &Path) -> Result<String, io::Error> {
        Err(io::Error::new(io::ErrorKind::NotFound, path.display().to_string()))
    }

    #[test]
    fn without_a_file_the_demo_collects_everything_from_its_simulator() {
        let demo = Demo::bind().expect("bind");
        let c = demo.collection("", None, &flags(), &no_file).expect("valid");
        assert_eq!(c.sobot.base_url, demo.base_url());
        let laaffic = c.sections.of::<LaafficConfig>("laaffic").expect("the demo's Laaffic");
        assert_eq!(laaffic.client.base_url, demo.base_url());
        assert_eq!(c.credentials.as_ref(), Some(&demo.credentials));
        assert_eq!(c.sections.of::<LaafficConfig>("laaffic").map(|l| &l.credentials), Some(&demo.laaffic));
        assert_eq!(c.groups, groups());
        assert_eq!(c.groups.len(), 4);
        assert_eq!(c.quality_page_size, QUALITY_PAGE_SIZE);
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(
            c.windows,
            [sobot_exporter_core::window::Window::Today, sobot_exporter_core::window::Window::Yesterday]
        );
        let names: Vec<String> = c.collectors.iter().map(|k| k.name()).collect();
        assert!(names.iter().any(|n| n == "group_human_session"), "{names:?}");
        assert!(names.iter().any(|n| n == "laaffic_seats"), "{names:?}");
    }

    #[test]
    fn a_file_keeps_its_values_but_not_its_credentials() {
        let demo = Demo::bind().expect("bind");
        let yaml = "windows: [today]\ngroups: [g1]\nquality:\n  page_size: 7\nsobot:\n  app_id: acme\n  \
                    app_key_file: /nonexistent/key\nlaaffic:\n  api_key_file: /nonexistent/k\n";
        let c = demo.collection(yaml, Some(Path::new("demo.yml")), &flags(), &no_file).expect("valid");
        assert_eq!(c.groups, ["g1"]);
        assert_eq!(c.windows, [sobot_exporter_core::window::Window::Today]);
        assert_eq!(c.quality_page_size, 7);
        assert_eq!(c.credentials.as_ref(), Some(&demo.credentials));
        assert_eq!(c.sections.of::<LaafficConfig>("laaffic").map(|l| &l.credentials), Some(&demo.laaffic));
        let e = demo.collection("bogus: 1\n", Some(Path::new("demo.yml")), &flags(), &no_file);
        assert!(e.expect_err("unknown key").0.starts_with("demo.yml: "));
    }

    #[tokio::test]
    async fn the_simulator_serves_on_the_bound_port() {
        let demo = Demo::bind().expect("bind");
        let url = demo.base_url().to_string();
        let simulator = demo.start(1).await.expect("starts");
        assert_eq!(simulator.base_url(), url);
    }
}
