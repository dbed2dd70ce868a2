# -*- test-case-name: kvtwist.test.test_web -*-
"""
The keys as the web interface reads and changes them: a page of the key
browser, how many keys match a pattern, one key, and the changes the
pages and the API make.

Everything goes through commands (C{KeyCommands.run}, the factory's
backend): C{SCAN}, C{TYPE}, C{PTTL}, C{GET}, C{LRANGE} to read, C{SET},
C{DEL}, C{EXPIRE}, C{RPUSH}, ... to change (hashes, sets and sorted sets:
L{kvtwist.web.members}).  So the reads and changes are
counted, journaled and refused while persistence fails as any client's
are, and work the same over any backend (one that answers through
Deferreds, or a front end over Redis Cluster); the store is never reached
into.
"""

from typing import Dict, List, Optional

from twisted.internet.defer import inlineCallbacks, returnValue

from kvtwist.web.fmt import isText, shown, text
from kvtwist.web.members import MEMBERS_PAGE, MemberCommands, Position

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

#: How a page of each collection type is read (L{MemberCommands}).
_PAGES = {"hash": "hashPage", "set": "setPage", "zset": "zsetPage"}


class _Keep:
    def __repr__(self):
        return "KEEP"


#: L{WebData.setKey}'s time to live that keeps the key's own.
KEEP = _Keep()


class KeyCommands(MemberCommands):
    """
    Reading and changing keys with commands: mixed into
    L{kvtwist.web.data.WebData}, which gives C{run}.
    """

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
    def key(self, key: bytes, at: Position = Position(),
            count: int = MEMBERS_PAGE):
        """
        One key, read with C{TYPE}, C{PTTL}, then as its type is read:
        C{{"key", "type", "ttl"}} and

          - a string (C{GET}): C{"value"}, C{"length"}, C{"binary"} when it
            is not text and so shown escaped (see L{shown}), C{"truncated"}
            when not all is shown;
          - a list (C{LLEN}, C{LRANGE}): C{"items"} (and C{"binaryItems"},
            the indexes of those shown escaped), C{"length"},
            C{"truncated"};
          - a hash, set or sorted set: the page of it at C{at}
            (L{kvtwist.web.members.MemberCommands.hashPage}, C{setPage},
            C{zsetPage});
          - anything else (a stream on a cluster's nodes): nothing more.

        @return: a Deferred firing with it, or with L{None} if there is no
            such key.
        """
        kind = yield self.run(b"TYPE", key)
        if kind == "none":
            returnValue(None)
        kind = str(kind)
        ttl = yield self.run(b"PTTL", key)
        out: Dict[str, object] = {"key": shown(key), "type": kind,
                                  "ttl": ttl}
        if kind == "string":
            value = yield self.run(b"GET", key)
            if value is None:
                returnValue(None)
            head = value[:VALUE_LIMIT]
            out.update(value=shown(head), length=len(value),
                       binary=not isText(head),
                       truncated=len(value) > VALUE_LIMIT)
        elif kind == "list":
            length = yield self.run(b"LLEN", key)
            items = yield self.run(b"LRANGE", key, b"0",
                                   b"%d" % (LIST_LIMIT - 1,))
            out.update(items=[shown(i) for i in items], length=length,
                       binaryItems=[n for n, i in enumerate(items)
                                    if not isText(i)],
                       truncated=length > len(items))
        elif kind in _PAGES:
            page = yield getattr(self, _PAGES[kind])(key, at, count)
            out.update(page)
        returnValue(out)

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
