"""
End-to-end tests of the seeds' dialects against the real C{twistd kvstore}:
the Go seed's colon protocol under ten concurrent clients, the gevent
seed's JSON-lines client, and one store seen from all four dialects.
"""

import json
import random
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

from tests.harness import HOST, IO_TIMEOUT, LineClient, logErrors


def jsonCommand(port: int, command) -> object:
    """
    Send one command as the gevent seed's C{client.py} does: a new
    connection, one JSON line written through a file object, one line read
    back and decoded.
    """
    with socket.create_connection((HOST, port), timeout=IO_TIMEOUT) as sock:
        fileobj = sock.makefile("rwb")
        fileobj.write(json.dumps(command).encode("utf-8") + b"\n")
        fileobj.flush()
        response = fileobj.readline()
        return json.loads(response.decode("utf-8"))


class ColonClient(LineClient):
    """
    A colon-protocol client that knows where a C{Get} reply ends: after
    each C{Get:key} it sends C{Get} of a marker key holding exactly one
    value, and reads lines up to the marker's line (the protocol sends
    nothing for a key with no values, so no reply could be told from a
    slow one otherwise).
    """

    def __init__(self, port: int, marker: Optional[str] = None):
        LineClient.__init__(self, port)
        self.marker = marker or "marker-" + uuid.uuid4().hex
        self.sendLine("Put:%s:end" % (self.marker,), b"\n")

    def get(self, key: str) -> List[str]:
        """
        The values the server has for C{key}, in order.
        """
        self.send(("Get:%s\nGet:%s\n" % (key, self.marker)).encode("utf-8"))
        values = []
        prefix = key + ":"
        while True:
            line = self.readLine()
            if line == self.marker + ":end":
                return values
            assert line.startswith(prefix), (line, key)
            values.append(line[len(prefix):])


def colonWorker(port: int, client: int, ops: int) -> int:
    """
    One client of the colon scenario: random Put, Update, Delete and Get
    on its own keys, each Get checked against a model.

    @return: how many Gets were checked.
    """
    rng = random.Random(client)
    keys = ["c%d-key%d" % (client, i) for i in range(4)]
    values = ["v%d" % (i,) for i in range(5)] + ["a:b", "x:y:z", ""]
    model: Dict[str, List[str]] = {}
    checked = 0
    with ColonClient(port, "c%d-marker" % (client,)) as c:
        for _ in range(ops):
            key = rng.choice(keys)
            op = rng.random()
            if op < 0.4:
                value = rng.choice(values)
                c.sendLine("Put:%s:%s" % (key, value), b"\n")
                model.setdefault(key, []).append(value)
            elif op < 0.6:
                current = model.get(key, [])
                old = rng.choice(current) if current and rng.random() < 0.8 \
                    else rng.choice(values)
                if ":" in old:
                    old = "v0"
                new = rng.choice(values)
                c.sendLine("Update:%s:%s:%s" % (key, old, new), b"\n")
                if key in model:
                    model[key] = [new if v == old else v for v in model[key]]
            elif op < 0.65:
                c.sendLine("Delete:%s" % (key,), b"\n")
                model.pop(key, None)
            else:
                assert c.get(key) == model.get(key, []), key
                checked += 1
        for key in keys:
            assert c.get(key) == model.get(key, []), key
            checked += 1
    return checked


def test_colonConcurrentClients(server):
    """
    Ten concurrent colon clients doing Put/Update/Get/Delete on their own
    keys each see exactly what a model of their own writes predicts, and
    the server logs no error.
    """
    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(colonWorker, server.port, i, 300)
                   for i in range(10)]
        checked = [f.result() for f in futures]
    assert all(n >= 50 for n in checked), checked
    assert logErrors(server.log) == []


def test_colonVerbsAnyCaseAndNoReplies(server):
    """
    Verbs work in any case; Put, Update and Delete send nothing (the next
    bytes to arrive are the Get's), and a Get of nothing sends nothing.
    """
    with ColonClient(server.port) as c:
        c.send(b"PUT:k:1\nput:k:2\nUPDATE:k:1:one\n")
        assert c.get("k") == ["one", "2"]
        c.send(b"DELETE:k\n")
        assert c.get("k") == []


def test_colonWrongTypeRefused(server):
    """
    A colon Put on a key holding a string is refused and logged; the string
    is intact and the connection goes on.
    """
    with server.textClient() as text:
        text.command("SET s hello")
    with ColonClient(server.port) as c:
        c.sendLine("Put:s:x", b"\n")
        assert c.get("s") == []
        c.sendLine("Put:l:x", b"\n")
        assert c.get("l") == ["x"]
    assert server.redis().get("s") == b"hello"
    assert "WRONGTYPE" in server.log


def test_jsonSeedClient(server):
    """
    The gevent seed's client -- one connection per command -- gets the
    seed's answers.
    """
    port = server.port
    assert jsonCommand(port, {"type": "SET", "key": "foo",
                              "value": "bar"}) == "OK"
    assert jsonCommand(port, {"type": "GET", "key": "foo"}) == "bar"
    assert jsonCommand(port, {"type": "GET", "key": "nope"}) is None
    assert jsonCommand(port, {"type": "MSET",
                              "value": {"a": "1", "b": "2"}}) == "OK"
    assert jsonCommand(port, {"type": "MGET", "key": ["a", "b", "c"]}) == \
        {"a": "1", "b": "2", "c": None}
    assert jsonCommand(port, {"type": "DELETE", "key": "a"}) == "1"
    assert jsonCommand(port, {"type": "DELETE", "key": "a"}) is None
    assert jsonCommand(port, {"type": "PATCH", "key": "a"}) == \
        "UNKNOWN COMMAND"
    assert jsonCommand(port, {"type": "FLUSH"}) == "OK"
    assert jsonCommand(port, {"type": "GET", "key": "foo"}) is None


def test_jsonSessionBeyondSeed(server):
    """
    On one connection: malformed lines get an error object and the session
    goes on; other commands are reachable; replies come in order.
    """
    with server.textClient() as c:
        c.send(b'{"type": "SET", "key": "n", "value": 41}\n'
               b'{not json\n'
               b'{"type": "INCR", "key": "n"}\n'
               b'{"type": "RPUSH", "key": "l", "args": ["a", "b"]}\n'
               b'{"type": "LRANGE", "key": "l", "args": [0, -1]}\n'
               b'{"key": "no type"}\n'
               b'{"type": "GET", "key": "l"}\n')
        replies = [json.loads(c.readLine()) for _ in range(7)]
    assert replies[0] == "OK"
    assert "error" in replies[1]
    assert replies[2:5] == [42, 2, ["a", "b"]]
    assert "error" in replies[5]
    assert replies[6]["error"].startswith("WRONGTYPE")


def test_jsonAuth(makeServer):
    """
    With a password, JSON commands get NOAUTH until a JSON AUTH succeeds.
    """
    server = makeServer(["--requirepass", "s3cret"])
    with server.textClient() as c:
        c.send(b'{"type": "GET", "key": "k"}\n'
               b'{"type": "AUTH", "value": "wrong"}\n'
               b'{"type": "AUTH", "value": "s3cret"}\n'
               b'{"type": "SET", "key": "k", "value": "v"}\n'
               b'{"type": "GET", "key": "k"}\n')
        replies = [json.loads(c.readLine()) for _ in range(5)]
    assert replies[0]["error"].startswith("NOAUTH")
    assert replies[1]["error"].startswith("WRONGPASS")
    assert replies[2:] == ["OK", "OK", "v"]


def test_oneStoreFourDialects(server):
    """
    A value set in one dialect is seen from every other: text SET, RESP
    GET through redis-py, JSON GET, colon Put then LRANGE through
    redis-py, and a redis-py RPUSH read by a colon Get.
    """
    with server.textClient() as text:
        assert text.command("SET greeting hello world") == \
            "Added key 'greeting' with value 'hello world'"
    r = server.redis()
    assert r.get("greeting") == b"hello world"
    assert jsonCommand(server.port, {"type": "GET", "key": "greeting"}) == \
        "hello world"
    with ColonClient(server.port) as c:
        c.send(b"Put:multi:one\nPut:multi:two:2\n")
        assert c.get("multi") == ["one", "two:2"]
    assert r.lrange("multi", 0, -1) == [b"one", b"two:2"]
    r.rpush("multi", "three")
    with ColonClient(server.port) as c:
        assert c.get("multi") == ["one", "two:2", "three"]
    assert jsonCommand(server.port, {"type": "SET", "key": "j",
                                     "value": "from json"}) == "OK"
    with server.textClient() as text:
        assert text.command("GET j") == "from json"
    r.close()
