# -*- test-case-name: kvtwist.test.test_cluster_specs -*-
"""
What the router needs to know of a command to send it to the right node:
its arity, flags and where its keys are, from the nodes' own C{COMMAND}
reply (Redis 7's key specifications, which also find the keys of
C{EVAL}, C{XREAD ... STREAMS}, C{ZUNIONSTORE} and the like) or, before
that reply came, from kvtwist's command table (first key, last key,
step).

The commands whose keys move with their arguments ("movablekeys": a
count of keys then the keys, as in C{LMPOP 2 a b LEFT} or C{EVAL script 1
k}) are also known here (L{KNOWN_KEYS}, L{KEY_FINDERS}): kvtwist's table
only has a first key, last key and step for them, nodes older than Redis 7
give no key specifications, and Redis 7 itself marks C{SORT}'s
C{STORE} destination "unknown".
"""

from typing import Callable, Dict, List, Optional, Tuple

_Keys = Optional[List[bytes]]


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _map(value) -> dict:
    """
    A RESP3 map as a dict with text keys (a RESP2 flat list too).
    """
    if isinstance(value, list):
        value = dict(zip(value[0::2], value[1::2]))
    if not isinstance(value, dict):
        return {}
    return {_text(k): v for k, v in value.items()}


class KeySpec:
    """
    One of Redis 7's key specifications: where a search for keys begins
    (an C{index}, or after a C{keyword}) and how keys are found from
    there (a C{range}, or C{keynum}: a count of keys, then the keys).
    """

    __slots__ = ("beginType", "index", "keyword", "startFrom",
                 "findType", "lastKey", "keyStep", "limit", "keyNumIndex",
                 "firstKey")

    def __init__(self, beginType: str, index: int = 0, keyword: bytes = b"",
                 startFrom: int = 0, findType: str = "range",
                 lastKey: int = 0, keyStep: int = 1, limit: int = 0,
                 keyNumIndex: int = 0, firstKey: int = 1):
        self.beginType = beginType
        self.index = index
        self.keyword = keyword.upper()
        self.startFrom = startFrom
        self.findType = findType
        self.lastKey = lastKey
        self.keyStep = keyStep or 1
        self.limit = limit
        self.keyNumIndex = keyNumIndex
        self.firstKey = firstKey

    @classmethod
    def fromReply(cls, reply) -> Optional["KeySpec"]:
        """
        A key spec from C{COMMAND}'s reply, or L{None} for a kind this
        doesn't know (the command's keys are then asked of a node).
        """
        spec = _map(reply)
        begin = _map(spec.get("begin_search"))
        find = _map(spec.get("find_keys"))
        beginType = _text(begin.get("type", ""))
        beginSpec = _map(begin.get("spec"))
        findType = _text(find.get("type", ""))
        findSpec = _map(find.get("spec"))
        if beginType not in ("index", "keyword") or \
                findType not in ("range", "keynum"):
            return None
        return cls(
            beginType, index=int(beginSpec.get("index", 0)),
            keyword=beginSpec.get("keyword", b"") or b"",
            startFrom=int(beginSpec.get("startfrom", 0)),
            findType=findType, lastKey=int(findSpec.get("lastkey", 0)),
            keyStep=int(findSpec.get("keystep", 1)),
            limit=int(findSpec.get("limit", 0)),
            keyNumIndex=int(findSpec.get("keynumidx", 0)),
            firstKey=int(findSpec.get("firstkey", 1)))

    def keys(self, argv: List[bytes]) -> _Keys:
        """
        The keys this spec finds in C{argv} (the name is C{argv[0]}), or
        L{None} if C{argv} doesn't fit it (the node will say what is
        wrong).
        """
        argc = len(argv)
        if self.beginType == "index":
            first = self.index
        else:
            first = 0
            keyword = self.keyword
            if self.startFrom >= 0:
                positions = range(self.startFrom, argc)
            else:
                positions = range(argc + self.startFrom, 0, -1)
            for i in positions:
                if 0 < i < argc and argv[i].upper() == keyword:
                    first = i + 1
                    break
            if not first:
                return []
        if first >= argc:
            return []
        step = self.keyStep
        if self.findType == "range":
            if self.lastKey >= 0:
                last = first + self.lastKey
            elif not self.limit:
                last = argc + self.lastKey
            else:
                last = first + ((argc - first) // self.limit + self.lastKey)
        else:
            try:
                count = int(argv[first + self.keyNumIndex])
            except (ValueError, IndexError):
                return None
            if count < 0:
                return None
            first += self.firstKey
            last = first + (count - 1) * step
        if last >= argc:
            return None
        return [argv[i] for i in range(first, last + 1, step)]


def _keynum(index: int) -> KeySpec:
    """
    A count of keys at C{index}, then that many keys.
    """
    return KeySpec("index", index=index, findType="keynum", keyNumIndex=0,
                   firstKey=1)


def _at(index: int) -> KeySpec:
    """
    One key, at C{index}.
    """
    return KeySpec("index", index=index)


#: Where the keys of the commands whose keys move with their arguments
#: are, as Redis 7 specifies them: used when the spec at hand can't tell
#: (kvtwist's table, a node older than Redis 7).
KNOWN_KEYS: Dict[bytes, List[KeySpec]] = {}
for _name in (b"LMPOP", b"ZMPOP", b"SINTERCARD", b"ZINTERCARD", b"ZUNION",
              b"ZINTER", b"ZDIFF"):
    KNOWN_KEYS[_name] = [_keynum(1)]
for _name in (b"BLMPOP", b"BZMPOP", b"EVAL", b"EVALSHA", b"EVAL_RO",
              b"EVALSHA_RO", b"FCALL", b"FCALL_RO"):
    KNOWN_KEYS[_name] = [_keynum(2)]
for _name in (b"ZUNIONSTORE", b"ZINTERSTORE", b"ZDIFFSTORE"):
    KNOWN_KEYS[_name] = [_at(1), _keynum(2)]
KNOWN_KEYS[b"XREAD"] = [KeySpec("keyword", keyword=b"STREAMS", startFrom=1,
                                lastKey=-1, limit=2)]
KNOWN_KEYS[b"XREADGROUP"] = [KeySpec("keyword", keyword=b"STREAMS",
                                     startFrom=4, lastKey=-1, limit=2)]

#: The options of C{SORT} that take arguments, and how many.
_SORT_OPTIONS = {b"LIMIT": 2, b"BY": 1, b"GET": 1}


def _sortKeys(argv: List[bytes]) -> _Keys:
    """
    C{SORT}'s keys, as Redis finds them with a function of its own rather
    than key specs: the key sorted, and the destination of C{STORE} (the
    last one given).  (The patterns of C{BY} and C{GET} are left to the
    node, which refuses those of another slot.)
    """
    if len(argv) < 2:
        return None
    store = None
    i = 2
    while i < len(argv):
        word = argv[i].upper()
        if word == b"STORE" and i + 1 < len(argv):
            store = argv[i + 1]
            i += 2
            continue
        i += 1 + _SORT_OPTIONS.get(word, 0)
    return [argv[1]] if store is None else [argv[1], store]


def _sortROKeys(argv: List[bytes]) -> _Keys:
    """
    C{SORT_RO}'s key: the one sorted.
    """
    return argv[1:2] if len(argv) > 1 else None


#: Commands whose keys are found by a function, whatever the spec says.
KEY_FINDERS: Dict[bytes, Callable[[List[bytes]], _Keys]] = {
    b"SORT": _sortKeys,
    b"SORT_RO": _sortROKeys,
}


class CommandSpec:
    """
    A command as the router sees it.

    @ivar name: lower case, as C{COMMAND} names it (C{object|encoding} for
        a subcommand).
    @ivar arity: Redis's arity (negative: at least).
    @ivar flags: its flags, lower case.
    @ivar write: whether it may change data (C{write} flag).
    @ivar blocking: whether it may block (C{blocking} flag).
    @ivar keySpecs: L{KeySpec}s, or L{None} where only the legacy
        (first, last, step) is known.
    @ivar legacy: C{(first, last, step)}.
    @ivar movable: whether the keys move with the arguments and some spec
        was not understood: ask a node (C{COMMAND GETKEYS}).
    @ivar tips: Redis's command tips (C{request_policy:all_shards}...).
    @ivar subcommands: by lower-case subcommand name.
    @ivar finder: a function that finds the keys of an C{argv} (see
        L{KEY_FINDERS}), or L{None}: the key specs do.
    """

    __slots__ = ("name", "arity", "flags", "write", "blocking", "keySpecs",
                 "legacy", "movable", "tips", "subcommands", "finder")

    def __init__(self, name: str, arity: int, flags=(), legacy=(0, 0, 0),
                 keySpecs: Optional[List[KeySpec]] = None,
                 movable: bool = False, tips=(),
                 subcommands: Optional[Dict[bytes, "CommandSpec"]] = None):
        self.name = name
        self.arity = arity
        self.flags = frozenset(flags)
        self.write = "write" in self.flags
        self.blocking = "blocking" in self.flags
        self.keySpecs = keySpecs
        self.legacy = tuple(legacy)
        self.movable = movable
        self.tips = frozenset(tips)
        self.subcommands = subcommands or {}
        self.finder: Optional[Callable[[List[bytes]], _Keys]] = None

    def completed(self) -> "CommandSpec":
        """
        This spec, told where the keys are when it can't tell itself and
        kvtwist knows (L{KNOWN_KEYS}, L{KEY_FINDERS}).
        """
        name = self.name.upper().encode()
        finder = KEY_FINDERS.get(name)
        if finder is not None:
            self.finder = finder
            self.movable = False
        elif (self.movable or self.keySpecs is None) and name in KNOWN_KEYS:
            self.keySpecs = KNOWN_KEYS[name]
            self.movable = False
        return self

    @classmethod
    def fromReply(cls, entry) -> "CommandSpec":
        """
        A command from one entry of C{COMMAND}'s (or C{COMMAND INFO}'s)
        reply: C{[name, arity, flags, first, last, step, categories, tips,
        key specs, subcommands]} (Redis 7; older nodes send the first six).
        """
        name = _text(entry[0]).lower()
        flags = [_text(f).lower() for f in entry[2]]
        legacy = (int(entry[3]), int(entry[4]), int(entry[5]))
        tips = [_text(t) for t in entry[7]] if len(entry) > 7 else []
        keySpecs = None
        movable = "movablekeys" in flags
        if len(entry) > 8:
            keySpecs = []
            for raw in entry[8] or []:
                spec = KeySpec.fromReply(raw)
                if spec is None:
                    movable = True
                    keySpecs = None
                    break
                keySpecs.append(spec)
            else:
                movable = False
        elif movable:
            keySpecs = None
        subcommands = {}
        if len(entry) > 9:
            for sub in entry[9] or []:
                spec = cls.fromReply(sub)
                subcommands[spec.name.split("|", 1)[-1].encode()] = spec
        return cls(name, int(entry[1]), flags, legacy, keySpecs, movable,
                   tips, subcommands)

    @classmethod
    def fromTable(cls, command) -> "CommandSpec":
        """
        A command from kvtwist's table (L{kvtwist.commands.Command}).
        """
        return cls(command.name.lower(), command.arity, command.flags,
                   (command.firstKey, command.lastKey, command.step)
                   ).completed()

    def subcommand(self, argv: List[bytes]) -> "CommandSpec":
        """
        The spec of C{argv}'s subcommand (C{OBJECT ENCODING k}), or this
        one.
        """
        if self.subcommands and len(argv) > 1:
            return self.subcommands.get(argv[1].lower(), self)
        return self

    def arityFits(self, argc: int) -> bool:
        """
        Whether C{argc} words (the name included) fit the arity.
        """
        arity = self.arity
        return argc == arity if arity > 0 else argc >= -arity

    def keys(self, argv: List[bytes]) -> _Keys:
        """
        The keys of C{argv} (the name is C{argv[0]}): every key spec's, in
        order; or L{None} if they can't be told here (a movable command
        whose specs were not understood, or arguments that don't fit:
        ask a node, or let it answer the error).
        """
        if self.finder is not None:
            return self.finder(argv)
        if self.movable:
            return None
        if self.keySpecs is not None:
            if len(self.keySpecs) == 1:
                return self.keySpecs[0].keys(argv)
            found: List[bytes] = []
            for spec in self.keySpecs:
                keys = spec.keys(argv)
                if keys is None:
                    return None
                found.extend(keys)
            return found
        first, last, step = self.legacy
        if not first:
            return []
        argc = len(argv)
        if last < 0:
            last += argc
        if first >= argc or last >= argc:
            return None
        return argv[first:last + 1:step or 1]

    def policy(self) -> Tuple[str, str]:
        """
        Redis's C{(request_policy, response_policy)} tips, C{""} where
        none is given.
        """
        request = response = ""
        for tip in self.tips:
            if tip.startswith("request_policy:"):
                request = tip.split(":", 1)[1]
            elif tip.startswith("response_policy:"):
                response = tip.split(":", 1)[1]
        return request, response


def parseCommandReply(reply) -> Dict[bytes, CommandSpec]:
    """
    Every command of a C{COMMAND} reply, by upper-case name.
    """
    specs = {}
    for entry in reply or []:
        if isinstance(entry, list) and len(entry) >= 6:
            spec = CommandSpec.fromReply(entry).completed()
            specs[spec.name.upper().encode()] = spec
    return specs
