//! What to do about an upstream failure: one hint per kind of failure and documented code, naming
//! the flag, config key or environment variable to check, as the operator configured it.

use crate::upstream::UpstreamError;

/// Where a target's credentials come from, named as the operator gave them (`SOBOT_APP_ID`,
/// `sobot.app_id in /etc/sobot.yml`, the platform for a tenant): hints name these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    /// The Sobot app id.
    pub(crate) app_id: String,
    /// The Sobot app key.
    pub(crate) app_key: String,
    /// The Laaffic API key and secret.
    pub(crate) laaffic: String,
    /// The platform's union key.
    pub(crate) union_key: String,
}

impl Default for Origins {
    fn default() -> Self {
        Self {
            app_id: "SOBOT_APP_ID".to_string(),
            app_key: "SOBOT_APP_KEY".to_string(),
            laaffic: "LAAFFIC_API_KEY and LAAFFIC_API_SECRET".to_string(),
            union_key: "SOBOT_PLATFORM_UNION_KEY".to_string(),
        }
    }
}

impl Origins {
    /// A platform tenant's: its app id and key are those the platform lists.
    pub(crate) fn tenant() -> Self {
        Self {
            app_id: "the tenant's app id from the platform (getBatchAppKey): check the tenant's API settings in Sobot"
                .to_string(),
            app_key: "the tenant's app key from the platform (getBatchAppKey): check the tenant's API settings in Sobot"
                .to_string(),
            ..Self::default()
        }
    }
}

/// The hint for a failed call: what to check or change, in one sentence.
pub(crate) fn hint(e: &UpstreamError, origins: &Origins) -> String {
    let endpoint = e.request().map_or("", |(endpoint, _)| endpoint);
    let laaffic = endpoint == "seat_query";
    let platform = crate::sources::platform::ENDPOINTS.iter().any(|p| p.label == endpoint);
    let flag = if laaffic { "--laaffic.base-url" } else { "--sobot.base-url" };
    let timeout = if laaffic { "laaffic.timeout" } else { "sobot.timeout" };
    match e.cause() {
        UpstreamError::Http(404) => {
            format!(
                "the upstream has no such path: check {flag} (the API's root, e.g. https://www.sobot.com)"
            )
        }
        UpstreamError::Http(401 | 403 | 407) => {
            format!("the server refused the request: check {flag} and any proxy or firewall in between")
        }
        UpstreamError::Http(429) => {
            "rate limited: lower sobot.rate_limit_per_minute or lengthen the interval".to_string()
        }
        UpstreamError::Http(500..=599) => format!(
            "the upstream failed on its side: retried with backoff; if it lasts, check the vendor's status \
             page or {flag}"
        ),
        UpstreamError::Http(_) => format!("an unexpected HTTP status: check {flag}"),
        UpstreamError::Timeout => {
            format!("no answer within {timeout}: check the network and {flag}, or raise {timeout}")
        }
        UpstreamError::Connect => format!("check {flag} and the network (DNS, firewall, proxy)"),
        UpstreamError::OutOfFiles => "the exporter is out of file descriptors: raise its limit (ulimit -n, \
             systemd LimitNOFILE=) or lower --web.max-connections"
            .to_string(),
        UpstreamError::Reset => {
            "the connection broke: usually passing; if it lasts, check proxies or load balancers in between"
                .to_string()
        }
        UpstreamError::InvalidResponse(_) => format!(
            "the answer is not what the vendor documents: check that {flag} points at the API, not a web \
             page or a proxy"
        ),
        UpstreamError::Deadline(_) => {
            "the cycle took longer than its interval: lengthen the interval, or check the upstream's speed"
                .to_string()
        }
        UpstreamError::Budget(_) if platform => "the platform's 20 calls a minute per endpoint, shared by \
             the shards (--platform.shard), cannot carry platform.interval (getTenantList also takes one \
             call per page): lengthen platform.interval; the start-up warning names the smallest that works"
            .to_string(),
        UpstreamError::Budget(_) => {
            let limit = if laaffic {
                "the 600 calls a minute kept for Laaffic"
            } else {
                "sobot.rate_limit_per_minute"
            };
            format!(
                "the cycle's calls do not fit {limit} within its interval: lengthen the interval or collect less"
            )
        }
        UpstreamError::Panicked => "a bug in the exporter: please report it with this log".to_string(),
        UpstreamError::Api { code, .. } if platform => platform_hint(code, origins),
        UpstreamError::Api { code, .. } if laaffic => laaffic_hint(code, origins),
        UpstreamError::Api { code, .. } => sobot_hint(code, origins),
        UpstreamError::Call { .. } => String::new(),
    }
}

fn sobot_hint(code: &str, o: &Origins) -> String {
    match code {
        "910001" | "900001" => "the token was not sent: a proxy in between may strip the `token` header".to_string(),
        "910002" | "900002" => "the token expired again right after a new one: another integration with the same \
                                app id fetches tokens too (each invalidates the last); give the exporter an app \
                                id of its own"
            .to_string(),
        "910003" | "900003" => format!("the signature was rejected: check the app key ({})", o.app_key),
        "910004" | "900004" => {
            format!("no API configuration at Sobot for this app id: check the app id ({})", o.app_id)
        }
        "210006" => "a parameter was refused: check the configured groups and agents ids".to_string(),
        "210017" => "over 1000 calls a minute for this app id: another integration may share it; lower \
                     sobot.rate_limit_per_minute (retried with backoff)"
            .to_string(),
        "210003" | "210004" | "210005" | "210007" | "210016" => {
            "the upstream refused the request's form: an API change or a bug; please report it".to_string()
        }
        "999999" => "an unknown error at Sobot: retried with backoff; if it lasts, ask Sobot's support".to_string(),
        _ => "an undocumented code: see the upstream's message; retried with backoff".to_string(),
    }
}

fn laaffic_hint(code: &str, o: &Origins) -> String {
    match code {
        "-1" => format!("check {} (the Laaffic API key and secret)", o.laaffic),
        "-2" => "allow the exporter's address in the Laaffic console".to_string(),
        "-16" => "the host clock is probably off: check NTP".to_string(),
        "-18" => "a system error at Laaffic: retried with backoff".to_string(),
        "-20" | "-22" | "-23" | "-35" => {
            "Laaffic refused the request's form: an API change or a bug; please report it".to_string()
        }
        _ => "an undocumented status: see the upstream's message; retried with backoff".to_string(),
    }
}

fn platform_hint(code: &str, o: &Origins) -> String {
    match code {
        "910001" | "910003" => {
            format!("check the union key ({}), platform.email and the host clock", o.union_key)
        }
        "910004" => "check platform.union_code".to_string(),
        "210017" => {
            "the platform allows 20 calls a minute per endpoint: lengthen platform.interval".to_string()
        }
        _ => "see the platform's message; retried with backoff".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(endpoint: &str, cause: UpstreamError) -> UpstreamError {
        cause.at(endpoint, "https://example.test/api")
    }

    #[test]
    fn every_failure_has_a_hint() {
        let o = Origins::default();
        let cases = [
            (at("robot_session", UpstreamError::Http(404)), "check --sobot.base-url"),
            (at("seat_query", UpstreamError::Http(404)), "check --laaffic.base-url"),
            (at("robot_session", UpstreamError::Http(503)), "retried with backoff"),
            (at("robot_session", UpstreamError::api("210017", "")), "lower sobot.rate_limit_per_minute"),
            (at("get_token", UpstreamError::api("910003", "")), "check the app key (SOBOT_APP_KEY)"),
            (at("seat_query", UpstreamError::api("-1", "")), "LAAFFIC_API_KEY and LAAFFIC_API_SECRET"),
            (at("seat_query", UpstreamError::api("-16", "")), "check NTP"),
            (at("get_tenant_list", UpstreamError::api("910003", "")), "SOBOT_PLATFORM_UNION_KEY"),
            (at("robot_session", UpstreamError::Timeout), "sobot.timeout"),
            (at("robot_session", UpstreamError::InvalidResponse("x".into())), "points at the API"),
            (UpstreamError::Deadline(5), "lengthen the interval"),
            (at("get_batch_app_key", UpstreamError::Budget(9)), "lengthen platform.interval"),
            (at("robot_session", UpstreamError::Budget(9)), "sobot.rate_limit_per_minute"),
        ];
        for (e, want) in cases {
            let h = hint(&e, &o);
            assert!(h.contains(want), "{e:?}: {h}");
        }
        for code in crate::upstream::DOCUMENTED_CODES {
            for endpoint in ["robot_session", "seat_query", "get_tenant_list"] {
                assert!(!hint(&at(endpoint, UpstreamError::api(*code, "")), &o).is_empty(), "{code}");
            }
        }
    }

    #[test]
    fn the_app_id_hint_names_where_the_id_came_from() {
        let o = Origins { app_id: "sobot.app_id in /etc/sobot.yml".to_string(), ..Origins::default() };
        let h = hint(&at("get_token", UpstreamError::api("910004", "")), &o);
        assert!(h.contains("sobot.app_id in /etc/sobot.yml") && !h.contains("SOBOT_APP_ID"), "{h}");
        let h = hint(&at("get_token", UpstreamError::api("910003", "")), &Origins::tenant());
        assert!(h.contains("app key from the platform"), "{h}");
    }
}
