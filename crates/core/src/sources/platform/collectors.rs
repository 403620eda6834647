//! The platform target's collectors: discovery (getBatchAppKey: which tenants exist, with their
//! keys) and the platform statistics (getTenantList, tenantStaffJobList, getStaffLogInfos), each
//! limited to the tenants this replica serves, so that replicas never export the same series.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::watch;
use tracing::warn;

use super::config::PlatformConfig;
use super::tenants::{Tenant, served, sharing_an_app_id};
use crate::collect::Replay;
use crate::snapshot::Family;
use crate::sources::platform::PlatformClient;
use crate::sources::platform::decode::{StaffJobDecoder, StaffStatusDecoder, TenantDecoder};
use crate::telemetry::{COLLECTOR_TRUNCATED, Telemetry};
use crate::upstream::UpstreamError;
use crate::window::{Clock, Window};

/// How long a statistics cycle waits for the first discovery, which says which tenants to keep.
const FIRST_DISCOVERY_WAIT: Duration = Duration::from_secs(30);

/// One of the platform's collectors.
#[derive(Debug)]
pub(crate) struct PlatformCollector {
    kind: Kind,
    /// The shard and the tenant rules.
    platform: Arc<PlatformConfig>,
    client: Arc<PlatformClient>,
    /// The tenants this replica serves, as discovery last found them.
    discovered: watch::Sender<Option<Arc<Vec<Tenant>>>>,
    /// The ids the statistics keep, made once per discovery (shared by the three).
    served_ids: Arc<ServedIds>,
    /// The configured company's app id: a tenant listed with it is the company.
    company_app: Option<String>,
    /// The groups of tenants sharing an app id last warned about.
    shared_apps: Mutex<Vec<Vec<String>>>,
    telemetry: Arc<Telemetry>,
    /// What "now" is: the system's time, or the moment the backfill sets.
    clock: Clock,
    /// With a set clock: the last staff log answer, for the day it ends (its hours read it).
    staff_logs: Mutex<Option<(i64, Arc<Vec<serde_json::Value>>)>>,
}

/// The ids of the tenants whose statistics this replica keeps when the config has rules on
/// names: those discovery published, which every rule (names included) and the shard allowed. Made once per list
/// discovery publishes (it publishes a new one only when the tenants changed), not per cycle.
#[derive(Debug, Default)]
struct ServedIds {
    /// The list the set was made from, and the set.
    made: Mutex<Option<Made>>,
}

/// A list of [`ServedIds`] and the set made from it.
type Made = (Arc<Vec<Tenant>>, Arc<HashSet<String>>);

impl ServedIds {
    /// The set for `list`: the one made before if `list` is the same list, else a new one.
    fn of(&self, list: &Arc<Vec<Tenant>>) -> Arc<HashSet<String>> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((from, set)) = made.as_ref()
            && Arc::ptr_eq(from, list)
        {
            return set.clone();
        }
        // Discovery published only the tenants this replica serves (`targets::served`: every rule,
        // names included, and the shard), so the list is the set.
        let set: Arc<HashSet<String>> = Arc::new(list.iter().map(|t| t.id.clone()).collect());
        *made = Some((list.clone(), set.clone()));
        set
    }
}

#[derive(Debug)]
enum Kind {
    Discovery,
    Tenants(TenantDecoder),
    StaffJobs(StaffJobDecoder, TimeZone),
    StaffStatus(StaffStatusDecoder),
}

impl PlatformCollector {
    /// The platform's four collectors.
    pub(crate) fn all(
        platform: &PlatformConfig,
        company_app: Option<&str>,
        tz: &TimeZone,
        client: &Arc<PlatformClient>,
        discovered: &watch::Sender<Option<Arc<Vec<Tenant>>>>,
        telemetry: &Arc<Telemetry>,
        clock: &Clock,
    ) -> Vec<PlatformCollector> {
        let interval = platform.interval;
        let kinds = [
            Kind::Discovery,
            Kind::Tenants(TenantDecoder::new(interval, tz.clone(), telemetry.clone())),
            Kind::StaffJobs(StaffJobDecoder::new(interval, telemetry.clone()), tz.clone()),
            Kind::StaffStatus(StaffStatusDecoder::new(interval, telemetry.clone())),
        ];
        let shared = Arc::new(platform.clone());
        let served_ids = Arc::new(ServedIds::default());
        kinds
            .into_iter()
            .map(|kind| PlatformCollector {
                kind,
                platform: shared.clone(),
                client: client.clone(),
                discovered: discovered.clone(),
                served_ids: served_ids.clone(),
                company_app: company_app.map(str::to_string),
                shared_apps: Mutex::default(),
                telemetry: telemetry.clone(),
                clock: clock.clone(),
                staff_logs: Mutex::default(),
            })
            .collect()
    }

    /// The collector's name, the `collector` label of the self-metrics.
    pub(crate) fn name(&self) -> &'static str {
        match self.kind {
            Kind::Discovery => "platform_discovery",
            Kind::Tenants(_) => "platform_tenants",
            Kind::StaffJobs(..) => "platform_staff_jobs",
            Kind::StaffStatus(_) => "platform_staff_status",
        }
    }

    /// One cycle.
    pub(crate) async fn collect(&self) -> Result<Vec<Family>, UpstreamError> {
        match &self.kind {
            Kind::Discovery => self.discover(&self.platform).await,
            Kind::Tenants(decoder) => {
                let list = self.client.tenant_list().await?;
                let truncated = f64::from(u8::from(list.truncated));
                self.telemetry.set_collector(COLLECTOR_TRUNCATED, self.name(), truncated);
                self.served(decoder.families(&list.rows)).await
            }
            Kind::StaffJobs(decoder, tz) => {
                let today = Window::Today.day(self.clock.now(), tz);
                let rows = self.client.staff_job_list(today).await?;
                self.served(decoder.families(&[(Window::Today, rows)])).await
            }
            Kind::StaffStatus(decoder) if self.clock.is_set() => {
                // The state at the clock's moment, from one answer a day: the week before the
                // day's end, its entries after the moment left out.
                let now = self.clock.now();
                let until = u64::try_from(now.as_millisecond()).unwrap_or(0);
                let items = self.logs_until_end_of_day(now).await?;
                self.served(decoder.families_until(&items, until)).await
            }
            Kind::StaffStatus(decoder) => {
                let items = self.client.staff_log_infos(None).await?;
                self.served(decoder.families(&items)).await
            }
        }
    }

    /// The staff log answer for the week before the end of `now`'s UTC day (the answer reaches
    /// past `now` and is cut there, so any day boundary serves), asked once a day.
    async fn logs_until_end_of_day(
        &self,
        now: Timestamp,
    ) -> Result<Arc<Vec<serde_json::Value>>, UpstreamError> {
        const DAY_MS: i64 = 86_400_000;
        let end = (now.as_millisecond().div_euclid(DAY_MS) + 1) * DAY_MS;
        if let Some((cached_end, items)) = &*self.staff_logs.lock().unwrap_or_else(PoisonError::into_inner)
            && *cached_end == end
        {
            return Ok(items.clone());
        }
        let items = Arc::new(self.client.staff_log_infos(Some(end)).await?);
        *self.staff_logs.lock().unwrap_or_else(PoisonError::into_inner) = Some((end, items.clone()));
        Ok(items)
    }

    /// How it runs at a set clock (the backfill): the staff jobs by date, the staff status at
    /// every hour; discovery and the tenant list answer only for now.
    pub(crate) fn replay(&self) -> Replay {
        match self.kind {
            Kind::StaffJobs(..) => Replay::Daily,
            Kind::StaffStatus(_) => Replay::Hourly,
            Kind::Discovery | Kind::Tenants(_) => Replay::No,
        }
    }

    /// Lists the tenants, keeps this replica's and tells the target set.
    async fn discover(&self, platform: &PlatformConfig) -> Result<Vec<Family>, UpstreamError> {
        // On failure the last good list stays: the tenants keep running. The outcome goes to
        // `sobot_exporter_platform_discovery_success` where the cycle ends (`targets::run`), so
        // that a cycle cut off by its deadline counts too.
        let keys = self.client.batch_app_keys().await?;
        // A platform does not lose every tenant at once: an empty list (or one whose every entry was
        // unreadable) after a good one is a failed discovery, and the tenants keep running.
        let had = self.discovered.borrow().as_ref().is_some_and(|list| !list.is_empty());
        if keys.is_empty() && had {
            return Err(UpstreamError::InvalidResponse(
                "getBatchAppKey listed no tenant; keeping the last list".to_string(),
            ));
        }
        let listed: Vec<Tenant> = keys
            .into_iter()
            .map(|k| Tenant { id: k.company_id, name: k.company_name, app_id: k.app_id, app_key: k.app_key })
            .collect();
        let company_app = self.company_app.as_deref();
        self.warn_shared_apps(sharing_an_app_id(&listed, platform, company_app));
        let served = Arc::new(served(listed, platform, company_app, &self.telemetry));
        self.discovered.send_if_modified(|current| {
            let changed = current.as_deref() != Some(&*served);
            if changed {
                *current = Some(served);
            }
            changed
        });
        Ok(Vec::new())
    }

    /// Warns about tenants listed with one app id when the groups change: each `get_token`
    /// invalidates the token before it, so they share one token in a replica; replicas serving
    /// tenants of one group each fetch their own, and invalidate each other's.
    fn warn_shared_apps(&self, groups: Vec<Vec<String>>) {
        let mut last = self.shared_apps.lock().unwrap_or_else(PoisonError::into_inner);
        if *last == groups {
            return;
        }
        let shard = self.platform.shard;
        for ids in &groups {
            let shards: BTreeSet<u32> =
                ids.iter().map(|id| crate::shard::shard_of(id, shard.count())).collect();
            let company_ids = ids.join(",");
            if shards.len() > 1 {
                let shards = shards.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
                warn!(
                    company_ids,
                    shards,
                    "tenants listed with one app id are served by different shards: each shard's get_token invalidates the others' token; give each tenant an app id of its own, or run one shard"
                );
            } else {
                warn!(
                    company_ids,
                    "tenants listed with one app id: they share one token (each get_token invalidates the last); give each tenant an app id of its own"
                );
            }
        }
        *last = groups;
    }

    /// The samples of the tenants this replica serves: those of its shard that the id rules
    /// allow; with rules on names, those discovery listed (it has the names: waits for the first),
    /// a set made once per discovery ([`ServedIds`]).
    async fn served(&self, mut families: Vec<Family>) -> Result<Vec<Family>, UpstreamError> {
        let platform = &self.platform;
        let named: Option<Arc<HashSet<String>>> = if platform.tenants.has_name_rules() {
            let mut discovered = self.discovered.subscribe();
            let waited =
                tokio::time::timeout(FIRST_DISCOVERY_WAIT, discovered.wait_for(Option::is_some)).await;
            match waited {
                Ok(Ok(tenants)) => tenants.as_ref().map(|list| self.served_ids.of(list)),
                _ => {
                    return Err(UpstreamError::InvalidResponse(
                        "no tenant list yet (discovery has not succeeded)".to_string(),
                    ));
                }
            }
        } else {
            None
        };
        // Without name rules, each tenant of the answer is judged once, not once per sample.
        let mut judged: HashMap<String, bool> = HashMap::new();
        let mut keep = |id: &str| match &named {
            Some(ids) => ids.contains(id),
            None => {
                if let Some(&kept) = judged.get(id) {
                    return kept;
                }
                let kept = platform.shard.owns(id) && platform.tenants.allows_id(id);
                judged.insert(id.to_string(), kept);
                kept
            }
        };
        for family in &mut families {
            family.samples.retain(|s| s.labels.iter().any(|(k, v)| *k == "tenant" && keep(v)));
        }
        Ok(families)
    }
}

impl crate::collect::Collect for PlatformCollector {
    fn name(&self) -> &str {
        PlatformCollector::name(self)
    }

    fn collect(&self) -> crate::collect::Cycle<'_> {
        Box::pin(PlatformCollector::collect(self))
    }

    fn replay(&self) -> Replay {
        PlatformCollector::replay(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::shard::Shard;
    use crate::sources::platform::config::TenantFilter;

    #[test]
    fn the_served_set_is_made_once_per_discovered_list_and_keeps_who_discovery_kept() {
        let platform = PlatformConfig {
            union_code: "10004".into(),
            email: "ops@example.com".into(),
            union_key: Secret::new("union-key"),
            interval: Duration::from_secs(60),
            collectors: Vec::new(),
            // One tenant by id, the others by name.
            tenants: TenantFilter::including(&["t0"], "Shop .*"),
            tenants_on_metrics: true,
            shard: Shard::parse("1/2", None).expect("a shard"),
        };
        let listed: Vec<Tenant> = (0..40)
            .map(|i| Tenant {
                id: format!("t{i}"),
                name: if i % 4 == 0 { format!("Shop {i}") } else { format!("Other {i}") },
                app_id: format!("app-{i}"),
                app_key: Secret::new("k"),
            })
            .collect();
        let want: HashSet<String> = listed
            .iter()
            .filter(|t| (t.id == "t0" || t.name.starts_with("Shop ")) && platform.shard.owns(&t.id))
            .map(|t| t.id.clone())
            .collect();
        assert!(want.iter().any(|id| id != "t0"), "the shard owns a tenant included by name");
        let list =
            Arc::new(crate::sources::platform::tenants::served(listed, &platform, None, &Telemetry::new()));
        let served = ServedIds::default();
        let first = served.of(&list);
        assert_eq!(*first, want, "what discovery serves, tenants included by name among them");
        assert!(Arc::ptr_eq(&first, &served.of(&list)), "the same list: the same set, not made again");
        let again = served.of(&Arc::new(list.as_ref().clone()));
        assert!(!Arc::ptr_eq(&first, &again), "a new discovery: a new set");
        assert_eq!(*again, want);
    }
}
