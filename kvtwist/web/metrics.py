# -*- test-case-name: kvtwist.test.test_web -*-
"""
C{/metrics}: the server's figures in the Prometheus text format: a stats
snapshot (L{kvtwist.stats}) taken at scrape time by a custom collector in
a registry of its own.
"""

from typing import Optional

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from twisted.web.resource import Resource

from kvtwist.stats import IStatsSnapshot, PersistenceFigures, takeSnapshot

#: The classic text format's type, which every Prometheus version reads.
CONTENT_TYPE = getattr(prometheus_client, "CONTENT_TYPE_PLAIN_0_0_4",
                       prometheus_client.CONTENT_TYPE_LATEST)


def _number(value) -> Optional[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


class KVCollector:
    """
    A C{prometheus_client} collector rendering a stats snapshot
    (L{kvtwist.stats.takeSnapshot}) of a L{kvtwist.factory.KVFactory} when
    scraped.
    """

    def __init__(self, factory):
        self._factory = factory

    def collect(self):
        """
        Yield every C{kvtwist_} metric family.
        """
        return render(takeSnapshot(self._factory))


def render(snap: IStatsSnapshot):
    """
    The C{kvtwist_} metric families of a stats snapshot of a server; the
    backend's figures only as far as it gives them.
    """
    clients = snap.clients
    stats = snap.commands
    yield GaugeMetricFamily(
        "kvtwist_connected_clients", "Clients connected now.",
        value=clients.connected)
    yield CounterMetricFamily(
        "kvtwist_dropped_clients",
        "Client connections ended since start, whatever the cause.",
        value=clients.dropped)
    yield CounterMetricFamily(
        "kvtwist_clients_closed_by_server",
        "Client connections the server closed since start (client limit, "
        "protected mode, protocol errors, timeouts, output-buffer "
        "overruns, shutdown); part of kvtwist_dropped_clients.",
        value=clients.closedByServer)
    yield GaugeMetricFamily(
        "kvtwist_blocked_clients",
        "Clients waiting on a blocking command (BLPOP...) now.",
        value=clients.blocked)
    yield CounterMetricFamily(
        "kvtwist_output_limit_disconnections",
        "Subscribers dropped for holding too many unread messages "
        "(--pubsub-output-limit); part of "
        "kvtwist_clients_closed_by_server.",
        value=clients.outputLimitDisconnects)
    pubsub = snap.backend.pubsub
    if pubsub is not None:
        yield GaugeMetricFamily(
            "kvtwist_pubsub_clients", "Clients subscribed to anything now.",
            value=pubsub.clients)
        yield GaugeMetricFamily(
            "kvtwist_pubsub_channels", "Channels with subscribers now.",
            value=pubsub.channels)
        yield GaugeMetricFamily(
            "kvtwist_pubsub_patterns", "Patterns with subscribers now.",
            value=pubsub.patterns)
    yield CounterMetricFamily(
        "kvtwist_connections_received",
        "Client connections accepted since start.",
        value=clients.received)
    yield CounterMetricFamily(
        "kvtwist_rejected_connections",
        "Connections refused (client limit, protected mode).",
        value=clients.rejected)
    commands = CounterMetricFamily(
        "kvtwist_commands", "Commands run, by command.",
        labels=["command"])
    for name, n in stats.perCommand:
        commands.add_metric([name.lower()], n)
    yield commands
    yield CounterMetricFamily(
        "kvtwist_unknown_commands", "Unknown commands received.",
        value=stats.unknown)
    yield CounterMetricFamily(
        "kvtwist_auth_failures", "Failed AUTH attempts.",
        value=clients.authFailures)
    keyspace = snap.backend.keyspace
    if keyspace is not None:
        yield GaugeMetricFamily("kvtwist_keys", "Keys in the store.",
                                value=keyspace.keys)
        yield GaugeMetricFamily(
            "kvtwist_expiring_keys", "Keys with an expiry time.",
            value=keyspace.expiring)
        yield CounterMetricFamily(
            "kvtwist_expired_keys", "Keys expired since start.",
            value=keyspace.expired)
    yield CounterMetricFamily(
        "kvtwist_net_input_bytes", "Bytes received from clients.",
        value=snap.traffic.input)
    yield CounterMetricFamily(
        "kvtwist_net_output_bytes", "Bytes sent to clients.",
        value=snap.traffic.output)
    yield GaugeMetricFamily(
        "kvtwist_uptime_seconds", "Seconds since the server started.",
        value=snap.process.uptime)
    yield GaugeMetricFamily(
        "kvtwist_memory_rss_bytes", "Resident memory of the process.",
        value=snap.memory.rss)
    if snap.backend.persistence is not None:
        yield from _persistence(snap.backend.persistence)
    yield from _backendFields(snap.backend.fields)


def _backendFields(fields):
    """
    The backend's own figures (a front end over a cluster: its state,
    nodes, redirections): each number as a gauge C{kvtwist_<name>}, the
    state as C{kvtwist_backend_state{state="ok"} 1}.
    """
    for name, value in fields:
        if name == "backend_state":
            family = GaugeMetricFamily(
                "kvtwist_backend_state",
                "The backend's state (ok, degraded, down): 1 for the "
                "current one.", labels=["state"])
            for state in ("ok", "degraded", "down"):
                family.add_metric([state], 1 if value == state else 0)
            yield family
        elif isinstance(value, (int, float)) and \
                not isinstance(value, bool):
            yield GaugeMetricFamily("kvtwist_" + name,
                                    "The backend's %s." % (
                                        name.replace("_", " "),),
                                    value=value)


def _persistence(figures: PersistenceFigures):
    """
    The persistence figures, each only if the backend gives it.
    """
    def counter(name, doc, value):
        value = _number(value)
        if value is not None:
            return CounterMetricFamily(name, doc, value=value)

    def gauge(name, doc, value):
        value = _number(value)
        if value is not None:
            return GaugeMetricFamily(name, doc, value=value)

    families = [
        counter("kvtwist_flushes", "Flushes of the append-only log.",
                figures.flushes),
        counter("kvtwist_flush_errors",
                "Failed writes or fsyncs of the append-only log.",
                figures.flushErrors),
        counter("kvtwist_snapshots", "Snapshots written.",
                figures.snapshots),
        counter("kvtwist_snapshot_errors", "Failed snapshots.",
                figures.snapshotErrors),
        counter("kvtwist_persistence_errors",
                "Persistence errors of any kind since start.",
                figures.errors),
        gauge("kvtwist_persistence_failing",
              "1 while persistence fails and writes are refused.",
              0 if figures.failure is None else 1),
        gauge("kvtwist_log_size_bytes",
              "Size of the live append-only log.", figures.logSize),
        gauge("kvtwist_log_pending_bytes",
              "Bytes written to memory, not yet to the log.",
              figures.pendingBytes),
        gauge("kvtwist_snapshot_size_bytes", "Size of the last snapshot.",
              figures.snapshotSize),
        gauge("kvtwist_last_flush_timestamp_seconds",
              "When the log was last flushed (Unix time).",
              figures.lastFlushTime),
        gauge("kvtwist_last_snapshot_timestamp_seconds",
              "When the last snapshot was taken (Unix time).",
              figures.lastSave),
    ]
    for kind, durations in (("flush", figures.flushDurations),
                            ("snapshot", figures.snapshotDurations)):
        if durations:
            families.append(gauge(
                "kvtwist_last_%s_duration_seconds" % (kind,),
                "How long the last %s took." % (kind,), durations[-1]))
            families.append(gauge(
                "kvtwist_max_%s_duration_seconds" % (kind,),
                "The longest of the last %d %ses." % (len(durations),
                                                      kind),
                max(durations)))
    for family in families:
        if family is not None:
            yield family


def makeRegistry(factory) -> CollectorRegistry:
    """
    A registry of its own (not the process-wide default) holding a
    L{KVCollector} for C{factory}.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KVCollector(factory))
    return registry


class MetricsResource(Resource):
    """
    Serves a registry in the Prometheus text format.
    """

    isLeaf = True

    def __init__(self, registry: CollectorRegistry, sessions=None):
        """
        @param sessions: the L{kvtwist.web.session.Sessions}; with a
            password, a scrape must log in or use HTTP Basic
            authentication.
        """
        Resource.__init__(self)
        self.registry = registry
        self.sessions = sessions

    def render_GET(self, request):
        """
        The metrics, or 401 asking for Basic authentication.
        """
        if self.sessions is not None and not self.sessions.authorized(request):
            request.setResponseCode(401)
            request.setHeader(b"www-authenticate", b'Basic realm="kvtwist"')
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"401 Unauthorized: log in or use HTTP Basic auth\n"
        request.setHeader(b"content-type", CONTENT_TYPE.encode())
        request.setHeader(b"cache-control", b"no-store")
        return generate_latest(self.registry)
