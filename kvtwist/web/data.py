# -*- test-case-name: kvtwist.test.test_web -*-
"""
What the web pages and the JSON API show, gathered from the running server
in one place (L{WebData}): status and persistence (from a stats snapshot),
the clients, and the keys (L{kvtwist.web.keydata}, read and changed by
running commands as the web interface's own client, L{WebData.run}).
"""

from typing import Dict, List, Optional

from twisted.internet.defer import maybeDeferred

from kvtwist.commands import ClientState, Context
from kvtwist.replies import Error
from kvtwist.stats import PersistenceFigures, takeSnapshot
from kvtwist.web.fmt import duration, size, text
from kvtwist.web.keydata import KeyCommands


def _plain(value):
    if isinstance(value, bytes):
        return text(value)
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def _ago(now: float, when) -> str:
    if not isinstance(when, (int, float)) or when <= 0:
        return "never"
    return "%s ago" % (duration(max(0.0, now - when)),)


def _ms(value) -> str:
    if not isinstance(value, (int, float)) or value < 0:
        return "-"
    return "%d ms" % (value,)


def persistence(figures: Optional[PersistenceFigures],
                now: float) -> Optional[Dict[str, object]]:
    """
    The backend's persistence, from a stats snapshot: C{fields}, the
    C{INFO persistence} fields as they are (JSON-ready); C{summary},
    C{[label, text]} pairs for people; and C{failure} (text, or L{None}
    when healthy).  L{None} for a backend without persistence.

    @param now: the current time, in seconds since the epoch.
    """
    if figures is None:
        return None
    fields = {str(k): _plain(v) for k, v in figures.fields}
    failure = figures.failure
    get = fields.get
    summary = [
        ["State", "failing" if failure is not None else "ok"],
        ["Fsync", str(get("aof_fsync", "-"))],
        ["Last flush", _ago(now, get("aof_last_flush_time"))],
        ["Flush took", _ms(get("aof_last_flush_duration_ms"))
         if get("aof_flushes") else "-"],
        ["Log size", size(get("aof_current_size") or 0)],
        ["Pending", size(get("aof_pending_bytes") or 0)],
        # LASTSAVE is the start time until a snapshot exists (as Redis's):
        # say "never" rather than a time no snapshot was written at.
        ["Last snapshot", _ago(now, get("rdb_last_save_time", 0))
         if get("rdb_snapshot_size") or get("rdb_saves") else "never"],
        ["Snapshot took", _ms(get("rdb_last_save_duration_ms"))],
        ["Snapshot size", size(get("rdb_snapshot_size") or 0)],
        ["Changes since snapshot",
         str(get("rdb_changes_since_last_save", "-"))],
        ["Errors", str(get("persistence_errors", 0))],
    ]
    return {
        "fields": fields,
        "summary": summary,
        "failure": None if failure is None else str(failure),
    }


class WebData(KeyCommands):
    """
    The web interface's view of one server.

    @ivar factory: the L{kvtwist.factory.KVFactory}.
    @ivar sampler: the L{kvtwist.web.sampler.Sampler}, or L{None}.
    """

    def __init__(self, factory, sampler=None):
        self.factory = factory
        self.sampler = sampler
        self._client = ClientState(0, "web", factory.now())
        self._client.name = b"web"
        self._client.dialect = "web"

    @property
    def store(self):
        """
        The server's store.
        """
        return self.factory.store

    @property
    def passwordRequired(self) -> bool:
        """
        Whether the server has a password, and so the web interface a login.
        """
        return self.factory.config.password is not None

    def status(self) -> Dict[str, object]:
        """
        Everything the status page shows, JSON-ready: a stats snapshot
        (L{kvtwist.stats.takeSnapshot}) and the sampler's history.  The
        key counts are L{None} for a backend that can't tell them.
        """
        snap = takeSnapshot(self.factory)
        process = snap.process
        clients = snap.clients
        keyspace = snap.backend.keyspace
        sampler = self.sampler
        return {
            "version": process.version,
            "implementation": "%s %s" % (process.implementation,
                                         process.pythonVersion),
            "pid": process.pid,
            "uptime": process.uptime,
            "clients": {
                "connected": clients.connected,
                "dropped": clients.dropped,
                "closedByServer": clients.closedByServer,
                "disconnectsPerSecond": (sampler.disconnectsPerSecond()
                                         if sampler else 0.0),
                "rejected": clients.rejected,
                "max": clients.maxClients,
            },
            "commands": {
                "total": snap.commands.processed,
                "perSecond": sampler.commandsPerSecond() if sampler else 0.0,
            },
            "keys": keyspace.keys if keyspace else None,
            "expiringKeys": keyspace.expiring if keyspace else None,
            "expiredKeys": keyspace.expired if keyspace else None,
            "memory": {"rss": snap.memory.rss},
            "net": {"input": snap.traffic.input,
                    "output": snap.traffic.output},
            "authFailures": clients.authFailures,
            "persistence": persistence(snap.backend.persistence, snap.time),
            "history": sampler.history() if sampler else [],
            "sampleInterval": sampler.interval if sampler else None,
            "historyWindow": sampler.window if sampler else 0,
        }

    def clients(self) -> List[Dict[str, object]]:
        """
        The connected clients, JSON-ready, in connection order.
        """
        now = self.factory.now()
        out = []
        for state in sorted(self.factory.clientStates(), key=lambda s: s.id):
            out.append({
                "id": state.id,
                "addr": state.addr,
                "name": text(state.name),
                "dialect": state.dialect,
                "age": max(0, int(now - state.created)),
                "idle": max(0, int(now - state.lastActive)),
                "commands": state.commands,
                "lastCommand": text(state.lastCommand).lower(),
            })
        return out

    def run(self, *words: bytes):
        """
        Run one command as the web interface's client.

        @return: a Deferred firing with the reply, or failing with
            L{CommandFailed} for an error reply.
        """
        factory = self.factory
        ctx = Context(factory.store, factory, factory.service, self._client)
        self._client.lastActive = factory.now()
        self._client.lastCommand = words[0]

        def check(reply):
            if isinstance(reply, Error):
                raise CommandFailed(reply)
            return reply
        backend = factory.backend
        d = maybeDeferred(backend.execute, ctx, words[0], list(words[1:]))
        backend.endTurn()
        return d.addCallback(check)


class CommandFailed(Exception):
    """
    A command the web interface ran answered with an error.

    @ivar reply: the L{kvtwist.replies.Error}.
    """

    def __init__(self, reply: Error):
        Exception.__init__(self, str(reply))
        self.reply = reply

    @property
    def httpStatus(self) -> int:
        """
        The HTTP status for it: 503 while persistence fails, else 400.
        """
        return 503 if self.reply.code == "MISCONF" else 400
