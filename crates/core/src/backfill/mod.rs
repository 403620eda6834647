//! Backfill: the families of past collection times written as OpenMetrics text files, one a day,
//! which `promtool tsdb create-blocks-from openmetrics` turns into TSDB blocks as they are. The
//! command that replays the days is `app::backfill`.

mod openmetrics;

pub(crate) use openmetrics::OpenMetricsDay;
