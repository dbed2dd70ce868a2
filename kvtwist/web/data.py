# -*- test-case-name: kvtwist.test.test_web -*-
"""
What the web pages and the JSON API show, gathered from the running server
in one place: status, clients, a page of keys, one key; and the changes the
web interface may make.

Keys and values are read and written only by running commands through the
factory's backend (L{kvtwist.interfaces.IBackend}), as any client's are:
C{SCAN} for the key browser, C{TYPE}, C{PTTL}, C{GET}, C{LRANGE} for a key,
C{SET}, C{DEL}, C{EXPIRE}, ... for changes.  So they are counted,
journaled and refused while persistence fails, and the web interface works
the same over any backend (one that answers through Deferreds, or a
front end over Redis Cluster); it never reaches into the store.
"""

import re
from typing import Dict, List, Optional

from twisted.internet.defer import inlineCallbacks, maybeDeferred, returnValue

from kvtwist.commands import ClientState, Context
from kvtwist.dialects.text import escape
from kvtwist.replies import Error
from kvtwist.stats import PersistenceFigures, takeSnapshot
from kvtwist.web.fmt import duration, size

#: Keys per page of the key browser.
PAGE_SIZE = 50
#: The most store slots one request of the key browser visits.
SCAN_BUDGET = 5000
#: The most list items shown for one key.
LIST_LIMIT = 1000
#: The most bytes of a string value shown.
VALUE_LIMIT = 256 * 1024
#: The most store slots counted for the number of keys matching a pattern
#: (past it, the count is a lower bound: "N+ matching").
COUNT_BUDGET = 10000

#: Glob characters: a pattern without them names one key.
_GLOB = frozenset(b"*?[\\")


def text(value: bytes) -> str:
    """
    Bytes shown as text: UTF-8, with U+FFFD for what isn't.
    """
    return value.decode("utf-8", "replace")


#: Control characters, but tabs and line breaks.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def isText(value: bytes) -> bool:
    """
    Whether C{value} is text: valid UTF-8 with no control characters but
    tabs and line breaks (and so is shown as it is, without loss).
    """
    try:
        decoded = value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(decoded) is None


def shown(value: bytes) -> str:
    """
    A value as the web interface shows it: text as it is; anything else
    (not UTF-8, or holding control characters) escaped as the text
    protocol shows it (C{\\x00\\xff}, C{\\\\} for a backslash), never with
    replacement characters.
    """
    if isText(value):
        return value.decode("utf-8")
    return escape(value).decode("utf-8")


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


class _Keep:
    def __repr__(self):
        return "KEEP"


#: L{WebData.setKey}'s time to live that keeps the key's own.
KEEP = _Keep()


class WebData:
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

    @inlineCallbacks
    def keys(self, pattern: bytes = b"*", cursor: int = 0,
             count: int = PAGE_SIZE):
        """
        One page of the key browser, built on C{SCAN}: steps from C{cursor}
        until C{count} matching keys are found, the iteration ends, or
        L{SCAN_BUDGET} slots were visited; then C{TYPE} and C{PTTL} of
        each.  Never touches the whole store.

        @return: a Deferred firing with C{{"pattern", "cursor", "next",
            "keys": [{"key", "raw", "type", "ttl", "binary"}]}}; C{next} is
            0 at the end; C{key} is the name as shown (L{shown}), C{raw}
            its bytes.
        """
        count = max(1, min(count, 500))
        found: List[bytes] = []
        position = cursor
        visited = 0
        while True:
            step = count - len(found)
            reply = yield self.run(b"SCAN", b"%d" % (position,), b"MATCH",
                                   pattern, b"COUNT", b"%d" % (step,))
            position = int(reply[0])
            found.extend(reply[1])
            visited += step
            if position == 0 or len(found) >= count \
                    or visited >= SCAN_BUDGET:
                break
        rows = []
        for key in found:
            kind = yield self.run(b"TYPE", key)
            if kind == "none":
                continue
            ttl = yield self.run(b"PTTL", key)
            rows.append({"key": shown(key), "raw": key, "type": str(kind),
                         "ttl": ttl, "binary": not isText(key)})
        returnValue({"pattern": shown(pattern), "cursor": cursor,
                     "next": position, "keys": rows})

    @inlineCallbacks
    def countKeys(self, pattern: bytes = b"*"):
        """
        How many keys match C{pattern}: C{DBSIZE} for C{*}, C{EXISTS} for a
        pattern without glob characters, else a C{SCAN} of at most
        L{COUNT_BUDGET} slots.

        @return: a Deferred firing with C{{"count": n, "exact": bool}};
            not exact when the scan stopped at its budget, C{n} then being
            the matches found so far (a lower bound).
        """
        if pattern == b"*":
            n = yield self.run(b"DBSIZE")
            returnValue({"count": n, "exact": True})
        if not _GLOB.intersection(pattern):
            n = yield self.run(b"EXISTS", pattern)
            returnValue({"count": n, "exact": True})
        reply = yield self.run(b"SCAN", b"0", b"MATCH", pattern, b"COUNT",
                               b"%d" % (COUNT_BUDGET,))
        returnValue({"count": len(reply[1]), "exact": reply[0] == b"0"})

    @inlineCallbacks
    def key(self, key: bytes):
        """
        One key, read with C{TYPE}, C{PTTL}, and C{GET} or C{LLEN} and
        C{LRANGE}: C{{"key", "type", "ttl", "value"}} for a string (with
        C{"length"}, and C{"binary"} when it is not text and so shown
        escaped, see L{shown}), C{"items"} (and C{"binaryItems"}) and
        C{"length"} for a list, C{"truncated"} when not all is shown.

        @return: a Deferred firing with it, or with L{None} if there is no
            such key.
        """
        kind = yield self.run(b"TYPE", key)
        if kind == "none":
            returnValue(None)
        ttl = yield self.run(b"PTTL", key)
        out: Dict[str, object] = {"key": shown(key), "type": str(kind),
                                  "ttl": ttl}
        if kind == "string":
            value = yield self.run(b"GET", key)
            if value is None:
                returnValue(None)
            head = value[:VALUE_LIMIT]
            out.update(value=shown(head), length=len(value),
                       binary=not isText(head),
                       truncated=len(value) > VALUE_LIMIT)
        else:
            length = yield self.run(b"LLEN", key)
            items = yield self.run(b"LRANGE", key, b"0",
                                   b"%d" % (LIST_LIMIT - 1,))
            out.update(items=[shown(i) for i in items], length=length,
                       binaryItems=[n for n, i in enumerate(items)
                                    if not isText(i)],
                       truncated=length > len(items))
        returnValue(out)

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

    def setKey(self, key: bytes, value: bytes, ttl=KEEP):
        """
        Set a string: C{SET key value KEEPTTL} (L{KEEP}, the default: the
        key keeps the time to live it has), C{SET key value} (L{None}: no
        time to live), or C{SET key value EX ttl} (a number of seconds).

        @return: a Deferred.
        """
        if ttl is KEEP:
            return self.run(b"SET", key, value, b"KEEPTTL")
        if ttl is not None:
            return self.run(b"SET", key, value, b"EX", b"%d" % (ttl,))
        return self.run(b"SET", key, value)

    def deleteKey(self, key: bytes):
        """
        C{DEL key}: a Deferred firing with 1 if it existed, else 0.
        """
        return self.run(b"DEL", key)

    def pushKey(self, key: bytes, value: bytes, end: bytes = b"right"):
        """
        C{RPUSH key value} (C{end} C{b"right"}) or C{LPUSH} (C{b"left"}),
        making the list if there is none: a Deferred firing with its new
        length.

        @raise ValueError: if C{end} is neither.
        """
        return self.run(_listCommands(end)[0], key, value)

    def popKey(self, key: bytes, end: bytes = b"right"):
        """
        C{RPOP key} (C{end} C{b"right"}) or C{LPOP} (C{b"left"}): a
        Deferred firing with the value taken, or L{None} if there was no
        list.

        @raise ValueError: if C{end} is neither.
        """
        return self.run(_listCommands(end)[1], key)

    def expireKey(self, key: bytes, seconds: Optional[int]):
        """
        C{EXPIRE key seconds}, or C{PERSIST key} when C{seconds} is
        L{None}: a Deferred firing with 1 if the key existed.
        """
        if seconds is None:
            return self.run(b"PERSIST", key)
        return self.run(b"EXPIRE", key, b"%d" % (seconds,))


def _listCommands(end: bytes):
    """
    The push and pop commands of a list's C{end}, C{b"left"} or
    C{b"right"}.

    @raise ValueError: for any other end.
    """
    if end == b"left":
        return b"LPUSH", b"LPOP"
    if end == b"right":
        return b"RPUSH", b"RPOP"
    raise ValueError("a list's end is left or right, not %s"
                     % (text(end),))


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
