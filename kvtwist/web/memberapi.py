# -*- test-case-name: kvtwist.test.test_web_members -*-
"""
Hashes, sets and sorted sets in the JSON API (L{kvtwist.web.keyapi}), in
the style of a list's C{push} and C{pop}: a change is a POST to a resource
under the key named as the command it runs.

    POST /api/keys/KEY/hset   {"field": ..., "value": ...}: HSET;
                              {"created": true|false}
    POST /api/keys/KEY/hdel   {"field": ...}: HDEL; {"deleted": true}, or
                              404 if there was no such field
    POST /api/keys/KEY/sadd   {"member": ...}: SADD; {"added": true|false}
    POST /api/keys/KEY/srem   {"member": ...}: SREM; {"removed": true}, or
                              404 if it was not a member
    POST /api/keys/KEY/zadd   {"member": ..., "score": 1.5}: ZADD (adds the
                              member, or changes its score);
                              {"added": true|false}
    POST /api/keys/KEY/zrem   {"member": ...}: ZREM; {"removed": true}, or
                              404 if it was not a member

With C{"encoding": "escaped"}, fields, values and members are read back
from their escapes (C{\\xHH}, C{\\n}, C{\\\\}), as C{GET /api/keys/KEY}
shows them when they aren't text (C{"binary": true}).  A score is a
number, or a string as Redis reads one (C{"inf"}, C{"-inf"}, C{"1e3"}).
"""

from typing import Dict

from kvtwist.web.fmt import shown
from kvtwist.web.respond import (APILeaf, answerLater, encodedField,
                                 failedJSON, fields, jsonBody, jsonError)


def pageJSON(info) -> Dict[str, object]:
    """
    A key as L{kvtwist.web.keydata.KeyCommands.key} reads it, for the
    JSON API: the raw bytes of fields and members left out, and a page's
    positions (L{kvtwist.web.members.Position}) as C{cursor}, C{skip},
    C{match} (a hash or a set) or C{offset} (a sorted set), the next
    page's in C{next} (L{None} after the last).
    """
    out = {k: v for k, v in info.items() if k not in ("at", "next")}
    for name in ("fields", "members"):
        if name in out:
            out[name] = [{k: v for k, v in row.items() if k != "raw"}
                         for row in out[name]]
    at, following = info.get("at"), info.get("next")
    if at is None:
        return out
    if info["type"] == "zset":
        out["offset"] = at.offset
        out["next"] = None if following is None else {
            "offset": following.offset}
    else:
        out.update(cursor=at.cursor, skip=at.skip, match=shown(at.match))
        out["next"] = None if following is None else {
            "cursor": following.cursor, "skip": following.skip}
    return out


def _hset(data, key, given):
    d = data.setField(key, encodedField(given, b"field"),
                      encodedField(given, b"value"))
    return d, lambda n: {"created": bool(n)}


def _hdel(data, key, given):
    d = data.deleteField(key, encodedField(given, b"field"))
    return d, lambda n: {"deleted": True} if n else None


def _sadd(data, key, given):
    d = data.addMember(key, encodedField(given, b"member"))
    return d, lambda n: {"added": bool(n)}


def _srem(data, key, given):
    d = data.removeMember(key, encodedField(given, b"member"))
    return d, lambda n: {"removed": True} if n else None


def _zadd(data, key, given):
    score = given.get(b"score", b"").strip()
    if not score:
        raise ValueError("score is required")
    d = data.setScore(key, encodedField(given, b"member"), score)
    return d, lambda n: {"added": bool(n)}


def _zrem(data, key, given):
    d = data.removeScored(key, encodedField(given, b"member"))
    return d, lambda n: {"removed": True} if n else None


#: The changes, by the name of their resource: each takes the data, the
#: key and the request's fields, and returns the command's Deferred and
#: a function of its reply giving the answer (L{None}: 404).
MEMBER_ACTIONS = {
    b"hset": _hset, b"hdel": _hdel, b"sadd": _sadd, b"srem": _srem,
    b"zadd": _zadd, b"zrem": _zrem,
}

#: What a 404 says, by action.
_MISSING = {b"hdel": "no such field", b"srem": "not a member",
            b"zrem": "not a member"}


class MemberAPI(APILeaf):
    """
    C{POST /api/keys/KEY/ACTION}: one change of a hash, set or sorted set
    (L{MEMBER_ACTIONS}).
    """

    def __init__(self, data, sessions, key: bytes, action: bytes):
        APILeaf.__init__(self, data, sessions)
        self.key = key
        self.action = action

    def render_POST(self, request):
        """
        Run the change: its answer, 400 for a request that isn't valid,
        404 when there was nothing to delete, the command's error (400;
        503 while persistence fails, as C{MISCONF}).
        """
        refused = self.refuseChange(request)
        if refused is not None:
            return refused
        try:
            d, answer = MEMBER_ACTIONS[self.action](self.data, self.key,
                                                    fields(request))
        except ValueError as e:
            return jsonError(request, 400, str(e))

        def done(reply):
            body = answer(reply)
            if body is None:
                return jsonError(request, 404, _MISSING[self.action])
            return jsonBody(request, body)
        return answerLater(request, d, done, failedJSON(request))
