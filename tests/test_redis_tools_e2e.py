"""
End-to-end tests with Redis's own command-line tools against a real
C{twistd -n kvstore}: a scripted redis-cli session, redis-cli INFO, and
redis-benchmark.  Skipped only when the tool is not installed (CI installs
Debian's redis-tools).
"""

import shutil
import subprocess

import pytest


def tool(name):
    """
    The path of a Redis tool, or skip the test.
    """
    path = shutil.which(name)
    if path is None:
        pytest.skip("%s is not installed (apt-get install redis-tools)"
                    % (name,))
    return path


def redisCli(server, *args, stdin=None, timeout=30):
    """
    Run redis-cli against the server and return the completed process.
    """
    return subprocess.run(
        [tool("redis-cli"), "-h", "127.0.0.1", "-p", str(server.port)]
        + list(args), input=stdin, capture_output=True, timeout=timeout)


def test_redisCliScriptedSession(server):
    """
    A session piped into redis-cli: each command's reply, in order, as
    redis-cli prints them with no terminal (raw values, one element per
    line, an error followed by an empty line).
    """
    script = b"\n".join([
        b"PING",
        b"SET greeting hello",
        b'SET spaced "hello  world"',
        b"GET greeting",
        b"GET spaced",
        b"GET missing",
        b"INCR n",
        b"INCRBY n 41",
        b"RPUSH l a b c",
        b"LRANGE l 0 -1",
        b"DEL greeting",
        b"EXISTS greeting",
        b"DBSIZE",
        b"NOSUCHCOMMAND x",
        b"LPUSH spaced x",
    ]) + b"\n"
    result = redisCli(server, stdin=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "PONG",
        "OK",
        "OK",
        "hello",
        "hello  world",
        "",
        "1",
        "42",
        "3",
        "a",
        "b",
        "c",
        "1",
        "0",
        "3",
        "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: "
        "'x'",
        "",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
        "",
    ]


def test_redisCliOneShot(server):
    """
    One-shot redis-cli commands, in RESP2 and RESP3 (C{-3}).
    """
    result = redisCli(server, "SET", "k", "v")
    assert (result.returncode, result.stdout) == (0, b"OK\n")
    result = redisCli(server, "GET", "k")
    assert (result.returncode, result.stdout) == (0, b"v\n")
    result = redisCli(server, "-3", "GET", "k")
    assert (result.returncode, result.stdout) == (0, b"v\n")
    result = redisCli(server, "--no-raw", "GET", "nosuch")
    assert (result.returncode, result.stdout) == (0, b"(nil)\n")


def test_redisCliInfo(server):
    """
    redis-cli INFO prints the server's fields, sections included.
    """
    result = redisCli(server, "INFO")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    fields = dict(line.strip().split(":", 1) for line in text.splitlines()
                  if ":" in line)
    assert fields["connected_clients"] == "1"
    assert "dropped_clients" in fields
    assert "# Clients" in text
    assert "# Persistence" in text
    result = redisCli(server, "INFO", "clients")
    assert "connected_clients:1" in result.stdout.decode()
    assert "# Persistence" not in result.stdout.decode()


def test_redisBenchmark(server):
    """
    redis-benchmark runs its PING, SET, GET, INCR, LPUSH, RPUSH, LPOP,
    RPOP and MSET tests to completion with no error.
    """
    benchmark = tool("redis-benchmark")
    result = subprocess.run(
        [benchmark, "-h", "127.0.0.1", "-p", str(server.port),
         "-t", "ping,set,get,incr,lpush,rpush,lpop,rpop,mset",
         "-n", "2000", "-q"],
        capture_output=True, timeout=300)
    out = result.stdout.decode("utf-8", "replace")
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, (out, err)
    assert "error" not in (out + err).lower(), (out, err)
    # -q prints one "NAME: N requests per second" line per test, after
    # carriage-return progress updates.
    finished = [line.split(":", 1)[0].strip()
                for line in out.replace("\r", "\n").splitlines()
                if "requests per second" in line]
    for name in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR",
                 "LPUSH", "RPUSH", "LPOP", "RPOP", "MSET (10 keys)"]:
        assert name in finished, (name, out)
    info = server.info()
    assert int(info["total_commands_processed"]) >= 2000 * 10
