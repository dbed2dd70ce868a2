# -*- test-case-name: kvtwist.test.test_jsonlines -*-
"""
JSON lines, as the gevent seed (Ankurac7/key-value-store) speaks them.

A request is one JSON object per line,
C{{"type": T, "key": K, "value": V, "args": [...]}}; the reply is one JSON
value on one line, ending with C{\\n}.  The seed's types answer exactly as
the seed does:

    - C{SET} -> C{"OK"}
    - C{GET} -> the value, or C{null}
    - C{DELETE} -> the removed value, or C{null} (C{GETDEL})
    - C{FLUSH} -> C{"OK"}
    - C{MSET} with C{value} an object -> C{"OK"}
    - C{MGET} with C{key} a list -> an object C{{key: value-or-null}}
    - an unknown type -> C{"UNKNOWN COMMAND"}

Beyond the seed:

    - C{type} is matched in any case (the seed wants upper case), and
      C{MGET} with a single string C{key} reads that one key (the seed
      would iterate over its characters).
    - Every command of the table is reachable, in any case:
      C{{"type": "INCR", "key": "n"}},
      C{{"type": "LPUSH", "key": "l", "args": ["a", "b"]}},
      C{{"type": "AUTH", "value": "pw"}}.  The command's arguments are
      C{key} (if present), then C{value} (if present; a list is spread),
      then the elements of C{args}.
    - Malformed JSON or a wrong shape (not an object, no string C{type},
      C{args} not a list, a key that is not a string) is answered with
      C{{"error": "ERR ..."}} and the connection goes on; so is every
      error reply of a command (C{{"error": "WRONGTYPE ..."}}).
    - Other replies are rendered generically: a bulk string as a JSON
      string, an integer as a number, a boolean as C{true}/C{false}, a
      null as C{null}, an array as an array, a map as an object, a status
      (C{OK}) as its text in a string.

Choices:

    - Keys and values are strings.  A key may also be a number, converted
      with C{str()} (C{1} is the key C{"1"}).  A value (or an element of
      C{args}) that is not a string -- a number, C{true}, C{null}, an
      object, a list inside C{args} -- is stored as its JSON text
      (C{json.dumps}) and comes back as a string: C{SET} of C{5} then
      C{GET} gives C{"5"}, C{SET} of C{{"a": 1}} gives C{"{\\"a\\": 1}"}.
      The store holds bytes, and a JSON text is the one faithful string
      form of any JSON value.
    - Strings are stored UTF-8 encoded.  Bytes that are not valid UTF-8
      (written through RESP) are rendered with U+FFFD replacing each bad
      byte: JSON strings hold text, and binary values belong to RESP.
      Lone surrogates (C{surrogateescape}) are avoided since many JSON
      parsers refuse them.
    - Floats that JSON cannot represent (infinities, NaN) are sent as
      strings.
"""

import json
import math
from typing import List, Optional

from kvtwist import commands
from kvtwist.replies import (
    Error, NullArray, SetReply, Status, Verbatim, wrongArity)

name = "jsonlines"

UNKNOWN_COMMAND = b'"UNKNOWN COMMAND"\n'

_ALIASES = {
    b"DELETE": b"GETDEL",
}


class Request:
    """
    A parsed JSON line.

    @ivar name: the upper-case command name the table knows.
    @ivar args: the arguments.
    @ivar type: the upper-case C{type} the client sent.
    @ivar keys: for C{MGET}, the keys as the client sent them (strings),
        whose values are rendered as an object; L{None} otherwise.
    @ivar ok: whether any non-error reply is rendered as C{"OK"} (an
        empty C{MSET}, which the seed accepts).
    """

    __slots__ = ("name", "args", "type", "keys", "ok")

    def __init__(self, name: bytes, args: List[bytes], type: bytes,
                 keys: Optional[List[str]] = None, ok: bool = False):
        self.name = name
        self.args = args
        self.type = type
        self.keys = keys
        self.ok = ok


class _Shape(Exception):
    """
    The request is valid JSON of the wrong shape.
    """


def _key(value) -> str:
    if type(value) is str:
        return value
    if type(value) in (int, float):
        return str(value)
    raise _Shape("ERR key must be a string, not %s" % (json.dumps(value),))


def _arg(value) -> bytes:
    if type(value) is not str:
        value = json.dumps(value)
    return value.encode("utf-8", "surrogatepass")


def parse(line: bytes):
    """
    Parse one JSON line.

    @return: a L{Request}, or an L{Error} for malformed JSON or a wrong
        shape (rendered as C{{"error": ...}}).
    """
    try:
        obj = json.loads(line.decode("utf-8"))
    except ValueError as e:
        return Error("ERR invalid JSON: %s" % (e,))
    except RecursionError:
        return Error("ERR invalid JSON: nested too deeply")
    try:
        return _request(obj)
    except _Shape as e:
        return Error(str(e))


def _request(obj) -> Request:
    if type(obj) is not dict:
        raise _Shape("ERR a request must be a JSON object")
    kind = obj.get("type")
    if type(kind) is not str:
        raise _Shape('ERR a request needs a string "type"')
    kind = kind.upper().encode("utf-8", "surrogatepass")
    name = _ALIASES.get(kind, kind)
    extra = obj.get("args", [])
    if type(extra) is not list:
        raise _Shape('ERR "args" must be a list')
    extra = [_arg(v) for v in extra]
    hasKey = "key" in obj
    hasValue = "value" in obj
    key = obj.get("key")
    value = obj.get("value")

    if name == b"MGET":
        if type(key) is list:
            keys = [_key(k) for k in key]
        elif hasKey:
            keys = [_key(key)]
        else:
            keys = []
        keys += [a.decode("utf-8", "replace") for a in extra]
        if not keys:
            # The seed answers an empty MGET with an empty object.
            return Request(b"PING", [], kind, keys=[])
        return Request(b"MGET", [k.encode("utf-8", "surrogatepass")
                                 for k in keys], kind, keys=keys)
    if name == b"MSET" and type(value) is dict:
        args = []
        for k, v in value.items():
            args.append(k.encode("utf-8", "surrogatepass"))
            args.append(_arg(v))
        args += extra
        if not args:
            # The seed answers an empty MSET with "OK".
            return Request(b"PING", [], kind, ok=True)
        return Request(b"MSET", args, kind)

    args = []
    if hasKey:
        args.append(_key(key).encode("utf-8", "surrogatepass"))
    if hasValue:
        if type(value) is list and name != b"SET":
            args.extend(_arg(v) for v in value)
        else:
            args.append(_arg(value))
    args += extra
    return Request(name, args, kind)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _json(reply):
    """
    Turn a neutral reply into a JSON-serialisable value.
    """
    t = type(reply)
    if t is bytes or t is Verbatim:
        return _text(reply)
    if reply is None or t is int or t is bool:
        return reply
    if t is NullArray:
        return None
    if t is Status:
        return str(reply)
    if t is Error:
        return {"error": str(reply)}
    if t is float:
        if math.isinf(reply) or math.isnan(reply):
            return repr(reply)
        return reply
    if t is list or t is tuple or t is SetReply:
        return [_json(item) for item in reply]
    if t is dict:
        out = {}
        for k, v in reply.items():
            if type(k) is bytes:
                k = _text(k)
            elif type(k) is not str:
                k = str(k)
            out[k] = _json(v)
        return out
    if isinstance(reply, bytes):
        return _text(reply)
    if isinstance(reply, str):
        return str(reply)
    return str(reply)


def _line(value) -> bytes:
    return json.dumps(value).encode("ascii") + b"\n"


def render(request: Optional[Request], reply) -> bytes:
    """
    Render C{reply} to C{request} (L{None} if the line could not be parsed)
    as one JSON value on one line.
    """
    if type(reply) is Error:
        if request is not None and reply.startswith(
                "ERR unknown command '") and \
                commands.lookup(request.name) is None:
            return UNKNOWN_COMMAND
        if request is not None and request.type != request.name and \
                reply == wrongArity(request.name.decode("ascii", "replace")):
            # Named as the client typed it (DELETE), not as the table
            # knows it (GETDEL).
            reply = wrongArity(request.type.decode("utf-8", "replace"))
        return _line({"error": str(reply)})
    if request is not None:
        if request.ok:
            return _line("OK")
        keys = request.keys
        if keys is not None and type(reply) is list:
            return _line({k: _json(v) for k, v in zip(keys, reply)})
        if keys is not None:
            return _line({})
    return _line(_json(reply))
