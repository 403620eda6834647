//! The vocabulary of the endpoint tables (Sobot's and Laaffic's): methods, date formats, fields.

use crate::value::Unit;

/// HTTP method of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Parameters in the query string.
    Get,
    /// Parameters in a JSON body.
    Post,
}

/// The date format an endpoint accepts for `start_date`/`end_date`; the wrong one answers `210005`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateFormat {
    /// `yyyy-MM-dd HH`.
    Hour,
    /// `yyyy-MM-dd`.
    Day,
    /// `yyyy-MM-dd HH:mm:ss` (the quality API's call results).
    Second,
}

impl DateFormat {
    /// The format as the documents write it.
    pub(crate) fn pattern(self) -> &'static str {
        match self {
            DateFormat::Hour => "yyyy-MM-dd HH",
            DateFormat::Day => "yyyy-MM-dd",
            DateFormat::Second => "yyyy-MM-dd HH:mm:ss",
        }
    }
}

/// One exported field of an upstream record.
#[derive(Debug)]
pub struct Field {
    /// JSON key in the upstream record.
    pub key: &'static str,
    /// Full metric name; its suffix agrees with `unit`.
    pub metric: &'static str,
    /// How the value is parsed and scaled.
    pub unit: Unit,
    /// Constant labels that tell fields sharing one metric apart (e.g. `score="4"`).
    pub labels: &'static [(&'static str, &'static str)],
    /// Short English description.
    pub(crate) en: &'static str,
    /// The field's Chinese name in the vendor's document and console.
    pub(crate) zh: &'static str,
}

/// A field exported under its own metric.
pub(crate) const fn field(
    key: &'static str,
    metric: &'static str,
    unit: Unit,
    en: &'static str,
    zh: &'static str,
) -> Field {
    Field { key, metric, unit, labels: &[], en, zh }
}

/// A field exported under a metric it shares with others, told apart by `labels`.
pub(crate) const fn labelled(
    key: &'static str,
    metric: &'static str,
    unit: Unit,
    labels: &'static [(&'static str, &'static str)],
    en: &'static str,
    zh: &'static str,
) -> Field {
    Field { key, metric, unit, labels, en, zh }
}
