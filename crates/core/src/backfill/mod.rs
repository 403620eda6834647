//! Backfill: the families of past collection times written as OpenMetrics text files, one a day,
//! which `promtool tsdb create-blocks-from openmetrics` turns into TSDB blocks as they are.

#[cfg_attr(not(test), expect(dead_code, reason = "the backfill command (issue 20) will use it"))]
mod openmetrics;

#[expect(unused_imports, reason = "the backfill command (issue 20) will use it")]
pub(crate) use openmetrics::OpenMetricsDay;
