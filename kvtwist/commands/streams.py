# -*- test-case-name: kvtwist.test.test_streams -*-
"""
Commands on stream values (Redis's C{stream} group), without consumer
groups or blocking: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM and a
non-blocking XREAD (its BLOCK option is refused).

Trimming with C{~} trims exactly (Redis may keep more; never fewer).
"""

import re
from typing import List, Optional, Tuple

from kvtwist.commands.registry import group, intArg
from kvtwist.replies import NULL_ARRAY, SYNTAX, Error, wrongArity
from kvtwist.store.streams import MAX_ID, UINT64_MAX, StreamID, formatID

command = group("stream")

INVALID_ID = Error(
    "ERR Invalid stream ID specified as stream command argument")

# strtoull's way: leading blanks, an optional plus, digits.
_NUMBER = re.compile(rb"[ \t\n\v\f\r]*\+?([0-9]+)\Z")


class _BadID(Exception):
    pass


def _part(text: bytes) -> int:
    match = _NUMBER.match(text)
    if match is None:
        raise _BadID()
    n = int(match.group(1))
    if n > UINT64_MAX:
        raise _BadID()
    return n


def parseID(text: bytes, missingSeq: int = 0, strict: bool = False,
            star: bool = False) -> Tuple[StreamID, bool]:
    """
    Parse an ID as Redis does: C{-}, C{+} (unless C{strict}), C{ms-seq},
    C{ms} (sequence C{missingSeq}) or, with C{star}, C{ms-*}.

    @return: the ID and whether its sequence was given (false for
        C{ms-*}).
    @raise _BadID: if it is none of those.
    """
    if len(text) > 127:
        raise _BadID()
    if text == b"-" or text == b"+":
        if strict:
            raise _BadID()
        return ((0, 0) if text == b"-" else MAX_ID), True
    ms, dash, seq = text.partition(b"-")
    msValue = _part(ms)
    if not dash:
        return (msValue, missingSeq), True
    if star and seq == b"*":
        return (msValue, 0), False
    return (msValue, _part(seq)), True


def _interval(text: bytes, missingSeq: int) -> Tuple[StreamID, bool]:
    if text[:1] == b"(":
        return parseID(text[1:], missingSeq, strict=True)[0], True
    return parseID(text, missingSeq)[0], False


def entries(found: List[Tuple[StreamID, List[bytes]]]) -> list:
    """
    Entries as Redis replies with them: C{[id, [field, value, ...]]}.
    """
    return [[formatID(sid), fields] for sid, fields in found]


def _trimOptions(args: List[bytes], xadd: bool):
    """
    Parse XADD's (from its first option) or XTRIM's (after the key)
    options as Redis does.

    @return: C{(i, options)} where C{i} is the position of XADD's ID (or
        C{len(args)}) and C{options} a dict: C{maxlen}, C{minid},
        C{limit}, C{nomkstream}, C{id} (C{(sid, seqGiven)} or L{None} for
        C{*}); or an error reply.
    """
    opts = {"maxlen": None, "minid": None, "limit": 0, "nomkstream": False,
            "id": None}
    strategy = None
    approx = False
    limitGiven = False
    i = 0
    n = len(args)
    while i < n:
        more = n - 1 - i
        opt = args[i].upper()
        if xadd and opt == b"*":
            break
        if (opt == b"MAXLEN" or opt == b"MINID") and more:
            if strategy is not None:
                return Error("ERR syntax error, MAXLEN and MINID options at "
                             "the same time are not compatible")
            approx = False
            following = args[i + 1]
            if more >= 2 and following in (b"~", b"="):
                approx = following == b"~"
                i += 1
            if opt == b"MAXLEN":
                maxlen = intArg(args[i + 1])
                if maxlen < 0:
                    return Error("ERR The MAXLEN argument must be >= 0.")
                opts["maxlen"] = maxlen
            else:
                try:
                    opts["minid"] = parseID(args[i + 1], strict=True)[0]
                except _BadID:
                    return INVALID_ID
            strategy = opt
            i += 2
            continue
        if opt == b"LIMIT" and more:
            limit = intArg(args[i + 1])
            if limit < 0:
                return Error("ERR The LIMIT argument must be >= 0.")
            opts["limit"] = limit
            limitGiven = True
            i += 2
            continue
        if xadd and opt == b"NOMKSTREAM":
            opts["nomkstream"] = True
            i += 1
            continue
        if xadd:
            try:
                opts["id"] = parseID(args[i], strict=True, star=True)
            except _BadID:
                return INVALID_ID
            break
        return SYNTAX
    if limitGiven and not approx:
        return Error("ERR syntax error, LIMIT cannot be used without the "
                     "special ~ option")
    return i, opts


@command("XADD", -5, "write denyoom fast",
         "Append an entry to a stream; its ID.",
         syntax="XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold "
                "[LIMIT count]] *|id field value [field value ...]")
def xadd(ctx, args):
    parsed = _trimOptions(args[1:], xadd=True)
    if isinstance(parsed, Error):
        return parsed
    i, opts = parsed
    fields = args[i + 2:]
    if len(fields) < 2 or len(fields) % 2:
        return wrongArity("xadd")
    given = opts["id"]
    sid: Optional[StreamID] = None
    ms: Optional[int] = None
    if given is not None:
        (sid, seqGiven) = given
        if not seqGiven:
            ms, sid = sid[0], None
        elif sid == (0, 0):
            return Error("ERR The ID specified in XADD must be greater "
                         "than 0-0")
    added = ctx.store.xadd(args[0], fields, sid=sid, ms=ms,
                           create=not opts["nomkstream"],
                           maxlen=opts["maxlen"], minid=opts["minid"],
                           limit=opts["limit"])
    return None if added is None else formatID(added)


@command("XLEN", 2, "readonly fast", "The number of entries of a stream.",
         syntax="XLEN key")
def xlen(ctx, args):
    return ctx.store.xlen(args[0])


def _range(ctx, args, reverse: bool):
    key = args[0]
    startText, endText = (args[2], args[1]) if reverse else (args[1],
                                                             args[2])
    try:
        start, startEx = _interval(startText, 0)
    except _BadID:
        return INVALID_ID
    if startEx:
        if start == MAX_ID:
            return Error("ERR invalid start ID for the interval")
        ms, seq = start
        start = (ms + 1, 0) if seq == UINT64_MAX else (ms, seq + 1)
    try:
        end, endEx = _interval(endText, UINT64_MAX)
    except _BadID:
        return INVALID_ID
    if endEx:
        if end == (0, 0):
            return Error("ERR invalid end ID for the interval")
        ms, seq = end
        end = (ms - 1, UINT64_MAX) if seq == 0 else (ms, seq - 1)
    count = -1
    j = 3
    while j < len(args):
        if args[j].upper() == b"COUNT" and j + 1 < len(args):
            count = max(0, intArg(args[j + 1]))
            j += 2
        else:
            return SYNTAX
    found = ctx.store.xrange(key, start, end, count, reverse)
    if count == 0 and ctx.store.xlast(key) is not None:
        return NULL_ARRAY
    return entries(found)


@command("XRANGE", -4, "readonly",
         "The entries of a stream between two IDs.",
         syntax="XRANGE key start end [COUNT count]")
def xrange(ctx, args):
    return _range(ctx, args, reverse=False)


@command("XREVRANGE", -4, "readonly",
         "The entries of a stream between two IDs, last first.",
         syntax="XREVRANGE key end start [COUNT count]")
def xrevrange(ctx, args):
    return _range(ctx, args, reverse=True)


@command("XDEL", -3, "write fast",
         "Delete entries of a stream; how many existed.",
         syntax="XDEL key id [id ...]")
def xdel(ctx, args):
    store = ctx.store
    if store.xlast(args[0]) is None:
        return 0
    sids = []
    for text in args[1:]:
        try:
            sids.append(parseID(text, strict=True)[0])
        except _BadID:
            return INVALID_ID
    return store.xdel(args[0], sids)


@command("XTRIM", -4, "write",
         "Trim a stream to a length or to IDs from one; how many went.",
         syntax="XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]")
def xtrim(ctx, args):
    parsed = _trimOptions(args[1:], xadd=False)
    if isinstance(parsed, Error):
        return parsed
    _, opts = parsed
    store = ctx.store
    if store.xlast(args[0]) is None:
        return 0
    if opts["maxlen"] is None and opts["minid"] is None:
        return Error("ERR syntax error, XTRIM must be called with a "
                     "trimming strategy")
    return store.xtrim(args[0], opts["maxlen"], opts["minid"],
                       opts["limit"])


@command("XREAD", -4, "readonly blocking movablekeys",
         "The entries of streams after given IDs (no BLOCK in kvtwist).",
         (0, 0, 0),
         syntax="XREAD [COUNT count] STREAMS key [key ...] id [id ...]")
def xread(ctx, args):
    count = 0
    streamsAt = None
    i = 0
    while i < len(args):
        more = len(args) - i - 1
        opt = args[i].upper()
        if opt == b"COUNT" and more:
            count = max(0, intArg(args[i + 1]))
            i += 2
        elif opt == b"BLOCK" and more:
            return Error("ERR XREAD BLOCK is not supported by kvtwist")
        elif opt == b"STREAMS" and more:
            streamsAt = i + 1
            break
        elif opt == b"GROUP" and more >= 2:
            return Error("ERR The GROUP option is only supported by "
                         "XREADGROUP. You called XREAD instead.")
        elif opt == b"NOACK":
            return Error("ERR The NOACK option is only supported by "
                         "XREADGROUP. You called XREAD instead.")
        else:
            return SYNTAX
    if streamsAt is None:
        return SYNTAX
    rest = args[streamsAt:]
    if len(rest) % 2:
        return Error("ERR Unbalanced XREAD list of streams: for each "
                     "stream key an ID or '$' must be specified.")
    half = len(rest) // 2
    keys, texts = rest[:half], rest[half:]
    store = ctx.store
    after = []
    for key, text in zip(keys, texts):
        last = store.xlast(key)
        if text == b"$":
            after.append(last or (0, 0))
            continue
        if text == b">":
            return Error("ERR The > ID can be specified only when calling "
                         "XREADGROUP using the GROUP <group> <consumer> "
                         "option.")
        try:
            after.append(parseID(text, strict=True)[0])
        except _BadID:
            return INVALID_ID
    served = []
    for key, sid in zip(keys, after):
        if sid == MAX_ID:
            continue
        ms, seq = sid
        start = (ms + 1, 0) if seq == UINT64_MAX else (ms, seq + 1)
        found = store.xrange(key, start, MAX_ID, count or -1)
        if found:
            served.append((key, entries(found)))
    if not served:
        return NULL_ARRAY
    if ctx.client.protover >= 3:
        return dict(served)
    return [[key, found] for key, found in served]
