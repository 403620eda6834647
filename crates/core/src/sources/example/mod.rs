//! A source that exists only in the tests: a made-up vendor's "shop report", one endpoint that
//! answers `{"code": "0", "items": [{"shop": …, "widgets": "12", "ratio": "53.49%"}]}` for a
//! date and wants a `token` header. It is written as `docs/design.md` says a new vendor is: this
//! folder and one line in [`SOURCES`](super::SOURCES), nothing else. `app`'s tests run the
//! exporter with it against [`upstream`] and read its series on `/metrics`.

mod upstream;

use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use serde::Deserialize;
use serde_json::Value;

use super::{AnySettings, CollectorKind, JobInput, SectionInput, Source, SourceCollector, SourceConfig};
use crate::collect::{Collect, Cycle, Families, Metric, ParseErrors, Scheduled, Windows, list};
use crate::input::{ConfigError, duration, err, one_credential};
use crate::secret::Secret;
use crate::snapshot::Family;
use crate::table::{Field, field};
use crate::upstream::{ClientSettings, Upstream, UpstreamError};
use crate::value::Unit::{Count, Ratio};
#[allow(unused_imports)]
pub(crate) use upstream::{upstream, widgets};

/// The environment variable of the token.
pub(crate) const ENV_TOKEN: &str = "EXAMPLE_SHOP_TOKEN";

/// The endpoint's name (the `endpoint` label of the self-metrics) and path.
const ENDPOINT: (&str, &str) = ("shop_report", "/v1/shop/report");

/// The endpoint's fields, in the tables' shared vocabulary.
pub(crate) const FIELDS: &[Field] = &[
    field("widgets", "example_shop_widgets", Count, "Widgets sold", "售出件数"),
    field("ratio", "example_shop_return_ratio", Ratio, "Share of widgets returned", "退货率"),
];

/// The source's one collector.
pub(crate) static REPORT: SourceCollector = SourceCollector { name: "example_shop", source: "example" };

/// The source's entry in the registry.
pub(crate) const SOURCE: Source = Source {
    name: "example",
    vendor: "Example",
    sections: &["example"],
    keys: &["base_url", "token_file", "timeout"],
    secret_env: &[ENV_TOKEN],
    collectors: || vec![CollectorKind::Source(&REPORT)],
    reference,
    configure: Some(configure),
    jobs: Some(jobs),
};

/// `example:` in the YAML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    base_url: Option<String>,
    token_file: Option<PathBuf>,
    timeout: Option<String>,
}

/// The file as this source reads it: its section, the other keys ignored.
#[derive(Debug, Default, Deserialize)]
struct File {
    example: Option<Section>,
}

/// The validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExampleConfig {
    client: ClientSettings,
    token: Secret,
}

impl SourceConfig for ExampleConfig {
    fn client(&self) -> &ClientSettings {
        &self.client
    }
}

fn configure(input: &SectionInput<'_>) -> Result<Option<Box<dyn AnySettings>>, ConfigError> {
    let Some(section) = input.parse::<File>()?.example else {
        return Ok(None);
    };
    let at = input.at;
    let Some(base_url) = section.base_url else {
        return Err(err(format!("{}: is needed", at("example.base_url"))));
    };
    let token = one_credential(
        input.env,
        input.read,
        ENV_TOKEN,
        section.token_file.as_ref(),
        &at("example.token_file"),
    )?
    .ok_or_else(|| err(format!("{}: set it or {ENV_TOKEN}", at("example.token_file"))))?;
    let timeout = duration(
        &section.timeout,
        &at("example.timeout"),
        Duration::from_secs(15),
        Duration::from_nanos(1),
        "15s",
    )?;
    let client = ClientSettings { base_url, timeout, connect_timeout: timeout, rate_limit_per_minute: 60 };
    Ok(Some(Box::new(ExampleConfig { client, token })))
}

fn jobs(input: &JobInput<'_>) -> Vec<Scheduled> {
    let Some(config) = input.collection.sections().of::<ExampleConfig>(SOURCE.name) else {
        return Vec::new();
    };
    if !input.runs(&REPORT) {
        return Vec::new();
    }
    let collection = input.collection;
    let telemetry = input.telemetry.clone();
    let upstream =
        Upstream::new(&config.client, input.http.clone(), vec![config.token.clone()], telemetry.clone());
    let cached = crate::snapshot::cached(collection.interval());
    let metrics = FIELDS
        .iter()
        .map(|f| {
            (f.metric.into(), format!("{} ({}; shop report field {}). {cached}", f.en, f.zh, f.key).into())
        })
        .collect();
    let collector = ReportCollector {
        upstream,
        token: config.token.clone(),
        windows: Windows::new(
            collection.windows_of(&CollectorKind::Source(&REPORT)),
            collection.tz().clone(),
        )
        .clocked(input.clock.clone()),
        metrics,
        errors: ParseErrors::new(ENDPOINT.0, telemetry),
    };
    vec![Scheduled {
        job: Arc::new(collector),
        interval: collection.interval(),
        timeout: config.client.timeout,
    }]
}

/// Collects the shop report for every configured window.
#[derive(Debug)]
struct ReportCollector {
    upstream: Upstream,
    token: Secret,
    windows: Windows<Vec<Value>>,
    metrics: Vec<Metric>,
    errors: ParseErrors,
}

impl ReportCollector {
    async fn fetch(&self, day: Date) -> Result<Vec<Value>, UpstreamError> {
        let build = |client: &reqwest::Client, url: String| {
            client.get(url).query(&[("date", day.to_string())]).header("token", self.token.expose())
        };
        let check = |mut body: Value| match body.get("code").and_then(Value::as_str) {
            Some("0") => list(&mut body, ENDPOINT.0, &["items"]),
            Some(code) => Err(UpstreamError::api(code.to_string(), "the shop report refused the request")),
            None => Err(UpstreamError::InvalidResponse("no code in the response".to_string())),
        };
        self.upstream.send(ENDPOINT.0, ENDPOINT.1, "0", build, check).await
    }

    async fn cycle(&self) -> Result<Vec<Family>, UpstreamError> {
        let days = self.windows.fetch(|day| self.fetch(day)).await?;
        let mut families = Families::new(&self.metrics);
        for (window, items) in &days {
            for item in items {
                let Some(shop) = item.get("shop").and_then(Value::as_str) else { continue };
                for (i, f) in FIELDS.iter().enumerate() {
                    if let Some(v) = self.errors.value(item, f.key, f.unit) {
                        let labels = vec![("shop", shop.to_string()), ("window", window.label().to_string())];
                        families.push(i, labels, v);
                    }
                }
            }
        }
        Ok(families.finish())
    }
}

impl Collect for ReportCollector {
    fn name(&self) -> &str {
        REPORT.name
    }

    fn collect(&self) -> Cycle<'_> {
        Box::pin(self.cycle())
    }

    /// Its days come from its clocked windows: the backfill can run it.
    fn replay(&self) -> crate::collect::Replay {
        crate::collect::Replay::Daily
    }
}

/// The source's part of the metrics reference.
fn reference(out: &mut String) {
    out.push_str("\n#### `example_shop` — the tests' example source\n\n| Metric | Upstream field | 中文 |\n|---|---|---|\n");
    for f in FIELDS {
        let _ = writeln!(out, "| `{}` | `{}` | {} |", f.metric, f.key, f.zh);
    }
}
