# -*- test-case-name: kvtwist.test.test_web_members -*-
"""
Hashes, sets and sorted sets as the web interface reads and changes them:
a page of a hash's fields or a set's members at a time (C{HSCAN},
C{SSCAN}), a page of a sorted set's members by rank, lowest score first
(C{ZRANGE ... WITHSCORES}), and the changes (C{HSET}, C{HDEL}, C{SADD},
C{SREM}, C{ZADD}, C{ZREM}).  Everything goes through commands, as
L{kvtwist.web.keydata}'s reads do, so it works over any backend.

A page never holds a whole big value: it shows L{MEMBERS_PAGE} elements,
each cut to L{ITEM_LIMIT} bytes.  A step of C{HSCAN}/C{SSCAN} may answer
more elements than a page shows (kvtwist's answers at least a 64th of a
big value; Redis's all of a small one), so a page's position is a cursor
and how many of that step's elements the pages before it showed
(L{Position}).
"""

from typing import Dict, List, NamedTuple, Optional, Tuple

from twisted.internet.defer import inlineCallbacks, returnValue

from kvtwist.doubles import formatDouble
from kvtwist.web.fmt import escaped, formSafe, isText

#: Fields or members per page.
MEMBERS_PAGE = 50
#: The most bytes of one field, value or member a page shows.
ITEM_LIMIT = 16 * 1024
#: The most bytes of a field's value the edit form holds.
EDIT_LIMIT = 256 * 1024
#: The most C{HSCAN}/C{SSCAN} steps one page takes looking for matches.
MAX_STEPS = 8


class Position(NamedTuple):
    """
    Where a page of a hash, set or sorted set starts.

    @ivar cursor: the C{HSCAN}/C{SSCAN} cursor of the step it starts in.
    @ivar skip: how many of that step's (matching) elements earlier pages
        showed.
    @ivar match: the glob pattern fields or members must match
        (C{HSCAN}/C{SSCAN}'s C{MATCH}).
    @ivar offset: the rank a page of a sorted set starts at.
    """

    cursor: int = 0
    skip: int = 0
    match: bytes = b"*"
    offset: int = 0

    @classmethod
    def fromArgs(cls, args: Dict[bytes, List[bytes]]) -> "Position":
        """
        The position a request's C{cursor}, C{skip}, C{match} and
        C{offset} arguments give (missing ones from the start).

        @raise ValueError: if a number is not a whole number, or negative.
        """
        def number(name: bytes) -> int:
            raw = (args.get(name) or [b"0"])[0].strip() or b"0"
            value = int(raw)
            if value < 0:
                raise ValueError("%s is not negative" % (name.decode(),))
            return value
        match = (args.get(b"match") or [b"*"])[0] or b"*"
        return cls(number(b"cursor"), number(b"skip"), match,
                   number(b"offset"))

    def token(self) -> str:
        """
        The position as one word, C{CURSOR.SKIP}, for a trail of earlier
        pages (L{fromToken} reads it).
        """
        return "%d.%d" % (self.cursor, self.skip)

    def fromToken(self, token: bytes) -> Optional["Position"]:
        """
        This position moved to the one C{token} (L{token}) names, or
        L{None} if it names none.
        """
        cursor, _, skip = token.partition(b".")
        try:
            position = self._replace(cursor=int(cursor), skip=int(skip or 0))
        except ValueError:
            return None
        if position.cursor < 0 or position.skip < 0:
            return None
        return position


def score(value) -> str:
    """
    A score as Redis writes it (C{1.5}, C{3}, C{inf}): the memory backend
    answers a float, a front end over a cluster the node's text.
    """
    if isinstance(value, float):
        return formatDouble(value).decode("ascii")
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def item(raw: bytes, binary: bool) -> Tuple[str, bool]:
    """
    An element as a page shows it, cut to L{ITEM_LIMIT} bytes:
    C{(text, truncated)}; escaped (L{escaped}) if C{binary}, else as it
    is.
    """
    head = raw[:ITEM_LIMIT]
    shown = escaped(head) if binary else head.decode("utf-8", "ignore")
    return shown, len(raw) > ITEM_LIMIT


def _pairs(flat: list) -> List[Tuple[bytes, object]]:
    """
    C{[a, 1, b, 2]} (RESP2's pairs) or C{[[a, 1], [b, 2]]} (RESP3's) as
    C{[(a, 1), (b, 2)]}.
    """
    if flat and isinstance(flat[0], list):
        return [(p[0], p[1]) for p in flat]
    return list(zip(flat[0::2], flat[1::2]))


class MemberCommands:
    """
    Reading and changing hashes, sets and sorted sets with commands: mixed
    into L{kvtwist.web.keydata.KeyCommands}, which gives C{run}.
    """

    def run(self, *words: bytes):
        """
        Run one command: a Deferred firing with its reply, or failing with
        L{kvtwist.web.data.CommandFailed} for an error reply.
        """
        raise NotImplementedError()

    @inlineCallbacks
    def _scanPage(self, command: bytes, key: bytes, at: Position,
                  count: int, pairs: bool):
        """
        One page of C{HSCAN} or C{SSCAN}: from C{at}, until C{count}
        elements matching C{at.match} are found, the iteration ends, or
        L{MAX_STEPS} steps were taken.

        @return: a Deferred firing with C{(elements, next)}: the elements
            (C{(field, value)} pairs if C{pairs}) and the next page's
            L{Position}, L{None} at the end.
        """
        found: list = []
        cursor, skip = at.cursor, at.skip
        for _ in range(MAX_STEPS):
            need = count - len(found)
            words = [command, key, b"%d" % (cursor,)]
            if at.match != b"*":
                words += [b"MATCH", at.match]
            reply = yield self.run(*words, b"COUNT",
                                   b"%d" % (max(need, 10),))
            step = _pairs(reply[1]) if pairs else list(reply[1])
            rest = step[skip:]
            if len(rest) > need:
                found.extend(rest[:need])
                returnValue((found, at._replace(cursor=cursor,
                                                skip=skip + need)))
            found.extend(rest)
            cursor, skip = int(reply[0]), 0
            if cursor == 0:
                returnValue((found, None))
            if len(found) >= count:
                break
        returnValue((found, at._replace(cursor=cursor, skip=0)))

    @inlineCallbacks
    def hashPage(self, key: bytes, at: Position = Position(),
                 count: int = MEMBERS_PAGE):
        """
        A page of a hash's fields (C{HLEN}, C{HSCAN}).

        @return: a Deferred firing with C{{"length", "match", "at",
            "next", "fields": [{"field", "value", "binary", "truncated",
            "raw"}]}}: C{at} and C{next} are L{Position}s (C{next} L{None}
            after the last page); C{binary} says field and value are both
            shown escaped (L{escaped}: they aren't both text); C{truncated}
            that one of them is cut; C{raw} is the field's bytes.
        """
        length = yield self.run(b"HLEN", key)
        found, following = yield self._scanPage(b"HSCAN", key, at, count,
                                                True)
        fields = []
        for field, value in found:
            binary = not (isText(field) and isText(value))
            shownField, cutField = item(field, binary)
            shownValue, cutValue = item(value, binary)
            fields.append({"field": shownField, "value": shownValue,
                           "binary": binary, "truncated": cutField or cutValue,
                           "raw": field})
        returnValue({"length": length, "match": at.match, "at": at,
                     "next": following, "fields": fields})

    @inlineCallbacks
    def setPage(self, key: bytes, at: Position = Position(),
                count: int = MEMBERS_PAGE):
        """
        A page of a set's members (C{SCARD}, C{SSCAN}).

        @return: a Deferred firing with C{{"length", "match", "at", "next",
            "members": [{"member", "binary", "truncated", "raw"}]}}, as
            L{hashPage}'s.
        """
        length = yield self.run(b"SCARD", key)
        found, following = yield self._scanPage(b"SSCAN", key, at, count,
                                                False)
        members = [self._member(m) for m in found]
        returnValue({"length": length, "match": at.match, "at": at,
                     "next": following, "members": members})

    @inlineCallbacks
    def zsetPage(self, key: bytes, at: Position = Position(),
                 count: int = MEMBERS_PAGE):
        """
        A page of a sorted set's members by rank, lowest score first
        (C{ZCARD}, C{ZRANGE key offset offset+count-1 WITHSCORES}).

        @return: a Deferred firing with C{{"length", "at", "next",
            "members": [{"member", "score", "rank", "binary", "truncated",
            "raw"}]}}; C{next} is the L{Position} of the next page, or
            L{None} after the last.
        """
        length = yield self.run(b"ZCARD", key)
        start = at.offset
        reply = yield self.run(b"ZRANGE", key, b"%d" % (start,),
                               b"%d" % (start + count - 1,), b"WITHSCORES")
        members = []
        for rank, (member, value) in enumerate(_pairs(reply), start):
            row = self._member(member)
            row.update(score=score(value), rank=rank)
            members.append(row)
        following = None
        if start + len(members) < length and members:
            following = at._replace(offset=start + len(members))
        returnValue({"length": length, "at": at, "next": following,
                     "members": members})

    def _member(self, member: bytes) -> Dict[str, object]:
        binary = not isText(member)
        shownMember, cut = item(member, binary)
        return {"member": shownMember, "binary": binary, "truncated": cut,
                "raw": member}

    @inlineCallbacks
    def hashField(self, key: bytes, field: bytes):
        """
        One field of a hash, for its edit form (C{HGET}).

        @return: a Deferred firing with C{{"field", "value", "binary",
            "length", "tooBig"}} (C{binary}: field and value are escaped,
            as they wouldn't come back from a form the same otherwise,
            L{kvtwist.web.fmt.formSafe}; C{tooBig}: longer than
            L{EDIT_LIMIT}, C{value} then empty), or L{None} if there is no
            such field.
        """
        value = yield self.run(b"HGET", key, field)
        if value is None:
            returnValue(None)
        length = len(value)
        tooBig = length > EDIT_LIMIT
        if tooBig:
            value = b""
        binary = not (formSafe(field, oneLine=True) and formSafe(value))
        returnValue({
            "field": escaped(field) if binary else field.decode("utf-8"),
            "value": escaped(value) if binary else value.decode("utf-8"),
            "binary": binary, "length": length, "tooBig": tooBig})

    def setField(self, key: bytes, field: bytes, value: bytes):
        """
        C{HSET key field value}: a Deferred firing with 1 if the field is
        new, else 0.
        """
        return self.run(b"HSET", key, field, value)

    def deleteField(self, key: bytes, field: bytes):
        """
        C{HDEL key field}: a Deferred firing with 1 if there was one.
        """
        return self.run(b"HDEL", key, field)

    def addMember(self, key: bytes, member: bytes):
        """
        C{SADD key member}: a Deferred firing with 1 if it is new.
        """
        return self.run(b"SADD", key, member)

    def removeMember(self, key: bytes, member: bytes):
        """
        C{SREM key member}: a Deferred firing with 1 if it was there.
        """
        return self.run(b"SREM", key, member)

    def setScore(self, key: bytes, member: bytes, value: bytes):
        """
        C{ZADD key score member}: add the member or change its score.  A
        score that isn't a number fails as C{ZADD} answers it.

        @return: a Deferred firing with 1 if the member is new, else 0.
        """
        return self.run(b"ZADD", key, value.strip(), member)

    def removeScored(self, key: bytes, member: bytes):
        """
        C{ZREM key member}: a Deferred firing with 1 if it was there.
        """
        return self.run(b"ZREM", key, member)
