"""Prometheus text exposition of :class:`messages.admin.MetricFamily` records, with prometheus_client."""

from __future__ import annotations

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Content-Type of :func:`exposition`'s bytes (prometheus_client's, for what generate_latest writes)."""

_KINDS = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily}


class _Snapshot:
    """A prometheus_client collector that yields one fixed set of families."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        for f in self.families:
            if f.kind == "histogram":
                m = HistogramMetricFamily(f.name, f.help, labels=list(f.labels))
                for values, buckets, total in f.samples:
                    m.add_metric(list(values), [(_bound(le), n) for le, n in buckets], total)
            else:
                m = _KINDS[f.kind](f.name, f.help, labels=list(f.labels))
                for values, value in f.samples:
                    m.add_metric(list(values), value)
            yield m


def _bound(le) -> str:
    return le if isinstance(le, str) else repr(float(le))


def exposition(families) -> bytes:
    """The Prometheus text format (UTF-8 bytes) of ``families``, a sequence of MetricFamily;
    counters get prometheus_client's ``_total`` suffix.  Raises ValueError for a bad family
    (an unknown kind, a label count that does not match)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(tuple(families)))
    try:
        return generate_latest(registry)
    except KeyError as exc:
        raise ValueError(f"unknown metric kind {exc}") from None
