"""
kvtwist beside a real redis-server: the command table's metadata (arity,
flags, key positions) as C{COMMAND INFO} gives it, and the exact replies,
byte for byte in RESP2 and RESP3, of requests where kvtwist follows Redis
closely (expiry ranges, null arrays, glob patterns).

redis-server runs as a child of the test, on a UNIX socket in a temporary
directory (no TCP port at all: C{--port 0}).
"""

import shutil
import socket
import subprocess

import pytest

from kvtwist.dialects.resp import encodeCommand
from tests.harness import HOST, IO_TIMEOUT, waitFor

REDIS_SERVER = shutil.which("redis-server")

pytestmark = pytest.mark.skipif(REDIS_SERVER is None,
                                reason="redis-server is not installed")

#: kvtwist's own commands, which Redis doesn't have.
KVTWIST_ONLY = {b"exit", b"help", b"print", b"flush", b"lreplace"}

#: Commands whose COMMAND INFO changed after the reference redis-server
#: (7.0) in the Redis that kvtwist answers as (7.4): name -> the 7.0
#: arity.  ZRANK and ZREVRANK take WITHSCORE since 7.2.
NEWER_ARITY = {b"zrank": 3, b"zrevrank": 3}


class RawClient:
    """
    A blocking RESP client that returns each reply as the bytes the server
    sent, so that C{*-1} and C{$-1} stay apart.
    """

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    @classmethod
    def unix(cls, path: str) -> "RawClient":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(IO_TIMEOUT)
        sock.connect(path)
        return cls(sock)

    @classmethod
    def tcp(cls, port: int) -> "RawClient":
        return cls(socket.create_connection((HOST, port),
                                            timeout=IO_TIMEOUT))

    def close(self):
        self.sock.close()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def reply(self) -> bytes:
        """
        The next whole reply, as sent.
        """
        line = self._line()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"$", b"=", b"!") and rest != b"-1":
            return line + self._exactly(int(rest) + 2)
        if kind in (b"*", b"~", b">", b"%") and rest != b"-1":
            count = int(rest) * (2 if kind == b"%" else 1)
            return line + b"".join(self.reply() for _ in range(count))
        return line

    def call(self, *words) -> bytes:
        """
        Send one command; its reply, as sent.
        """
        self.sock.sendall(encodeCommand(
            *[w if isinstance(w, bytes) else str(w).encode() for w in words]))
        return self.reply()


@pytest.fixture(scope="module")
def redisSocket(tmp_path_factory):
    """
    The UNIX socket of a redis-server started for this module (no
    persistence), stopped at its end.
    """
    workdir = tmp_path_factory.mktemp("redis")
    path = str(workdir / "redis.sock")
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", "0", "--unixsocket", path, "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready():
        if proc.poll() is not None:
            raise RuntimeError("redis-server exited: %s" % (proc.returncode,))
        try:
            client = RawClient.unix(path)
        except OSError:
            return False
        try:
            return client.call("PING") == b"+PONG\r\n"
        finally:
            client.close()

    try:
        waitFor(ready)
        yield path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def pair(redisSocket, sharedServer):
    """
    C{(redis, kvtwist)}: raw clients of both servers, each flushed.
    """
    clients = (RawClient.unix(redisSocket), RawClient.tcp(sharedServer.port))
    for client in clients:
        assert client.call("FLUSHALL") == b"+OK\r\n"
    yield clients
    for client in clients:
        client.close()


def _parse(reply: bytes):
    """
    A reply of arrays, integers and strings, parsed (enough for COMMAND
    INFO).
    """
    def one(data, i):
        end = data.index(b"\r\n", i)
        kind, rest = data[i:i + 1], data[i + 1:end]
        i = end + 2
        if kind == b"*":
            if rest == b"-1":
                return None, i
            out = []
            for _ in range(int(rest)):
                item, i = one(data, i)
                out.append(item)
            return out, i
        if kind == b"$":
            if rest == b"-1":
                return None, i
            n = int(rest)
            return data[i:i + n], i + n + 2
        if kind == b":":
            return int(rest), i
        return rest, i
    return one(reply, 0)[0]


def test_commandInfo(pair):
    """
    Every command kvtwist has that Redis has too answers C{COMMAND INFO}
    with Redis's arity, flags, first key, last key and step (a Redis
    Cluster router routes by them); the others are kvtwist's own.
    """
    redis, kvtwist = pair
    names = _parse(kvtwist.call("COMMAND", "LIST"))
    assert len(names) > 50
    theirs = _parse(redis.call("COMMAND", "INFO", *names))
    ours = _parse(kvtwist.call("COMMAND", "INFO", *names))
    compared = 0
    for name, mine, real in zip(names, ours, theirs):
        if real is None:
            assert name in KVTWIST_ONLY
            continue
        arity = NEWER_ARITY.get(name, mine[1])
        assert (name, arity, sorted(mine[2]), mine[3:6]) == (
            name, real[1], sorted(real[2]), real[3:6])
        compared += 1
    assert compared == len(names) - len(KVTWIST_ONLY)


#: Requests whose replies are the same bytes from both servers.
SAME = [
    ["SET", "k", "old"],
    ["SET", "k", "v", "EX", "9223372036854775807"],
    ["SET", "k", "v", "EX", "9223372036854775"],
    ["SET", "k", "v", "PX", "9223372036854775807"],
    ["SET", "k", "v", "EXAT", "9223372036854776"],
    ["SET", "k", "v", "EX", "0"],
    ["SET", "k", "v", "PX", "-1"],
    ["GET", "k"],
    ["TTL", "k"],
    ["SETEX", "k", "9223372036854776", "v"],
    ["SETEX", "k", "9223372036854775", "v"],
    ["SETEX", "k", "0", "v"],
    ["GET", "k"],
    ["EXPIRE", "k", "9223370399119966"],
    ["EXPIRE", "k", "-9223372036854776"],
    ["PEXPIRE", "k", "9223372036854770000"],
    ["EXPIREAT", "k", "9223372036854776"],
    ["TTL", "k"],
    ["PEXPIREAT", "k", "9223372036854775807"],
    ["PERSIST", "k"],
    ["EXPIRE", "k", "-9223372036854775"],
    ["EXISTS", "k"],
    ["RPUSH", "l", "a", "b", "c"],
    ["LPOP", "missing", "1"],
    ["LPOP", "missing", "0"],
    ["RPOP", "missing", "2"],
    ["LPOP", "missing"],
    ["LPOP", "l", "0"],
    ["LPOP", "l", "2"],
    ["RPOP", "l", "5"],
    ["LPOP", "l", "-1"],
    ["SET", "s", "x"],
    ["LPOP", "s", "1"],
]

#: Keys and glob patterns for KEYS.
GLOB_KEYS = [b"", b"a", b"ab", b"abc", b"a*c", b"a]", b"a-", b"a^", b"A",
             b"a\\", b"hello", b"hallo", b"hxllo", b"-", b"]", b"^", b"z"]
GLOB_PATTERNS = [b"*", b"a*", b"*c", b"a?", b"[ab]*", b"[^a]*", b"[a-c]*",
                 b"[c-a]*", b"a\\*c", b"a[*]c", b"[]a]*", b"a[]]", b"a[^]",
                 b"[a-]", b"a[", b"[a", b"h[^e]llo", b"h[a-e]llo", b"\\",
                 b"a\\", b"**", b"a**", b"?*?", b"[\\]]*", b"[\\^]",
                 b"*a*a*a*a*a*a*a*a*a*a*a*a*b", b""]


@pytest.mark.parametrize("protocol", [2, 3])
def test_sameReplies(pair, protocol):
    """
    Expiry ranges (out of range: Redis's error, nothing changed), LPOP and
    RPOP with a count (a null array on a missing key), KEYS with glob
    patterns, corner cases included: the same bytes from both servers.
    """
    redis, kvtwist = pair
    for client in pair:
        client.call("HELLO", protocol)
    for words in SAME:
        assert kvtwist.call(*words) == redis.call(*words), words
    for key in GLOB_KEYS:
        for client in pair:
            client.call("SET", key, b"v")
    for pattern in GLOB_PATTERNS:
        theirs = sorted(_parse(redis.call("KEYS", pattern)) or [])
        ours = sorted(_parse(kvtwist.call("KEYS", pattern)) or [])
        assert ours == theirs, pattern


def test_pathologicalGlob(pair, sharedServer):
    """
    C{KEYS a*a*a*a*a*a*a*a*a*a*a*a*b} with a 40-byte key answers at once,
    and another client's PING after it (a backtracking matcher held the
    server for hours; the clients' socket timeouts bound the wait).
    """
    _, kvtwist = pair
    kvtwist.call("SET", b"a" * 40, b"v")
    other = RawClient.tcp(sharedServer.port)
    try:
        assert kvtwist.call("KEYS", b"a*" * 12 + b"b") == b"*0\r\n"
        assert other.call("PING") == b"+PONG\r\n"
    finally:
        other.close()
