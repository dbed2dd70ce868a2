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


def test_subcommandInfo(pair):
    """
    A container command's subcommands (C{config|get}, C{client|kill},
    C{object|encoding}...) answer C{COMMAND INFO container|sub} with
    Redis's arity, flags and key positions, for every subcommand kvtwist
    has; each container kvtwist has describes at least one.
    """
    redis, kvtwist = pair
    names = _parse(kvtwist.call("COMMAND", "LIST"))
    containers = 0
    for name, real in zip(names, _parse(redis.call("COMMAND", "INFO",
                                                   *names))):
        if real is None or len(real) < 10 or not real[9]:
            continue
        containers += 1
        compared = 0
        for sub in real[9]:
            mine = _parse(kvtwist.call("COMMAND", "INFO", sub[0]))[0]
            if mine is None:
                continue
            assert (mine[0], mine[1], sorted(mine[2]), mine[3:6]) == (
                sub[0], sub[1], sorted(sub[2]), sub[3:6])
            compared += 1
        assert compared, name
    assert containers >= 5


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

#: Issue 14's string, list and key commands, corner cases and errors
#: included: the same bytes from both servers (no reply depends on the
#: time: expiry times are absolute and far off).
SAME_ISSUE_14 = [
    # INCRBYFLOAT computes in long double and shows 17 decimals, as Redis.
    ["SET", "f", "10.5"], ["INCRBYFLOAT", "f", "0.1"],
    ["INCRBYFLOAT", "f", "-5e3"], ["INCRBYFLOAT", "f", "1e-3"],
    ["INCRBYFLOAT", "g", "1e308"], ["INCRBYFLOAT", "g", "1e308"],
    ["INCRBYFLOAT", "h", "0x10"], ["INCRBYFLOAT", "h", "1_0"],
    ["INCRBYFLOAT", "h", " 1"], ["INCRBYFLOAT", "h", "1 "],
    ["INCRBYFLOAT", "h", "inf"], ["INCRBYFLOAT", "h", "nan"],
    ["INCRBYFLOAT", "h", "1e5000"], ["INCRBYFLOAT", "h", ""],
    ["INCRBYFLOAT", "n", "1"], ["INCRBYFLOAT", "n", "-1"],
    ["INCRBYFLOAT", "n", "3.0000000000000000001"],
    ["INCRBYFLOAT", "n", "-0.1"], ["INCRBYFLOAT", "n", "+.5e1"],
    ["SET", "big", "1e30"], ["INCRBYFLOAT", "big", "1"],
    ["SET", "word", "abc"], ["INCRBYFLOAT", "word", "1"],
    ["RPUSH", "list", "a"], ["INCRBYFLOAT", "list", "1"],
    ["INCRBYFLOAT", "list", "x"],
    # GETEX and its options.
    ["SET", "k", "v"], ["GETEX", "k"], ["GETEX", "k", "EX", "0"],
    ["GETEX", "nokey", "EX", "0"], ["GETEX", "k", "PERSIST", "EX", "10"],
    ["GETEX", "k", "EX", "10", "EX", "20"], ["GETEX", "k", "PX"],
    ["GETEX", "k", "PXAT", "9999999999999"], ["PEXPIRETIME", "k"],
    ["EXPIRETIME", "k"], ["GETEX", "k", "EXAT", "9999999999"],
    ["PEXPIRETIME", "k"], ["GETEX", "k", "PERSIST"], ["PEXPIRETIME", "k"],
    ["GETEX", "k", "EX", "x"], ["GETEX", "k", "EX", "9223372036854776"],
    ["GETEX", "k", "KEEPTTL"], ["GETEX", "k", "NX"], ["GETEX", "list"],
    ["GETEX", "k", "PXAT", "1"], ["EXISTS", "k"],
    # SET's options, parsed as Redis parses them.
    ["SET", "k", "v", "EX", "10", "EX", "20"], ["SET", "k", "v", "EX", "0",
                                                "FOO"],
    ["SET", "k", "v", "NX", "NX"], ["SET", "k", "v", "KEEPTTL", "EX", "1"],
    ["SET", "k", "v", "PXAT", "9999999999999", "GET"], ["PEXPIRETIME", "k"],
    ["SET", "k", "w", "KEEPTTL", "GET"], ["PEXPIRETIME", "k"],
    ["SET", "list", "v", "GET"], ["SET", "k", "v", "NX", "GET"],
    # PSETEX, GETDEL, APPEND, GETRANGE, SETRANGE, STRLEN.
    ["PSETEX", "p", "0", "v"], ["PSETEX", "p", "x", "v"],
    ["PSETEX", "p", "9223372036854775807", "v"],
    ["PSETEX", "p", "100000", "v"], ["GETDEL", "p"], ["GETDEL", "p"],
    ["GETDEL", "list"],
    ["SET", "s", "Hello World"], ["GETRANGE", "s", "0", "4"],
    ["GETRANGE", "s", "-5", "-1"], ["GETRANGE", "s", "-1", "-5"],
    ["GETRANGE", "s", "5", "2"], ["GETRANGE", "s", "-100", "100"],
    ["GETRANGE", "s", "20", "30"], ["GETRANGE", "nokey", "0", "-1"],
    ["GETRANGE", "s", "x", "1"], ["GETRANGE", "list", "0", "1"],
    ["SET", "num", "12345"], ["GETRANGE", "num", "1", "2"],
    ["SETRANGE", "s", "6", "Redis"], ["GET", "s"],
    ["SETRANGE", "s", "15", "!"], ["GET", "s"], ["STRLEN", "s"],
    ["SETRANGE", "s", "0", ""], ["SETRANGE", "new", "3", ""],
    ["EXISTS", "new"], ["SETRANGE", "new", "3", "x"], ["GET", "new"],
    ["SETRANGE", "s", "-1", "x"], ["SETRANGE", "s", "536870911", "xx"],
    ["SETRANGE", "s", "536870911", ""], ["SETRANGE", "s", "536870912", "x"],
    ["STRLEN", "s"], ["SETRANGE", "list", "0", "x"],
    ["SETRANGE", "list", "0", ""], ["SETRANGE", "s", "x", "y"],
    ["APPEND", "s", "?"], ["APPEND", "nokey2", "a"], ["GET", "nokey2"],
    ["APPEND", "list", "a"],
    # SETBIT, GETBIT, BITCOUNT.
    ["SETBIT", "b", "7", "1"], ["SETBIT", "b", "7", "1"], ["GET", "b"],
    ["SETBIT", "b", "100", "1"], ["STRLEN", "b"], ["GETBIT", "b", "100"],
    ["GETBIT", "b", "101"], ["GETBIT", "b", "100000"],
    ["SETBIT", "b", "7", "0"], ["SETBIT", "b", "4294967296", "1"],
    ["STRLEN", "b"],
    ["SETBIT", "b", "-1", "1"], ["SETBIT", "b", "1", "2"],
    ["SETBIT", "b", "1", "01"], ["SETBIT", "b", "x", "1"],
    ["GETBIT", "b", "4294967296"], ["GETBIT", "nokey", "3"],
    ["SETBIT", "list", "1", "1"], ["GETBIT", "list", "1"],
    ["SET", "bits", "foobar"], ["BITCOUNT", "bits"],
    ["BITCOUNT", "bits", "0", "0"], ["BITCOUNT", "bits", "1", "1"],
    ["BITCOUNT", "bits", "1", "1", "BYTE"],
    ["BITCOUNT", "bits", "5", "30", "BIT"],
    ["BITCOUNT", "bits", "-5", "-1", "bit"], ["BITCOUNT", "bits", "0"],
    ["BITCOUNT", "bits", "0", "1", "WORD"], ["BITCOUNT", "bits", "-1", "-5"],
    ["BITCOUNT", "bits", "3", "100"], ["BITCOUNT", "bits", "x", "1"],
    ["BITCOUNT", "nokey"], ["BITCOUNT", "nokey", "0", "-1", "BIT"],
    ["BITCOUNT", "list"], ["BITCOUNT", "bits", "0", "-1", "BIT", "x"],
    # LCS.
    ["SET", "k1", "ohmytext"], ["SET", "k2", "mynewtext"],
    ["LCS", "k1", "k2"], ["LCS", "k1", "k2", "LEN"],
    ["LCS", "k1", "k2", "IDX"], ["LCS", "k1", "k2", "IDX", "WITHMATCHLEN"],
    ["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    ["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "-4"],
    ["LCS", "k1", "k2", "LEN", "IDX"], ["LCS", "k1", "k2", "FOO"],
    ["LCS", "k1", "k2", "MINMATCHLEN"], ["LCS", "k1", "k2", "MINMATCHLEN",
                                         "x"],
    ["LCS", "k1", "nokey"], ["LCS", "nokey", "nokey", "IDX"],
    ["LCS", "k1", "list"], ["LCS", "list", "k1", "FOO"],
    ["SET", "rna1", "CACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCT"
                    "CTAAACGAACTTTAAAATCTGTGTGGCTGTCACTCGGCTGCATGCTTAGTGCA"],
    ["SET", "rna2", "ATTAAAGGTTTATACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTG"
                    "TAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTGTCACTCGGCTGC"],
    ["LCS", "rna1", "rna2"], ["LCS", "rna1", "rna2", "IDX", "WITHMATCHLEN"],
    ["LCS", "rna1", "rna2", "IDX", "MINMATCHLEN", "5"],
    # Lists: LMOVE, RPOPLPUSH, LMPOP, LPOS, LINSERT, LTRIM, LREM, LSET,
    # LINDEX.
    ["DEL", "list"], ["RPUSH", "l", "a", "b", "c", "a", "b", "c", "a"],
    ["LMOVE", "l", "m", "LEFT", "RIGHT"], ["LMOVE", "l", "m", "right",
                                           "left"],
    ["LMOVE", "l", "l", "LEFT", "RIGHT"], ["LRANGE", "l", "0", "-1"],
    ["LMOVE", "l", "m", "UP", "LEFT"], ["LMOVE", "nol", "m", "LEFT", "LEFT"],
    ["LMOVE", "nol", "k1", "LEFT", "LEFT"],
    ["LMOVE", "l", "k1", "LEFT", "LEFT"], ["LMOVE", "k1", "l", "LEFT",
                                           "LEFT"],
    ["RPOPLPUSH", "l", "m"], ["RPOPLPUSH", "nol", "m"],
    ["LRANGE", "m", "0", "-1"], ["RPUSH", "one", "x"],
    ["RPOPLPUSH", "one", "one"], ["RPOPLPUSH", "one", "two"],
    ["EXISTS", "one"], ["LRANGE", "two", "0", "-1"],
    ["LMPOP", "2", "nol", "m", "LEFT"], ["LMPOP", "2", "nol", "m", "RIGHT",
                                         "COUNT", "2"],
    ["LMPOP", "1", "nol", "LEFT"], ["LMPOP", "0", "m", "LEFT"],
    ["LMPOP", "x", "m", "LEFT"], ["LMPOP", "2", "m", "LEFT"],
    ["LMPOP", "1", "m", "UP"], ["LMPOP", "1", "m", "LEFT", "COUNT", "0"],
    ["LMPOP", "1", "m", "LEFT", "COUNT", "x"],
    ["LMPOP", "1", "m", "LEFT", "COUNT", "1", "COUNT", "1"],
    ["LMPOP", "1", "m", "LEFT", "FOO"], ["LMPOP", "2", "k1", "m", "LEFT"],
    ["LMPOP", "1", "m", "LEFT", "COUNT", "100"], ["EXISTS", "m"],
    ["DEL", "l"], ["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"],
    ["LPOS", "l", "c"], ["LPOS", "l", "c", "RANK", "2"],
    ["LPOS", "l", "c", "RANK", "-1"], ["LPOS", "l", "c", "COUNT", "2"],
    ["LPOS", "l", "c", "COUNT", "0"], ["LPOS", "l", "c", "RANK", "-2",
                                       "COUNT", "0"],
    ["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"],
    ["LPOS", "l", "c", "RANK", "-1", "MAXLEN", "2"], ["LPOS", "l", "z"],
    ["LPOS", "l", "z", "COUNT", "3"], ["LPOS", "nol", "z"],
    ["LPOS", "nol", "z", "COUNT", "1"], ["LPOS", "l", "c", "RANK", "0"],
    ["LPOS", "l", "c", "COUNT", "-1"], ["LPOS", "l", "c", "COUNT", "x"],
    ["LPOS", "l", "c", "MAXLEN", "-1"], ["LPOS", "l", "c", "RANK", "x"],
    ["LPOS", "l", "c", "RANK"], ["LPOS", "l", "c", "FOO", "1"],
    ["LPOS", "k1", "c"], ["LPOS", "k1", "c", "RANK", "0"],
    ["LINSERT", "l", "BEFORE", "c", "X"], ["LINSERT", "l", "after", "3",
                                           "Y"],
    ["LINSERT", "l", "BEFORE", "zz", "X"], ["LINSERT", "nol", "BEFORE", "a",
                                            "X"],
    ["LINSERT", "l", "MIDDLE", "a", "X"], ["LINSERT", "k1", "BEFORE", "a",
                                           "X"],
    ["LRANGE", "l", "0", "-1"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "99"],
    ["LINDEX", "l", "x"], ["LINDEX", "k1", "0"], ["LSET", "l", "-1", "Z"],
    ["LSET", "l", "99", "Z"], ["LSET", "nol", "0", "Z"],
    ["LSET", "k1", "0", "Z"], ["LREM", "l", "-1", "c"],
    ["LREM", "l", "0", "c"], ["LREM", "l", "1", "nothing"],
    ["LREM", "k1", "0", "c"], ["LRANGE", "l", "0", "-1"],
    ["LTRIM", "l", "1", "-2"], ["LRANGE", "l", "0", "-1"],
    ["LTRIM", "l", "-100", "100"], ["LRANGE", "l", "0", "-1"],
    ["LTRIM", "l", "x", "1"], ["LTRIM", "k1", "0", "1"],
    ["LTRIM", "nol", "0", "1"], ["LTRIM", "l", "5", "1"], ["EXISTS", "l"],
    # Keys: RENAMENX, COPY, TOUCH, RANDOMKEY, UNLINK, EXPIRE's options,
    # EXPIRETIME, OBJECT.
    ["FLUSHALL"], ["RANDOMKEY"], ["SET", "a", "1"], ["RANDOMKEY"],
    ["SET", "b", "2"],
    ["RENAMENX", "a", "b"], ["RENAMENX", "a", "c"], ["RENAMENX", "c", "c"],
    ["RENAMENX", "nokey", "d"], ["TOUCH", "b", "c", "nokey"],
    ["COPY", "b", "c"], ["COPY", "b", "c", "REPLACE"],
    ["COPY", "b", "b"], ["COPY", "b", "d", "DB", "0"],
    ["COPY", "b", "b", "DB", "1"], ["COPY", "b", "b", "DB", "1"],
    ["COPY", "b", "b", "DB", "16"], ["COPY", "b", "b", "DB", "x"],
    ["COPY", "b", "b", "FOO"], ["COPY", "b", "b", "DB"],
    ["COPY", "nokey", "e"], ["SELECT", "1"], ["GET", "b"], ["SELECT", "0"],
    ["RPUSH", "ls", "x", "y"], ["PEXPIREAT", "ls", "9999999999999"],
    ["COPY", "ls", "ls2"], ["LRANGE", "ls2", "0", "-1"],
    ["PEXPIRETIME", "ls2"], ["UNLINK", "ls", "nokey", "b"],
    ["EXPIRE", "c", "100", "XX"], ["EXPIRE", "c", "100", "NX"],
    ["EXPIRE", "c", "200", "NX"], ["EXPIREAT", "c", "9999999999", "GT"],
    ["EXPIRETIME", "c"], ["EXPIREAT", "c", "9999999990", "GT"],
    ["EXPIREAT", "c", "9999999990", "LT"], ["EXPIRETIME", "c"],
    ["EXPIREAT", "c", "9999999995", "XX", "GT"],
    ["PEXPIREAT", "c", "9999999999000", "XX", "LT"], ["EXPIRETIME", "c"],
    ["EXPIRE", "c", "10", "NX", "XX"], ["EXPIRE", "c", "10", "GT", "LT"],
    ["EXPIRE", "c", "10", "NX", "GT"], ["EXPIRE", "c", "abc", "FOO"],
    ["EXPIRE", "c", "10", "FOO"], ["EXPIRE", "c", "abc", "NX"],
    ["EXPIRE", "nokey", "10", "NX"], ["PERSIST", "c"],
    ["EXPIREAT", "c", "9999999999", "GT"], ["EXPIREAT", "c", "9999999999",
                                            "LT"],
    ["EXPIRETIME", "c"], ["EXPIRE", "c", "-1", "XX"], ["EXISTS", "c"],
    ["EXPIRETIME", "nokey"], ["PEXPIRETIME", "d"],
    ["SET", "int", "123"], ["SET", "emb", "abc"], ["SET", "raw", "x" * 50],
    ["OBJECT", "ENCODING", "int"], ["OBJECT", "ENCODING", "emb"],
    ["OBJECT", "ENCODING", "raw"], ["OBJECT", "ENCODING", "nokey"],
    ["OBJECT", "REFCOUNT", "int"], ["OBJECT", "REFCOUNT", "emb"],
    ["OBJECT", "REFCOUNT", "nokey"], ["OBJECT", "FREQ", "int"],
    ["OBJECT", "FREQ", "nokey"], ["OBJECT", "IDLETIME", "nokey"],
    ["OBJECT", "FOO", "int"], ["OBJECT", "ENCODING"],
    ["OBJECT", "ENCODING", "a", "b"], ["OBJECT", "HELP"],
    ["OBJECT", "HELP", "x"], ["TYPE", "int"], ["TYPE", "nokey"],
    ["SELECT", "15"], ["SELECT", "16"], ["SELECT", "-1"], ["SELECT", "x"],
    ["SELECT", "0"], ["MOVE", "int", "3"], ["MOVE", "int", "3"],
    ["MOVE", "emb", "0"], ["MOVE", "emb", "16"], ["MOVE", "emb", "x"],
    ["MOVE", "nokey", "3"], ["SWAPDB", "0", "3"], ["GET", "int"],
    ["SWAPDB", "x", "3"], ["SWAPDB", "0", "y"], ["SWAPDB", "0", "16"],
    ["DBSIZE"], ["FLUSHDB", "FOO"], ["FLUSHDB", "ASYNC"], ["DBSIZE"],
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


@pytest.mark.parametrize("protocol", [2, 3])
def test_sameRepliesMoreCommands(pair, protocol):
    """
    The added strings, lists and keys commands (INCRBYFLOAT's long
    double included), with their errors: the same bytes from both
    servers.
    """
    redis, kvtwist = pair
    for client in pair:
        client.call("HELLO", protocol)
    for words in SAME_ISSUE_14:
        assert kvtwist.call(*words) == redis.call(*words), words


def test_scanType(pair):
    """
    SCAN's TYPE option finds the keys of each type (and none for a type
    Redis doesn't know), as Redis does.
    """
    for client in pair:
        client.call("SET", "s", "v")
        client.call("RPUSH", "l", "v")
    for kind in ("string", "list", "STRING", "hash", "nosuch"):
        theirs = _parse(pair[0].call("SCAN", 0, "COUNT", 100, "TYPE", kind))
        ours = _parse(pair[1].call("SCAN", 0, "COUNT", 100, "TYPE", kind))
        assert sorted(ours[1]) == sorted(theirs[1]), kind


#: The blocking pops where they answer at once (something to pop, a
#: timeout that passes, an error): the same bytes from both servers.
SAME_BLOCKING = [
    ["RPUSH", "l", "a", "b", "c", "d"], ["SET", "s", "x"],
    ["BLPOP", "none", "l", "0"], ["BRPOP", "l", "none", "1"],
    ["BLPOP", "none", "0.01"], ["BRPOP", "none", "none2", "0.01"],
    ["BLPOP", "s", "l", "0"], ["BLPOP", "l", "s", "0"],
    ["BLPOP", "l", "-1"], ["BLPOP", "l", "-0.5"], ["BLPOP", "l", "abc"],
    ["BLPOP", "l", "inf"], ["BLPOP", "l", "nan"], ["BLPOP", "l", " 1"],
    ["BLPOP", "l", "9223372036854775807"],
    ["BLMOVE", "l", "m", "LEFT", "RIGHT", "0"],
    ["BLMOVE", "none", "m", "LEFT", "RIGHT", "0.01"],
    ["BLMOVE", "l", "m", "UP", "RIGHT", "-1"], ["RPUSH", "l", "e", "f"],
    ["BLMOVE", "l", "s", "LEFT", "RIGHT", "0"],
    ["BLMOVE", "s", "m", "LEFT", "RIGHT", "0"],
    ["BRPOPLPUSH", "m", "l", "0"], ["BRPOPLPUSH", "none", "l", "0.01"],
    ["BLMPOP", "0", "2", "none", "l", "RIGHT", "COUNT", "9"],
    ["BLMPOP", "0.01", "1", "none", "LEFT"],
    ["BLMPOP", "-1", "1", "none", "LEFT"],
    ["BLMPOP", "0", "0", "none", "LEFT"],
    ["BLMPOP", "0", "2", "none", "LEFT"],
    ["BLMPOP", "0", "1", "none", "LEFT", "COUNT", "0"],
    ["BLMPOP", "0", "1", "none", "SIDEWAYS"],
    ["BLMPOP", "0", "1", "s", "LEFT"],
    ["ZADD", "z", "1.5", "a", "2", "b", "3e20", "c"],
    ["BZPOPMIN", "none", "z", "0"], ["BZPOPMAX", "z", "0"],
    ["BZPOPMIN", "s", "z", "0"], ["BZPOPMAX", "z", "0.01"],
    ["BZPOPMIN", "l", "0.01"], ["BZPOPMAX", "z", "-1"],
    ["BZPOPMIN", "z", "nope"],
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
    ["BZMPOP", "0", "2", "none", "z", "MAX", "COUNT", "2"],
    ["BZMPOP", "0.01", "1", "none", "MIN"],
    ["BZMPOP", "-1", "1", "none", "MIN"], ["BZMPOP", "0", "0", "z", "MIN"],
    ["BZMPOP", "0", "2", "z", "MIN"],
    ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"],
    ["BZMPOP", "0", "1", "z", "SIDEWAYS"], ["BZMPOP", "0", "1", "s", "MIN"],
    ["BZMPOP", "0", "2", "z", "s", "MIN", "COUNT", "9"], ["EXISTS", "z"],
    ["CLIENT", "UNBLOCK", "abc"], ["CLIENT", "UNBLOCK", "1", "later"],
    ["CLIENT", "UNBLOCK", "999999"],
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_sameRepliesBlocking(pair, protocol):
    """
    The blocking pops where they don't block: the same bytes from both
    servers, their errors included.
    """
    redis, kvtwist = pair
    for client in pair:
        client.call("HELLO", protocol)
    for words in SAME_BLOCKING:
        assert kvtwist.call(*words) == redis.call(*words), words


#: A pub/sub session: each request and how many replies (frames) it gets.
PUBSUB_SESSION = [
    (["PUBSUB", "NUMPAT"], 1), (["PUBSUB", "CHANNELS"], 1),
    (["PUBSUB", "NUMSUB", "a", "b"], 1), (["PUBSUB", "HELP"], 1),
    (["PUBSUB", "NOSUCH"], 1), (["PUBSUB", "CHANNELS", "a", "b"], 1),
    (["PUBSUB", "NUMPAT", "x"], 1), (["PUBSUB", "SHARDCHANNELS"], 1),
    (["PUBSUB", "SHARDNUMSUB", "a"], 1), (["PUBLISH", "a", "m"], 1),
    (["UNSUBSCRIBE"], 1), (["PUNSUBSCRIBE"], 1), (["SUBSCRIBE"], 1),
    (["SUBSCRIBE", "a", "b", "a"], 3), (["PSUBSCRIBE", "x*", "y?"], 2),
    (["PING"], 1), (["PING", "hi"], 1), (["PING", "a", "b"], 1),
    (["GET", "k"], 1), (["PUBSUB", "NUMPAT"], 1), (["NOSUCH"], 1),
    (["SET"], 1), (["UNSUBSCRIBE", "zz", "a"], 2), (["PUNSUBSCRIBE"], 2),
    (["UNSUBSCRIBE"], 1), (["UNSUBSCRIBE"], 1), (["GET", "k"], 1),
    (["SUBSCRIBE", "c"], 1), (["RESET"], 1), (["GET", "k"], 1),
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_samePubSub(pair, protocol):
    """
    Subscribing and unsubscribing, RESP2's subscribed mode (its refusals,
    PING's C{pong} array) and RESP3's pushes, PUBSUB and PUBLISH: the same
    bytes from both servers.
    """
    redis, kvtwist = pair
    for client in pair:
        client.call("HELLO", protocol)
    for words, count in PUBSUB_SESSION:
        theirs = [redis.call(*words)] + [redis.reply()
                                         for _ in range(count - 1)]
        ours = [kvtwist.call(*words)] + [kvtwist.reply()
                                         for _ in range(count - 1)]
        assert ours == theirs, words
