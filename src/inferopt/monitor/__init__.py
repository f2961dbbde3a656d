"""Monitoring: record every request (``Metered``), summarise, report, and catch regressions."""

from inferopt.monitor.metered import Metered, metered_from_options
from inferopt.monitor.read import parse_since, read_records
from inferopt.monitor.records import RequestRecord
from inferopt.monitor.regression import Comparison, compare
from inferopt.monitor.sink import BatchWriter, Sink, sink_from_url
from inferopt.monitor.summary import Summary, percentile, summarize, summarize_by

__all__ = [
    "BatchWriter",
    "Comparison",
    "Metered",
    "RequestRecord",
    "Sink",
    "Summary",
    "compare",
    "metered_from_options",
    "parse_since",
    "percentile",
    "read_records",
    "sink_from_url",
    "summarize",
    "summarize_by",
]
