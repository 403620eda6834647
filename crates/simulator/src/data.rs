//! What the simulator answers with: the documents' example payloads, or moving values.

use std::time::Duration;

use bytes::Bytes;
use jiff::civil::Date;
use serde_json::{Map, Value, json};

use super::day::{self, Shift, SimNow};
use sobot_exporter_core::sources::sobot::endpoints::{Endpoint, Rows};
use sobot_exporter_core::sources::sobot::quality::{Paging, QualitySource};
use sobot_exporter_core::table::DateFormat;

/// Which data the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// The documents' example payloads, byte for byte (tests).
    Fixtures,
    /// Plausible values in the vendors' string formats that change every few seconds (demo).
    Live,
}

include!(concat!(env!("OUT_DIR"), "/sobot_fixtures.rs"));

/// The document's example answer of a Sobot endpoint: its `tests/fixtures/sobot/<endpoint>.json`.
pub(crate) fn sobot_fixture(endpoint: &str) -> Option<&'static str> {
    SOBOT_FIXTURES.iter().find(|(name, _)| *name == endpoint).map(|(_, text)| *text)
}

/// The document's example answer of the Laaffic seat query.
pub(crate) const LAAFFIC_FIXTURE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/laaffic/seat_query.json"));

/// The agents of a company with values of its own when the simulator has none configured: three
/// in one group, with ids derived from its app id.
pub(crate) fn company_agents(app_id: &str) -> Vec<super::SimAgent> {
    let seed = hash_str(app_id);
    let hex = |x: u64| format!("{:016x}{:016x}", mix(x), mix(x ^ 0x5555));
    (0..3u64)
        .map(|i| super::SimAgent {
            id: hex(seed ^ (i + 1)),
            group: hex(seed ^ 0xabcd),
            name: format!("{app_id} 客服{}", i + 1),
        })
        .collect()
}

/// SplitMix64: a tiny, good-enough mixer for deterministic pseudo-random values.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a of a string: a seed from an id.
pub(crate) fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The document's example answer, or an empty list where there is none.
pub(crate) fn fixture_or_empty(endpoint: &str) -> Bytes {
    match sobot_fixture(endpoint) {
        Some(fixture) => Bytes::from_static(fixture.as_bytes()),
        None => Bytes::from(json!({"items": [], "ret_code": "000000", "ret_msg": "成功"}).to_string()),
    }
}

fn day_seed(day: Date) -> u64 {
    u64::try_from(day.day_of_year()).unwrap_or(0) + 1000 * u64::try_from(day.year()).unwrap_or(0)
}

/// The answer of a company (or, with `group`, per-group) statistics endpoint: for the first
/// company (`company` `None`), the document's example in fixture mode; otherwise figures that add
/// up (see [`Figures`]): the sums of `agents`' (those of `group` when given) with the company's
/// robot figures, seeded by the company (a platform's tenant, by app id) and standing still in
/// fixture mode.
pub(crate) fn statistics(
    mode: &DataMode,
    endpoint: &Endpoint,
    day: Date,
    group: Option<&str>,
    now: &SimNow,
    company: Option<&str>,
    agents: &[super::SimAgent],
) -> Bytes {
    if *mode == DataMode::Fixtures
        && company.is_none()
        && let Some(fixture) = sobot_fixture(endpoint.name)
    {
        return Bytes::from_static(fixture.as_bytes());
    }
    let prefix = company.map(|c| format!("{c}/")).unwrap_or_default();
    let groups: Vec<&str> = group.map(|g| g.split(',').collect()).unwrap_or_default();
    let mut human = Human::default();
    for agent in agents.iter().filter(|a| groups.is_empty() || groups.contains(&a.group.as_str())) {
        let progress = progress(mode, now, day, Some(shift_of(agents, agent)), company);
        human.add(&Human::of(seed(&format!("{prefix}{}", agent.id), day, now), progress));
    }
    // The robot's volume goes with the company's size (Robot::of takes a sixteenth per agent).
    let robot_progress = progress(mode, now, day, None, company) * agents.len() as u64;
    let robot = Robot::of(seed(&format!("{prefix}robot"), day, now), robot_progress);
    let item = item(endpoint, &Figures { human, robot });
    Bytes::from(json!({"item": item, "ret_code": "000000", "ret_msg": "成功"}).to_string())
}

/// What the simulator answers a Sobot statistics endpoint, as JSON, for the settled (past) `day`
/// asked from `D 00` to `D HH` (`hour`, inclusive; the daily endpoints answer the whole day, as
/// all do at 23), without group or agent filters: the expectation of a replay of past days.
/// `agents` are the simulator's (`SimConfig::agents`); `company` is a company with values of its
/// own (a platform tenant's app id), with three agents of its own when `agents` is empty. `None`
/// for an unknown endpoint, an hour past 23 or a day not yet settled (its figures move).
pub fn settled_answer(
    mode: DataMode,
    endpoint: &str,
    day: Date,
    hour: u8,
    company: Option<&str>,
    agents: &[super::SimAgent],
) -> Option<Value> {
    let endpoint = Endpoint::by_name(endpoint).filter(|_| hour < 24)?;
    let real = jiff::Timestamp::now();
    let end_s = match endpoint.date_format {
        DateFormat::Hour => (u32::from(hour) + 1) * 3600,
        _ => day::DAY_S,
    };
    let now = day::SimClock::new(real, 1).at(real).until(end_s);
    if !now.settled(day) {
        return None;
    }
    let own = company.filter(|_| agents.is_empty()).map(company_agents);
    let agents = own.as_deref().unwrap_or(agents);
    let body = match endpoint.rows {
        Rows::Item => statistics(&mode, endpoint, day, None, &now, company, agents),
        Rows::Items(_) if agents.is_empty() => fixture_or_empty(endpoint.name),
        Rows::Items(_) => {
            let all: Vec<&super::SimAgent> = agents.iter().collect();
            agent_rows(&mode, endpoint, (agents, &all), day, &now, company)
        }
    };
    serde_json::from_slice(&body).ok()
}

/// The rows of a per-agent endpoint for the selected agents; a company with values of its own
/// (`company`, its app id) gets values seeded by it too. The same figures the company and group
/// answers add up.
pub(crate) fn agent_rows(
    mode: &DataMode,
    endpoint: &Endpoint,
    (all, agents): (&[super::SimAgent], &[&super::SimAgent]),
    day: Date,
    now: &SimNow,
    company: Option<&str>,
) -> Bytes {
    let prefix = company.map(|c| format!("{c}/")).unwrap_or_default();
    let items: Vec<Value> = agents
        .iter()
        .map(|agent| {
            let seed = seed(&format!("{prefix}{}", agent.id), day, now);
            let shift = shift_of(all, agent);
            let progress = progress(mode, now, day, Some(shift), company);
            let mut row = if endpoint.name == "human_duration" {
                let login = match mode {
                    DataMode::Fixtures => u32::try_from((progress * 30).min(86_400)).unwrap_or(0),
                    DataMode::Live => shift.online_seconds(now.second_of(day)),
                };
                durations(seed, u64::from(login))
            } else {
                item(endpoint, &Figures { human: Human::of(seed, progress), robot: Robot::default() })
            };
            row.insert("serviceid".to_string(), Value::String(agent.id.clone()));
            if endpoint.name == "get_service_data" {
                row.insert("groupid".to_string(), Value::String(agent.group.clone()));
            }
            Value::Object(row)
        })
        .collect();
    Bytes::from(json!({"items": items, "ret_code": "000000", "ret_msg": "成功"}).to_string())
}

/// How many quality records a query of `day` finds when the simulator keeps `records` a query:
/// today all of them; a past day [`day::day_factor`] of them by its end, numbered in the order
/// of the day's demand, so that a range up to a time of the day finds the first of them.
pub(crate) fn quality_records(records: usize, day: Date, now: &SimNow) -> usize {
    if !now.settled(day) {
        return records;
    }
    let share = day::day_factor(day) * day::demand_until(now.second_of(day));
    usize::try_from(records as u64 * share / (1000 * day::demand_of_day())).unwrap_or(records)
}

/// One page of quality records (see [`quality_records`]), spread over the agents, numbered
/// from 0; today's move between the agents with the `uptime`.
pub(crate) fn quality_page(
    source: &QualitySource,
    agents: &[super::SimAgent],
    records: usize,
    day: Date,
    (page, size): (usize, usize),
    uptime: Duration,
    now: &SimNow,
) -> Bytes {
    let total = quality_records(records, day, now);
    let start = (page - 1).saturating_mul(size).min(total);
    let end = start.saturating_add(size).min(total);
    // Inspections move between agents as time goes on; a past day's stay where they are.
    let drift = if now.settled(day) { 0 } else { usize::try_from(uptime.as_secs() / 60).unwrap_or(0) % 3 };
    let items: Vec<Value> = (start..end)
        .filter_map(|i| {
            let agent = agents.get((i + drift) % agents.len().max(1))?;
            let seed = mix(i as u64 ^ day_seed(day));
            let values = [
                (format!("{}.0", 60 + seed % 41), "100.0"),
                (format!("{}.0", 40 + seed % 41), "80.0"),
                (format!("{}.0", seed % 11), "10.0"),
                (format!("-{}.0", seed % 6), "-10.0"),
            ];
            let mut record = Map::new();
            record.insert(source.agent_key.to_string(), Value::String(agent.id.clone()));
            record.insert(source.name_key.to_string(), Value::String(agent.name.clone()));
            for ((score_key, max_key), (v, m)) in source.scores.iter().zip(values) {
                record.insert((*score_key).to_string(), Value::String(v));
                record.insert((*max_key).to_string(), Value::String(m.to_string()));
            }
            // Each record its own id (the record number of the day).
            for key in source.record_key {
                record.insert((*key).to_string(), Value::String(format!("{:016x}{i:08x}", day_seed(day))));
            }
            Some(Value::Object(record))
        })
        .collect();
    let body = match source.paging {
        Paging::PageSize => json!({"items": items, "ret_code": "000000", "ret_msg": "查询成功"}),
        Paging::PageCount => json!({
            "items": items,
            "page_count": total.div_ceil(size).max(1),
            "page_no": page,
            "page_size": size,
            "total_count": total,
            "ret_code": "000000",
            "ret_msg": "操作成功"
        }),
    };
    Bytes::from(body.to_string())
}

/// A subject's seed for one day (and, in a day that runs faster, for one simulated day).
fn seed(subject: &str, day: Date, now: &SimNow) -> u64 {
    mix(hash_str(subject) ^ day_seed(day) ^ now.seed_of(day))
}

/// Volume per hour at the peak of the demand curve: an agent's (while logged in), and the
/// company's robot's per unit of [`Robot::of`].
const PER_PEAK_HOUR: u64 = 130;

/// How much of its day a figure covers, the volume that [`Human::of`] and [`Robot::of`] scale:
/// in fixture mode 20 today, standing still; in live mode [`PER_PEAK_HOUR`] for each hour of peak
/// demand so far in the simulated day, while logged in (an agent's `shift`; the robot has none).
/// A past day's grows with the curve to the end of the range asked, by the day's end to 2000 in
/// fixture mode and to the whole day in live mode, times [`day::day_factor`]. A platform's tenant
/// (a `company` of its own) is one to four times as busy, by its id.
fn progress(mode: &DataMode, now: &SimNow, day: Date, shift: Option<Shift>, company: Option<&str>) -> u64 {
    let second = now.second_of(day);
    let settled = now.settled(day);
    if *mode == DataMode::Fixtures {
        if !settled {
            return 20;
        }
        return 2 * day::day_factor(day) * day::demand_until(second) / day::demand_of_day();
    }
    let demand = shift.map_or_else(|| day::demand_until(second), |s| s.demand_until(second));
    let size = company.map_or(1, |c| 1 + hash_str(c) % 4);
    let volume = PER_PEAK_HOUR * size * demand / 3_600_000;
    if settled { volume * day::day_factor(day) / 1000 } else { volume }
}

/// An agent's shift: the agents of a skill group take their offs in turn over the day, each
/// group from an hour of its own.
fn shift_of(agents: &[super::SimAgent], agent: &super::SimAgent) -> Shift {
    let team: Vec<&super::SimAgent> = agents.iter().filter(|a| a.group == agent.group).collect();
    let k = team.iter().position(|a| a.id == agent.id).unwrap_or(0);
    Shift::of_team(k, team.len(), hash_str(&agent.group) % u64::from(day::DAY_S))
}

/// `x` split into `(n percent of it, the rest)`, both rounded down and up: as `x` grows neither
/// part shrinks, so that counts split this way grow with their total.
fn split(x: u64, n: u64) -> (u64, u64) {
    let part = pct(x, n);
    (part, x - part)
}

/// A pseudo-random number in `lo..lo + span` from `seed` and a key.
fn pick(seed: u64, key: u64, lo: u64, span: u64) -> u64 {
    lo + mix(seed ^ key.wrapping_mul(0x9e37_79b9)) % span.max(1)
}

/// `n` percent of `x`, rounded down.
fn pct(x: u64, n: u64) -> u64 {
    x * n / 100
}

/// The human side of one agent's day, or the sum of several agents' (a group's, the company's).
/// Every figure the answers derive is a count here, so that sums stay exact.
#[derive(Debug, Default, Clone, Copy)]
struct Human {
    valid: u64,
    invalid: u64,
    self_reception: u64,
    valid_reception: u64,
    invalid_reception: u64,
    not_received: u64,
    transfer_in: u64,
    transfer_out: u64,
    black: u64,
    solved: u64,
    not_solved: u64,
    initiative: u64,
    queued: u64,
    queue_left: u64,
    /// Evaluations by score, `scores[0]` the 1s.
    scores: [u64; 5],
    invites: u64,
    invite_counts: u64,
    solution_answers: u64,
    evaluation_solved: u64,
    customer_messages: u64,
    agent_messages: u64,
    agent_words: u64,
    offline_messages: u64,
    answered_in_30s: u64,
    transfers_answered: u64,
    max_concurrent: u64,
    /// Sums of durations over the valid sessions, in seconds.
    session_seconds: u64,
    response_seconds: u64,
    first_response_seconds: u64,
    queue_seconds: u64,
}

impl Human {
    fn of(seed: u64, progress: u64) -> Human {
        let r = |key, lo, span| pick(seed, key, lo, span);
        let valid = progress * r(1, 4, 4) / 4;
        // Every count is a share of a growing one, or what a split leaves: all grow with valid.
        let (not_received, received) = split(valid, r(3, 2, 5));
        let (invalid_reception, valid_reception) = split(received, r(4, 3, 8));
        let invalid = pct(valid, r(2, 10, 25));
        let (solved, unsolved) = split(valid + invalid, r(9, 30, 40));
        let evaluations = pct(valid, r(11, 45, 20));
        // The bad scores are rounded down and the 5s take the rest: few bad reviews, even in a
        // 15-minute window of a few sessions.
        let mut scores = [0; 5];
        let mut left = evaluations;
        for (i, share) in [(0, r(15, 0, 2)), (1, r(14, 1, 2)), (2, r(13, 5, 6)), (3, r(12, 25, 16))] {
            scores[i] = pct(left, share);
            left -= scores[i];
        }
        scores[4] = left;
        let invites = pct(evaluations, r(16, 20, 40));
        let solution_answers = pct(evaluations, r(17, 60, 40));
        let transfer_out = pct(valid, r(6, 2, 8));
        let agent_messages = valid * r(19, 2, 4);
        let queue_left = pct(valid, r(10, 1, 4));
        Human {
            valid,
            invalid: pct(valid, r(2, 10, 25)),
            self_reception: pct(valid, r(5, 60, 30)),
            valid_reception,
            invalid_reception,
            not_received,
            transfer_in: pct(valid, r(7, 2, 8)),
            transfer_out,
            black: pct(valid, r(8, 0, 3)),
            solved,
            not_solved: pct(unsolved, r(20, 2, 8)),
            initiative: pct(valid, r(21, 1, 5)),
            queued: pct(valid, r(22, 20, 30)) + queue_left,
            queue_left,
            scores,
            invites,
            invite_counts: invites + pct(valid, r(23, 2, 8)),
            solution_answers,
            evaluation_solved: pct(solution_answers, r(24, 60, 35)),
            customer_messages: valid * r(18, 3, 4),
            agent_messages,
            agent_words: agent_messages * r(25, 6, 10),
            offline_messages: pct(valid, r(26, 1, 5)),
            answered_in_30s: pct(valid, r(27, 70, 29)),
            transfers_answered: pct(transfer_out, r(28, 80, 20)),
            max_concurrent: r(29, 2, 6),
            session_seconds: valid * r(30, 200, 500),
            response_seconds: valid * r(31, 20, 120),
            first_response_seconds: valid * r(32, 5, 50),
            queue_seconds: valid * r(33, 10, 120),
        }
    }

    /// Adds `other`'s figures: counts add up, the most concurrent sessions is the larger.
    fn add(&mut self, o: &Human) {
        let max_concurrent = self.max_concurrent.max(o.max_concurrent);
        let mut scores = self.scores;
        for (s, x) in scores.iter_mut().zip(o.scores) {
            *s += x;
        }
        *self = Human {
            valid: self.valid + o.valid,
            invalid: self.invalid + o.invalid,
            self_reception: self.self_reception + o.self_reception,
            valid_reception: self.valid_reception + o.valid_reception,
            invalid_reception: self.invalid_reception + o.invalid_reception,
            not_received: self.not_received + o.not_received,
            transfer_in: self.transfer_in + o.transfer_in,
            transfer_out: self.transfer_out + o.transfer_out,
            black: self.black + o.black,
            solved: self.solved + o.solved,
            not_solved: self.not_solved + o.not_solved,
            initiative: self.initiative + o.initiative,
            queued: self.queued + o.queued,
            queue_left: self.queue_left + o.queue_left,
            scores,
            invites: self.invites + o.invites,
            invite_counts: self.invite_counts + o.invite_counts,
            solution_answers: self.solution_answers + o.solution_answers,
            evaluation_solved: self.evaluation_solved + o.evaluation_solved,
            customer_messages: self.customer_messages + o.customer_messages,
            agent_messages: self.agent_messages + o.agent_messages,
            agent_words: self.agent_words + o.agent_words,
            offline_messages: self.offline_messages + o.offline_messages,
            answered_in_30s: self.answered_in_30s + o.answered_in_30s,
            transfers_answered: self.transfers_answered + o.transfers_answered,
            max_concurrent,
            session_seconds: self.session_seconds + o.session_seconds,
            response_seconds: self.response_seconds + o.response_seconds,
            first_response_seconds: self.first_response_seconds + o.first_response_seconds,
            queue_seconds: self.queue_seconds + o.queue_seconds,
        };
    }

    fn consult(&self) -> u64 {
        self.valid + self.invalid
    }

    fn evaluations(&self) -> u64 {
        self.scores.iter().sum()
    }
}

/// The company's robot figures of one day.
#[derive(Debug, Default, Clone, Copy)]
struct Robot {
    valid: u64,
    invalid: u64,
    to_human: u64,
    evaluations: u64,
    solved: u64,
    not_solved: u64,
    messages: u64,
    customer_messages: u64,
    session_seconds: u64,
}

impl Robot {
    fn of(seed: u64, progress: u64) -> Robot {
        let r = |key, lo, span| pick(seed, key, lo, span);
        // `progress` counts every agent: a sixteenth of it each.
        let consult = progress * r(1, 160, 128) / 256;
        let valid = pct(consult, r(2, 60, 25));
        let evaluations = pct(valid, r(4, 3, 10));
        let solved = pct(evaluations, r(5, 50, 40));
        Robot {
            valid,
            invalid: consult - valid,
            to_human: pct(valid, r(3, 20, 30)),
            evaluations,
            solved,
            not_solved: evaluations - solved,
            messages: valid * r(6, 2, 3),
            customer_messages: valid * r(7, 1, 2),
            session_seconds: valid * r(8, 5, 60),
        }
    }
}

/// One answer's figures: the human side of its agents and the company's robot.
struct Figures {
    human: Human,
    robot: Robot,
}

/// `n / d` as the vendor writes a percentage; `0.00%` when `d` is 0.
fn ratio(n: u64, d: u64) -> String {
    let hundredths = (n * 10_000).checked_div(d).unwrap_or(0);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// `total / n` seconds as `HH:MM:SS`; `00:00:00` when `n` is 0.
fn hms(total: u64, n: u64) -> String {
    let s = total.checked_div(n).unwrap_or(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// `n / d` with two decimals, as the vendor writes averages.
fn decimal(n: u64, d: u64) -> String {
    let hundredths = (n * 100).checked_div(d).unwrap_or(0);
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// The fields of `endpoint` from `f`, in the vendor's string formats; the identities they keep
/// are those the documents' examples fit (see `sobot_exporter_core::sources::sobot::endpoints::NOTES`).
fn item(endpoint: &Endpoint, f: &Figures) -> Map<String, Value> {
    let (h, r) = (&f.human, &f.robot);
    let n = |x: u64| x.to_string();
    let evaluations = h.evaluations();
    let pairs: Vec<(&str, String)> = match endpoint.name {
        "robot_session" => vec![
            ("consult_session", n(r.valid + r.invalid)),
            ("valid_session", n(r.valid)),
            ("invalid_session", n(r.invalid)),
            ("valid_reception_rate", ratio(r.valid, r.valid + r.invalid)),
            ("self_reception_session", n(r.valid - r.to_human)),
            ("self_reception_rate", ratio(r.valid - r.to_human, r.valid)),
            ("to_human_session", n(r.to_human)),
            ("to_human_session_rate", ratio(r.to_human, r.valid)),
            ("avg_session_duration", hms(r.session_seconds, r.valid)),
        ],
        "robot_satisfaction" => vec![
            ("effect_session_count", n(r.valid)),
            ("total_times", n(r.evaluations)),
            ("comment_rate", ratio(r.evaluations, r.valid)),
            ("solved", n(r.solved)),
            ("not_solved", n(r.not_solved)),
            ("resolution_rate", ratio(r.solved, r.evaluations)),
        ],
        "human_session" => vec![
            ("consult_session", n(h.consult())),
            ("self_reception_session", n(h.self_reception)),
            ("self_reception_session_rate", ratio(h.self_reception, h.valid)),
            ("valid_session", n(h.valid)),
            ("invalid_session", n(h.invalid)),
            ("valid_session_rate", ratio(h.valid, h.consult())),
            ("valid_reception_session", n(h.valid_reception)),
            ("invalid_reception_session", n(h.invalid_reception)),
            ("invalid_reception_rate", ratio(h.invalid_reception, h.valid)),
            ("not_reception_session", n(h.not_received)),
            ("not_reception_session_rate", ratio(h.not_received, h.valid)),
            ("transfer_session", n(h.transfer_out)),
            ("black_session", n(h.black)),
            ("avg_session_duration", hms(h.session_seconds, h.valid)),
            ("solved_session", n(h.solved)),
            ("not_solved_session", n(h.not_solved)),
            ("not_mark_is_solved", n(h.consult() - h.solved - h.not_solved)),
            ("max_meantime_recption", n(h.max_concurrent)),
            ("initiative_session", n(h.initiative)),
            ("valid_reception_rate", ratio(h.valid_reception, h.valid)),
            ("transfer_in", n(h.transfer_in)),
            ("transfer_out", n(h.transfer_out)),
            ("response_time_avg_duration", hms(h.response_seconds, h.valid)),
            ("queue_accept_zb", ratio(h.queued - h.queue_left, h.queued)),
            ("avg_queue_accept_duration", hms(h.queue_seconds, h.valid)),
            ("session_leave_in_queue", n(h.queue_left)),
            ("accept_rate", ratio(h.consult() - h.queue_left, h.consult())),
        ],
        "human_satisfaction" => {
            let s = h.scores;
            let points: u64 = s.iter().zip(1..).map(|(count, score)| count * score).sum();
            vec![
                ("effect_session_count", n(h.valid)),
                ("total_times", n(evaluations)),
                ("comment_rate", ratio(evaluations, h.valid)),
                ("initiative", n(evaluations - h.invites)),
                ("initiative_rate", ratio(evaluations - h.invites, evaluations)),
                ("invites_rate", ratio(h.invites, evaluations)),
                ("invite_counts", n(h.invite_counts)),
                ("invites", n(h.invites)),
                ("solved_count", n(h.solution_answers)),
                ("solved", n(h.evaluation_solved)),
                ("not_solved", n(h.solution_answers - h.evaluation_solved)),
                ("solved_rate", ratio(h.evaluation_solved, h.solution_answers)),
                ("avg_num", decimal(points, evaluations)),
                ("good", n(s[4])),
                ("good_rate", ratio(s[4], evaluations)),
                ("middle", n(s[3] + s[2])),
                ("middle_rate", ratio(s[3] + s[2], evaluations)),
                ("bad", n(s[1] + s[0])),
                ("bad_rate", ratio(s[1] + s[0], evaluations)),
                // As the document: the company's answer lists no score5.
                ("score4", n(s[3])),
                ("score3", n(s[2])),
                ("score2", n(s[1])),
                ("score1", n(s[0])),
            ]
        }
        "customer_session" => {
            let valid = r.valid + h.valid - r.to_human.min(h.valid);
            let invalid = r.invalid + h.invalid;
            let seconds = r.session_seconds + h.session_seconds;
            vec![
                ("total_consult_session", n(valid + invalid)),
                ("total_valid_session", n(valid)),
                ("total_valid_session_rate", ratio(valid, valid + invalid)),
                ("avg_session_duration", hms(h.session_seconds, valid)),
                ("avg_total_session_duration", hms(seconds, valid)),
                ("total_invalid_session", n(invalid)),
            ]
        }
        "message_stats" => {
            let sessions = r.valid + h.valid - r.to_human.min(h.valid);
            let customer = r.customer_messages + h.customer_messages;
            let all = r.messages + customer + h.agent_messages;
            let human = h.customer_messages + h.agent_messages;
            vec![
                ("total_message", n(all)),
                ("robot_message", n(r.messages)),
                ("total_customer_message", n(customer)),
                ("service_message", n(h.agent_messages)),
                ("avg_message", decimal(all, sessions)),
                ("avg_customer_message", decimal(customer, sessions)),
                ("avg_service_messge", decimal(h.agent_messages, sessions)),
                ("customer_to_robot_message", n(r.customer_messages)),
                ("robot_avg_message", decimal(r.messages + r.customer_messages, r.valid)),
                ("robot_avg_customer_message", decimal(r.customer_messages, r.valid)),
                ("total_human_message", n(human)),
                ("customer_to_service_message", n(h.customer_messages)),
                ("answer_than", ratio(h.agent_messages, h.customer_messages)),
                ("human_avg_message", decimal(human, h.valid)),
                ("human_avg_customer_message", decimal(h.customer_messages, h.valid)),
                ("human_avg_service_message", decimal(h.agent_messages, h.valid)),
                ("service_word", n(h.agent_words)),
                ("avg_service_word", decimal(h.agent_words, h.valid)),
                ("service_offline_num", n(h.offline_messages)),
            ]
        }
        "get_service_data" => {
            let s = h.scores;
            vec![
                ("valid_session", n(h.valid)),
                ("valid_reception_session", n(h.valid_reception)),
                ("not_reception_session", n(h.not_received)),
                ("invalid_reception_session", n(h.invalid_reception)),
                ("transfer_out", n(h.transfer_out)),
                ("score5", n(s[4])),
                ("score4", n(s[3])),
                ("score3", n(s[2])),
                ("score2", n(s[1])),
                ("score1", n(s[0])),
                ("total_times", n(evaluations)),
                ("response_in30s_rate", ratio(h.answered_in_30s, h.valid)),
                ("avg_first_response_time", hms(h.first_response_seconds, h.valid)),
                ("transfer_first_response_rate", ratio(h.transfers_answered, h.transfer_out)),
            ]
        }
        _ => Vec::new(),
    };
    pairs.into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect()
}

/// An agent's login, status and break durations (human_duration) after `logged_in` seconds
/// logged in: online and busy within the login time, the rest small.
fn durations(seed: u64, logged_in: u64) -> Map<String, Value> {
    let r = |key, lo, span| pick(seed, key, lo, span);
    let login = logged_in * r(1, 70, 30) / 100;
    let online = pct(login, r(2, 70, 25));
    let busy = pct(online, r(3, 40, 40));
    let rest = [
        ("train_duration", 4),
        ("eat_duration", 5),
        ("meet_duration", 6),
        ("active_duration", 7),
        ("rest_duration", 8),
    ];
    let mut row = Map::new();
    for (key, secs) in [("login_duration", login), ("online_duration", online), ("busy_duration", busy)] {
        row.insert(key.to_string(), Value::String(hms(secs, 1)));
    }
    for (key, k) in rest {
        row.insert(key.to_string(), Value::String(hms(pct(login, r(k, 1, 5)), 1)));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use sobot_exporter_core::sources::sobot::endpoints::ENDPOINTS;
    use sobot_exporter_core::value::{Parsed, parse_str};

    #[test]
    fn every_endpoint_has_a_fixture_and_its_values_parse() {
        let mut missing = Vec::new();
        for ep in ENDPOINTS {
            let fixture = sobot_fixture(ep.name).unwrap_or_else(|| panic!("{} has no fixture", ep.name));
            let body: Value = serde_json::from_str(fixture).expect("fixture is JSON");
            let item = match ep.rows {
                sobot_exporter_core::sources::sobot::endpoints::Rows::Item => &body["item"],
                sobot_exporter_core::sources::sobot::endpoints::Rows::Items(_) => &body["items"][0],
            };
            for f in ep.fields {
                match item[f.key].as_str() {
                    Some(raw) => {
                        assert!(matches!(parse_str(raw, f.unit), Parsed::Value(_)), "{}.{}", ep.name, f.key)
                    }
                    None => missing.push((ep.name, f.key)),
                }
            }
        }
        // The document's example of §2.5 omits one field of its own table.
        assert_eq!(missing, [("human_satisfaction", "invite_counts")]);
        for source in sobot_exporter_core::sources::sobot::quality::QUALITY_SOURCES {
            let fixture =
                sobot_fixture(source.name).unwrap_or_else(|| panic!("{} has no fixture", source.name));
            let body: Value = serde_json::from_str(fixture).expect("fixture is JSON");
            for (score, max) in source.scores {
                assert!(
                    body["items"][0][score].is_string() && body["items"][0][max].is_string(),
                    "{}",
                    source.name
                );
            }
        }
    }

    #[test]
    fn live_values_parse_and_move() {
        let agents = crate::population(2, 3);
        let selected: Vec<&crate::SimAgent> = agents.iter().collect();
        let day = jiff::civil::date(2026, 11, 23);
        let (morning, noon) = (SimNow::at_second(day, 9 * 3600), SimNow::at_second(day, 12 * 3600));
        for ep in ENDPOINTS {
            let answer = |day, now: &SimNow| match ep.rows {
                Rows::Item => statistics(&DataMode::Live, ep, day, None, now, None, &agents),
                Rows::Items(_) => agent_rows(&DataMode::Live, ep, (&agents, &selected), day, now, None),
            };
            let a = answer(day, &morning);
            assert_ne!(a, answer(day, &noon), "{} does not move", ep.name);
            let yesterday = day.yesterday().expect("a day before");
            assert_eq!(
                answer(yesterday, &morning),
                answer(yesterday, &noon),
                "{}: a past day is settled",
                ep.name
            );
            let body: Value = serde_json::from_slice(&a).expect("JSON");
            let item = match ep.rows {
                Rows::Item => &body["item"],
                Rows::Items(_) => &body["items"][0],
            };
            for f in ep.fields {
                let raw = item[f.key].as_str().unwrap_or("");
                assert!(matches!(parse_str(raw, f.unit), Parsed::Value(_)), "{}.{} = {raw}", ep.name, f.key);
            }
        }
    }

    #[test]
    fn a_company_of_its_own_stands_still_and_differs() {
        let day = jiff::civil::date(2026, 11, 23);
        let ep = ENDPOINTS.iter().find(|e| e.name == "robot_session").expect("robot_session");
        let (now, later) = (SimNow::at_second(day, 3600), SimNow::at_second(day, 4200));
        let agents = company_agents("app-a");
        let statistics = |mode, ep, day, group, now: &SimNow, company| {
            statistics(mode, ep, day, group, now, company, &agents)
        };
        let first = statistics(&DataMode::Fixtures, ep, day, None, &now, None);
        assert_eq!(first, Bytes::from_static(sobot_fixture("robot_session").unwrap_or("").as_bytes()));
        let a = statistics(&DataMode::Fixtures, ep, day, None, &now, Some("app-a"));
        let b = statistics(&DataMode::Fixtures, ep, day, None, &now, Some("app-b"));
        assert_eq!(
            a,
            statistics(&DataMode::Fixtures, ep, day, None, &later, Some("app-a")),
            "fixture mode stands still"
        );
        assert_ne!(a, b);
        assert_ne!(a, first);
        assert_ne!(company_agents("app-a"), company_agents("app-b"));
        assert_eq!(company_agents("app-a"), company_agents("app-a"));
    }
}
