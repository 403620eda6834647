//! THE TABLE: every Sobot statistics endpoint the exporter reads, and every field it exports.
//!
//! Adding an endpoint or a field touches this file only (plus a fixture in `tests/fixtures/sobot/`):
//! the collectors, the simulator, the help texts and the metrics reference are all driven by it.

use crate::table::{DateFormat, Field, Method, field, labelled};
use crate::value::Unit;

/// The shape of an endpoint's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// One `item` object of company-wide (or, filtered by one group, group-wide) figures.
    Item,
    /// An `items` list of rows, one per agent: `(label, JSON key)` pairs that identify a row;
    /// the first is the agent.
    Items(&'static [(&'static str, &'static str)]),
}

/// A statistics endpoint and the fields it exports.
#[derive(Debug)]
pub struct Endpoint {
    /// Collector and endpoint name, the last path segment.
    pub name: &'static str,
    /// Path below the base URL.
    pub path: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Accepted date format.
    pub date_format: DateFormat,
    /// Section of `sobot-online-statistics.md` that specifies it.
    pub section: &'static str,
    /// The section's Chinese title.
    pub title_zh: &'static str,
    /// Whether the endpoint accepts `groupids`/`serviceids` filters.
    pub filters: bool,
    /// The shape of the answer.
    pub rows: Rows,
    /// The exported fields.
    pub fields: &'static [Field],
}

impl Endpoint {
    /// The per-group variant of a metric name: `sobot_human_…` → `sobot_group_human_…`, so that
    /// a company total and its groups never share a name (and `sum()` never double counts).
    pub(crate) fn group_metric(metric: &str) -> String {
        format!("sobot_group_{}", metric.strip_prefix("sobot_").unwrap_or(metric))
    }

    /// Looks an endpoint up by name.
    pub fn by_name(name: &str) -> Option<&'static Endpoint> {
        ENDPOINTS.iter().find(|e| e.name == name)
    }

    /// The fields exported under `metric` (several for a family such as `score="1".."5"`).
    pub(crate) fn fields_of(&self, metric: &str) -> Vec<&'static Field> {
        self.fields.iter().filter(|f| f.metric == metric).collect()
    }
}

/// The note of [`NOTES`] on `metric`, if any.
pub(crate) fn note(metric: &str) -> Option<&'static str> {
    NOTES.iter().find(|(m, _)| *m == metric).map(|(_, n)| *n)
}

use Unit::{Count, Number, Ratio, Seconds};

/// What a metric's HELP text and the reference add to the field's name: for a ratio its
/// numerator and denominator as far as the documents define them (they mostly give the Chinese
/// name only: a formula is given as "fits" where the document's example values bear it out, and
/// "the document gives no formula" where they do not), and how overlapping figures differ.
#[rustfmt::skip]
pub(crate) static NOTES: &[(&str, &str)] = &[
    ("sobot_robot_valid_reception_ratio", "valid_session / consult_session: the document gives no formula; its example fits (43 / 63 = 68.25 %)"),
    ("sobot_robot_self_reception_ratio", "self_reception_session / valid_session: the document gives no formula; its example fits (23 / 43 = 53.49 %)"),
    ("sobot_robot_to_human_ratio", "to_human_session / valid_session: the document gives no formula; its example fits (20 / 43 = 46.51 %)"),
    ("sobot_robot_satisfaction_evaluation_ratio", "total_times / effect_session_count: the document gives no formula; its example fits (1 / 43 = 2.33 %)"),
    ("sobot_robot_satisfaction_solved_ratio", "solved over total_times, or over solved + not_solved: the document gives no formula, and its example (0 of 1) cannot tell them apart"),
    ("sobot_human_valid_session_ratio", "valid_session / consult_session: the document gives no formula; its example fits (94 / 132 = 71.21 %)"),
    ("sobot_human_self_reception_ratio", "self_reception_session / valid_session: the document gives no formula; its example fits (73 / 94 = 77.66 %)"),
    ("sobot_human_invalid_reception_ratio", "invalid_reception_session / valid_session: the document gives no formula; its example fits (19 / 94 = 20.21 %)"),
    ("sobot_human_not_received_ratio", "not_reception_session / valid_session: the document gives no formula; its example fits (34 / 94 = 36.17 %). Valid, invalid and not received receptions split the valid sessions (41 + 19 + 34 = 94), so this is 1 minus the valid and invalid reception ratios; it is not 1 minus accept_ratio (97.26 % + 36.17 % > 100 % in the example)"),
    ("sobot_human_valid_reception_ratio", "valid_reception_session / valid_session: the document gives no formula; its example fits (41 / 94 = 43.62 %). A share of the valid sessions by how they were received, not a connect ratio (see accept_ratio and queue_accept_ratio)"),
    ("sobot_human_queue_accept_ratio", "The document gives no formula and the answer no count of queued sessions; its example (66.67 %) fits no ratio of the answer's counts. By its name (排队接通率), of the sessions that queued, those that reached an agent; session_leave_in_queue counts those that left the queue. Unlike accept_ratio it covers queued sessions only"),
    ("sobot_human_accept_ratio", "The document gives no formula; its example (97.26 %) fits no ratio of the answer's counts. By its name (接通率), of the sessions that asked for an agent, those connected, queued or not; not over valid sessions like valid_reception_ratio and not_received_ratio"),
    ("sobot_human_satisfaction_evaluation_ratio", "total_times / effect_session_count: the document gives no formula; its example fits (5 / 94 = 5.32 %)"),
    ("sobot_human_satisfaction_customer_initiated_ratio", "initiative / total_times: the document gives no formula; its example fits (3 / 5 = 60.00 %)"),
    ("sobot_human_satisfaction_invited_ratio", "The document gives no formula; its example's -60.00 % fits no ratio of its counts (invites / total_times would be 2 / 5 = 40 %)"),
    ("sobot_human_satisfaction_solved_ratio", "solved / solved_count: the document gives no formula; its example fits (5 / 5 = 100.00 %)"),
    ("sobot_human_satisfaction_good_review_ratio", "good / total_times: the document gives no formula; its example fits (2 / 5 = 40.00 %)"),
    ("sobot_human_satisfaction_neutral_review_ratio", "middle / total_times: the document gives no formula; its example fits (2 / 5 = 40.00 %)"),
    ("sobot_human_satisfaction_bad_review_ratio", "bad / total_times: the document gives no formula; its example fits (1 / 5 = 20.00 %)"),
    ("sobot_human_satisfaction_avg_score", "The document gives no scale; its example fits the five-point one (see sobot_human_satisfaction_score_evaluations)"),
    ("sobot_human_satisfaction_score_evaluations", "Company scores run 1-4 because the document of this endpoint lists score4 to score1 only, while get_service_data lists score5 to score1 per agent. Its example fits a five-point scale whose 5s this endpoint leaves out: 5 evaluations, scores 4, 3 and 2 once each, avg_num 3.80 = (2 x 5 + 4 + 3 + 2) / 5. So these do not add up to the evaluations: the 5s are sobot_human_satisfaction_evaluations minus their sum"),
    ("sobot_customer_consult_sessions", "Sessions, not customers: 客户会话 counts every session, robot and human, once. total_valid_session + total_invalid_session in the document's example (117 + 53 = 170)"),
    ("sobot_customer_valid_sessions", "Sessions, not customers. The document's example fits robot valid + human valid - robot sessions transferred to a human (43 + 94 - 20 = 117)"),
    ("sobot_customer_valid_session_ratio", "Sessions, not customers. total_valid_session / total_consult_session: the document gives no formula; its example fits (117 / 170 = 68.82 %)"),
    ("sobot_customer_invalid_sessions", "Sessions, not customers"),
    ("sobot_customer_avg_reception_duration_seconds", "Over sessions, not customers"),
    ("sobot_customer_avg_session_duration_seconds", "Over sessions, not customers"),
    ("sobot_messages_all", "robot_message + total_customer_message + service_message in the document's example (78 + 355 + 221 = 654)"),
    ("sobot_messages_answer_ratio", "service_message / customer_to_service_message: the document gives no formula; its example fits (221 / 277 = 79.78 %). Messages per message, so it may exceed 1"),
    ("sobot_agent_score_evaluations", "Agent scores run 1-5: the document of get_service_data lists score5 to score1, that of the company's human_satisfaction score4 to score1 only. It gives no formula linking them to total_times (its example's values are all 0)"),
    ("sobot_agent_response_in_30s_ratio", "The document gives no formula and names no denominator (its example's values are 0.00 %)"),
    ("sobot_agent_transfer_first_response_ratio", "The document gives no formula and names no denominator (its example's values are 0.00 %)"),
];

/// Every statistics endpoint, in the documents' order.
#[rustfmt::skip]
pub static ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: "robot_session",
        path: "/api/wb/5/data/robot_session",
        method: Method::Post,
        date_format: DateFormat::Hour,
        section: "2.2",
        title_zh: "机器人会话统计",
        filters: false,
        rows: Rows::Item,
        fields: &[
            field("consult_session", "sobot_robot_consult_sessions", Count, "Robot consultation sessions", "机器人咨询会话"),
            field("valid_session", "sobot_robot_valid_sessions", Count, "Robot valid sessions", "机器人有效会话"),
            field("invalid_session", "sobot_robot_invalid_sessions", Count, "Robot invalid sessions", "机器人无效会话"),
            field("valid_reception_rate", "sobot_robot_valid_reception_ratio", Ratio, "Robot valid reception ratio", "有效接待率"),
            field("self_reception_session", "sobot_robot_self_reception_sessions", Count, "Sessions the robot handled alone", "机器人独立接待会话"),
            field("self_reception_rate", "sobot_robot_self_reception_ratio", Ratio, "Ratio of sessions the robot handled alone", "独立接待率"),
            field("to_human_session", "sobot_robot_to_human_sessions", Count, "Robot sessions transferred to a human agent", "转人工会话"),
            field("to_human_session_rate", "sobot_robot_to_human_ratio", Ratio, "Ratio of robot sessions transferred to a human agent", "转人工会话率"),
            field("avg_session_duration", "sobot_robot_avg_session_duration_seconds", Seconds, "Average robot session duration", "平均会话时长"),
        ],
    },
    Endpoint {
        name: "robot_satisfaction",
        path: "/api/wb/5/data/robot_satisfaction",
        method: Method::Post,
        date_format: DateFormat::Day,
        section: "2.3",
        title_zh: "机器人满意度统计",
        filters: false,
        rows: Rows::Item,
        fields: &[
            field("effect_session_count", "sobot_robot_satisfaction_valid_sessions", Count, "Robot valid sessions", "机器人有效会话总数"),
            field("total_times", "sobot_robot_satisfaction_evaluations", Count, "Robot evaluations received", "已评价总数"),
            field("comment_rate", "sobot_robot_satisfaction_evaluation_ratio", Ratio, "Ratio of robot sessions evaluated", "参评率"),
            field("solved", "sobot_robot_satisfaction_solved", Count, "Evaluations saying solved", "已解决数"),
            field("not_solved", "sobot_robot_satisfaction_not_solved", Count, "Evaluations saying not solved", "未解决数"),
            field("resolution_rate", "sobot_robot_satisfaction_solved_ratio", Ratio, "Ratio of evaluations saying solved", "已解决率"),
        ],
    },
    Endpoint {
        name: "human_session",
        path: "/api/wb/5/data/human_session",
        method: Method::Post,
        date_format: DateFormat::Hour,
        section: "2.4",
        title_zh: "人工会话统计",
        filters: true,
        rows: Rows::Item,
        fields: &[
            field("consult_session", "sobot_human_consult_sessions", Count, "Human consultation sessions", "人工咨询会话"),
            field("self_reception_session", "sobot_human_self_reception_sessions", Count, "Sessions handled by a human agent alone", "人工独立接待会话"),
            field("self_reception_session_rate", "sobot_human_self_reception_ratio", Ratio, "Ratio of sessions handled by a human agent alone", "人工独立接待会话占比"),
            field("valid_session", "sobot_human_valid_sessions", Count, "Human valid sessions", "人工有效会话"),
            field("invalid_session", "sobot_human_invalid_sessions", Count, "Human invalid sessions", "人工无效会话"),
            field("valid_session_rate", "sobot_human_valid_session_ratio", Ratio, "Human valid session ratio", "人工有效会话率"),
            field("valid_reception_session", "sobot_human_valid_reception_sessions", Count, "Human valid reception sessions", "人工有效接待会话"),
            field("invalid_reception_session", "sobot_human_invalid_reception_sessions", Count, "Human invalid reception sessions", "人工无效接待会话"),
            field("invalid_reception_rate", "sobot_human_invalid_reception_ratio", Ratio, "Human invalid reception ratio", "人工无效接待率"),
            field("not_reception_session", "sobot_human_not_received_sessions", Count, "Sessions no human agent received", "人工未接待会话"),
            field("not_reception_session_rate", "sobot_human_not_received_ratio", Ratio, "Ratio of sessions no human agent received", "人工未接待会话率"),
            field("transfer_session", "sobot_human_transfer_sessions", Count, "Transferred sessions", "转接会话"),
            field("black_session", "sobot_human_blacklisted_sessions", Count, "Sessions whose customer was blacklisted", "拉黑会话"),
            field("avg_session_duration", "sobot_human_avg_session_duration_seconds", Seconds, "Average human reception duration", "平均人工接待时长"),
            field("solved_session", "sobot_human_solved_sessions", Count, "Sessions marked solved", "已解决会话"),
            field("not_solved_session", "sobot_human_not_solved_sessions", Count, "Sessions marked not solved", "未解决会话"),
            field("not_mark_is_solved", "sobot_human_unmarked_sessions", Count, "Sessions not marked solved or not solved", "未标注是否解决会话"),
            field("max_meantime_recption", "sobot_human_max_concurrent_sessions", Count, "Most sessions received at the same time", "最大同时接待会话"),
            field("initiative_session", "sobot_human_agent_initiated_sessions", Count, "Sessions started by an agent", "主动发起会话量"),
            field("valid_reception_rate", "sobot_human_valid_reception_ratio", Ratio, "Human valid reception ratio", "有效接待率"),
            field("transfer_in", "sobot_human_transfer_in_sessions", Count, "Sessions transferred in", "转入会话"),
            field("transfer_out", "sobot_human_transfer_out_sessions", Count, "Sessions transferred out", "转出会话"),
            field("response_time_avg_duration", "sobot_human_avg_response_time_seconds", Seconds, "Average agent response time", "平均响应时长"),
            field("queue_accept_zb", "sobot_human_queue_accept_ratio", Ratio, "Ratio of queued sessions that were connected", "排队接通率"),
            field("avg_queue_accept_duration", "sobot_human_avg_queue_wait_seconds", Seconds, "Average queue time until connected", "平均排队接通时长"),
            field("session_leave_in_queue", "sobot_human_queue_abandoned_sessions", Count, "Sessions that left while queued", "排队离开会话"),
            field("accept_rate", "sobot_human_accept_ratio", Ratio, "Connect ratio", "接通率"),
        ],
    },
    Endpoint {
        name: "human_satisfaction",
        path: "/api/wb/5/data/human_satisfaction",
        method: Method::Post,
        date_format: DateFormat::Hour,
        section: "2.5",
        title_zh: "人工满意度统计",
        filters: true,
        rows: Rows::Item,
        fields: &[
            field("effect_session_count", "sobot_human_satisfaction_valid_sessions", Count, "Human valid sessions", "人工有效会话总数"),
            field("total_times", "sobot_human_satisfaction_evaluations", Count, "Evaluations received", "已评价总数"),
            field("comment_rate", "sobot_human_satisfaction_evaluation_ratio", Ratio, "Ratio of sessions evaluated", "参评率"),
            field("initiative", "sobot_human_satisfaction_customer_initiated_evaluations", Count, "Evaluations the customer started", "客户主动参评"),
            field("initiative_rate", "sobot_human_satisfaction_customer_initiated_ratio", Ratio, "Share of evaluations the customer started", "客户主动参评占比"),
            field("invites_rate", "sobot_human_satisfaction_invited_ratio", Ratio, "Share of evaluations after an agent's invitation", "客服邀请参评占比"),
            field("invite_counts", "sobot_human_satisfaction_invitations", Count, "Evaluation invitations sent by agents", "客服邀评数"),
            field("invites", "sobot_human_satisfaction_invited_evaluations", Count, "Evaluations after an agent's invitation", "客服邀请参评"),
            field("solved_count", "sobot_human_satisfaction_solution_answers", Count, "Evaluations answering whether it was solved", "评价解决总数"),
            field("solved", "sobot_human_satisfaction_solved", Count, "Evaluations saying solved", "已解决数"),
            field("not_solved", "sobot_human_satisfaction_not_solved", Count, "Evaluations saying not solved", "未解决数"),
            field("solved_rate", "sobot_human_satisfaction_solved_ratio", Ratio, "Ratio of evaluations saying solved", "已解决率"),
            field("avg_num", "sobot_human_satisfaction_avg_score", Number, "Average evaluation score", "平均分"),
            field("good", "sobot_human_satisfaction_good_reviews", Count, "Good reviews", "好评数"),
            field("good_rate", "sobot_human_satisfaction_good_review_ratio", Ratio, "Good review ratio", "好评率"),
            field("middle", "sobot_human_satisfaction_neutral_reviews", Count, "Neutral reviews", "中评数"),
            field("middle_rate", "sobot_human_satisfaction_neutral_review_ratio", Ratio, "Neutral review ratio", "中评率"),
            field("bad", "sobot_human_satisfaction_bad_reviews", Count, "Bad reviews", "差评数"),
            field("bad_rate", "sobot_human_satisfaction_bad_review_ratio", Ratio, "Bad review ratio", "差评率"),
            labelled("score4", "sobot_human_satisfaction_score_evaluations", Count, &[("score", "4")], "Evaluations by score", "4分数"),
            labelled("score3", "sobot_human_satisfaction_score_evaluations", Count, &[("score", "3")], "Evaluations by score", "3分数"),
            labelled("score2", "sobot_human_satisfaction_score_evaluations", Count, &[("score", "2")], "Evaluations by score", "2分数"),
            labelled("score1", "sobot_human_satisfaction_score_evaluations", Count, &[("score", "1")], "Evaluations by score", "1分数"),
        ],
    },
    Endpoint {
        name: "customer_session",
        path: "/api/wb/5/data/customer_session",
        method: Method::Post,
        date_format: DateFormat::Day,
        section: "2.6",
        title_zh: "客户会话统计",
        filters: false,
        rows: Rows::Item,
        fields: &[
            field("total_consult_session", "sobot_customer_consult_sessions", Count, "Consultation sessions, robot and human", "总咨询会话"),
            field("total_valid_session", "sobot_customer_valid_sessions", Count, "Valid sessions, robot and human", "总有效会话"),
            field("total_valid_session_rate", "sobot_customer_valid_session_ratio", Ratio, "Valid session ratio, robot and human", "总有效会话率"),
            field("avg_session_duration", "sobot_customer_avg_reception_duration_seconds", Seconds, "Average reception duration", "平均总会话接待时长"),
            field("avg_total_session_duration", "sobot_customer_avg_session_duration_seconds", Seconds, "Average session duration", "平均总会话时长"),
            field("total_invalid_session", "sobot_customer_invalid_sessions", Count, "Invalid sessions, robot and human", "总无效会话"),
        ],
    },
    Endpoint {
        name: "message_stats",
        path: "/api/wb/5/data/message_stats",
        method: Method::Post,
        date_format: DateFormat::Day,
        section: "2.7",
        title_zh: "会话消息统计",
        filters: false,
        rows: Rows::Item,
        fields: &[
            field("total_message", "sobot_messages_all", Count, "Messages in all sessions", "总会话消息数"),
            field("robot_message", "sobot_messages_robot", Count, "Messages sent by the robot", "机器人消息数"),
            field("total_customer_message", "sobot_messages_customer", Count, "Messages sent by customers", "客户消息数"),
            field("service_message", "sobot_messages_agent", Count, "Messages sent by agents", "客服消息数"),
            field("avg_message", "sobot_messages_per_session_avg", Number, "Average messages per session", "平均每会话消息数"),
            field("avg_customer_message", "sobot_messages_customer_per_session_avg", Number, "Average customer messages per session", "平均每会话客户消息数"),
            field("avg_service_messge", "sobot_messages_agent_per_session_avg", Number, "Average agent messages per session", "平均每会话客服消息数"),
            field("customer_to_robot_message", "sobot_messages_robot_session_customer", Count, "Customer messages in robot sessions", "客户消息数(机器人会话)"),
            field("robot_avg_message", "sobot_messages_robot_session_per_session_avg", Number, "Average messages per robot session", "平均每会话消息数(机器人会话)"),
            field("robot_avg_customer_message", "sobot_messages_robot_session_customer_per_session_avg", Number, "Average customer messages per robot session", "平均每会话客户消息数(机器人会话)"),
            field("total_human_message", "sobot_messages_human_session_all", Count, "Messages in human sessions", "总人工会话消息数"),
            field("customer_to_service_message", "sobot_messages_human_session_customer", Count, "Customer messages in human sessions", "客户消息数(人工会话)"),
            field("answer_than", "sobot_messages_answer_ratio", Ratio, "Agent answers per customer question", "答问比"),
            field("human_avg_message", "sobot_messages_human_session_per_session_avg", Number, "Average messages per human session", "平均每会话消息数(人工会话)"),
            field("human_avg_customer_message", "sobot_messages_human_session_customer_per_session_avg", Number, "Average customer messages per human session", "平均每会话客户消息数(人工会话)"),
            field("human_avg_service_message", "sobot_messages_human_session_agent_per_session_avg", Number, "Average agent messages per human session", "平均每会话客服消息数(人工会话)"),
            field("service_word", "sobot_messages_agent_words", Count, "Words written by agents", "客服字数"),
            field("avg_service_word", "sobot_messages_agent_words_per_session_avg", Number, "Average words written by agents per session", "平均每会话客服字数"),
            field("service_offline_num", "sobot_messages_agent_offline", Count, "Offline messages to agents", "客服离线消息数"),
        ],
    },
    Endpoint {
        name: "get_service_data",
        path: "/api/wb/5/data/get_service_data",
        method: Method::Post,
        date_format: DateFormat::Hour,
        section: "2.11",
        title_zh: "客服统计",
        filters: true,
        rows: Rows::Items(&[("agent", "serviceid"), ("group", "groupid")]),
        fields: &[
            field("valid_session", "sobot_agent_valid_sessions", Count, "Valid sessions of the agent", "人工有效会话"),
            field("valid_reception_session", "sobot_agent_valid_reception_sessions", Count, "Valid reception sessions of the agent", "人工有效接待会话"),
            field("not_reception_session", "sobot_agent_not_received_sessions", Count, "Sessions the agent did not receive", "人工未接待会话"),
            field("invalid_reception_session", "sobot_agent_invalid_reception_sessions", Count, "Invalid reception sessions of the agent", "人工无效接待会话"),
            field("transfer_out", "sobot_agent_transfer_out_sessions", Count, "Sessions the agent transferred out", "转出会话"),
            labelled("score5", "sobot_agent_score_evaluations", Count, &[("score", "5")], "Evaluations of the agent by score", "5分数"),
            labelled("score4", "sobot_agent_score_evaluations", Count, &[("score", "4")], "Evaluations of the agent by score", "4分数"),
            labelled("score3", "sobot_agent_score_evaluations", Count, &[("score", "3")], "Evaluations of the agent by score", "3分数"),
            labelled("score2", "sobot_agent_score_evaluations", Count, &[("score", "2")], "Evaluations of the agent by score", "2分数"),
            labelled("score1", "sobot_agent_score_evaluations", Count, &[("score", "1")], "Evaluations of the agent by score", "1分数"),
            field("total_times", "sobot_agent_evaluations", Count, "Evaluations of the agent", "已评价总数"),
            field("response_in30s_rate", "sobot_agent_response_in_30s_ratio", Ratio, "Ratio of sessions answered within 30 s", "30s应答率"),
            field("avg_first_response_time", "sobot_agent_avg_first_response_time_seconds", Seconds, "Average first response time", "平均首次响应时长"),
            field("transfer_first_response_rate", "sobot_agent_transfer_first_response_ratio", Ratio, "Ratio of transferred sessions answered", "转接后首次响应率"),
        ],
    },
    Endpoint {
        name: "human_duration",
        path: "/api/wb/5/data/human_duration",
        method: Method::Post,
        date_format: DateFormat::Day,
        section: "2.12",
        title_zh: "客服登录时长统计",
        filters: true,
        rows: Rows::Items(&[("agent", "serviceid")]),
        fields: &[
            field("login_duration", "sobot_agent_login_seconds", Seconds, "Time logged in", "登录时长"),
            field("online_duration", "sobot_agent_online_seconds", Seconds, "Time online", "在线时长"),
            field("busy_duration", "sobot_agent_busy_seconds", Seconds, "Time busy", "忙碌时长"),
            field("train_duration", "sobot_agent_training_seconds", Seconds, "Time in training", "培训时长"),
            field("eat_duration", "sobot_agent_meal_seconds", Seconds, "Time at meals", "用餐时长"),
            field("meet_duration", "sobot_agent_meeting_seconds", Seconds, "Time in meetings", "会议时长"),
            field("active_duration", "sobot_agent_activity_seconds", Seconds, "Time in activities", "活动时长"),
            field("rest_duration", "sobot_agent_break_seconds", Seconds, "Time on short breaks", "小休时长"),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn names_agree_with_units_and_conventions() {
        for ep in ENDPOINTS {
            for f in ep.fields {
                assert!(f.metric.starts_with("sobot_"), "{}", f.metric);
                assert!(!f.metric.ends_with("_total"), "{}: gauges carry no _total", f.metric);
                match f.unit.suffix() {
                    Some(sfx) => assert!(f.metric.ends_with(sfx), "{} must end in {sfx}", f.metric),
                    None => assert!(
                        !f.metric.ends_with("_ratio") && !f.metric.ends_with("_seconds"),
                        "{} has a unit suffix its unit does not have",
                        f.metric
                    ),
                }
                assert!(
                    f.metric.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{}",
                    f.metric
                );
            }
        }
    }

    #[test]
    fn every_note_is_on_a_metric_of_the_table_and_every_ratio_has_one() {
        for (metric, _) in NOTES {
            assert!(ENDPOINTS.iter().any(|e| e.fields.iter().any(|f| f.metric == *metric)), "{metric}");
        }
        for f in ENDPOINTS.iter().flat_map(|e| e.fields) {
            if f.unit == Unit::Ratio {
                assert!(
                    note(f.metric).is_some(),
                    "{} says nothing of its numerator and denominator",
                    f.metric
                );
            }
        }
    }

    #[test]
    fn a_metric_name_is_used_by_one_endpoint_and_labels_tell_its_fields_apart() {
        type LabelSets<'a> = Vec<&'a [(&'a str, &'a str)]>;
        let mut owners: HashMap<&str, (&str, LabelSets)> = HashMap::new();
        for ep in ENDPOINTS {
            let mut keys = std::collections::HashSet::new();
            for f in ep.fields {
                assert!(keys.insert(f.key), "{}: key {} twice", ep.name, f.key);
                let entry = owners.entry(f.metric).or_insert((ep.name, Vec::new()));
                assert_eq!(entry.0, ep.name, "{} is used by two endpoints", f.metric);
                assert!(!entry.1.contains(&f.labels), "{} repeats a label set", f.metric);
                entry.1.push(f.labels);
            }
        }
    }
}
