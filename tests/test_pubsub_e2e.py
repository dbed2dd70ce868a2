"""
End-to-end tests of pub/sub with unmodified redis-py (C{pubsub()},
C{get_message}, C{listen}, patterns; RESP2 and RESP3's push messages),
redis-cli (C{redis-cli subscribe}) and a person on the text protocol,
against a real C{twistd -n kvstore}; and a subscriber that doesn't read,
dropped while the publisher goes on.
"""

import shutil
import socket
import subprocess
import time

import pytest

from kvtwist.dialects.resp import encodeCommand
from tests.harness import HOST, IO_TIMEOUT, LineClient, waitFor

redis = pytest.importorskip("redis")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, sharedServer):
    """
    A redis-py client of the flushed shared server, in RESP2 or RESP3.
    """
    client = sharedServer.redis(protocol=request.param)
    client.flushall()
    yield client
    client.close()


def nextMessage(pubsub, timeout=IO_TIMEOUT):
    """
    The next message (not an acknowledgement) C{pubsub} gets.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True,
                                     timeout=0.5)
        if message is not None:
            return message
    raise AssertionError("no message within %ss" % (timeout,))


def test_subscribe(r):
    """
    A subscriber gets what is published to its channels, in order, with
    the acknowledgements redis-py expects; PUBLISH counts subscribers.
    """
    p = r.pubsub()
    p.subscribe("news", "sport")
    first = p.get_message(timeout=IO_TIMEOUT)
    assert first == {"type": "subscribe", "pattern": None,
                     "channel": b"news", "data": 1}
    assert p.get_message(timeout=IO_TIMEOUT)["data"] == 2
    assert r.publish("news", "hello") == 1
    assert r.publish("sport", "goal") == 1
    assert r.publish("weather", "rain") == 0
    assert nextMessage(p) == {"type": "message", "pattern": None,
                              "channel": b"news", "data": b"hello"}
    assert nextMessage(p)["data"] == b"goal"
    assert r.pubsub_numsub("news", "weather") == [(b"news", 1),
                                                   (b"weather", 0)]
    assert sorted(r.pubsub_channels()) == [b"news", b"sport"]
    p.unsubscribe("news")
    assert p.get_message(timeout=IO_TIMEOUT)["type"] == "unsubscribe"
    assert r.publish("news", "again") == 0
    p.close()
    waitFor(lambda: r.pubsub_channels() == [], what="no channels")


def test_patterns(r):
    """
    Pattern subscriptions get C{pmessage}s naming the pattern.
    """
    p = r.pubsub()
    p.psubscribe("user:*")
    assert p.get_message(timeout=IO_TIMEOUT)["type"] == "psubscribe"
    assert r.pubsub_numpat() == 1
    assert r.publish("user:42", "login") == 1
    assert nextMessage(p) == {"type": "pmessage", "pattern": b"user:*",
                              "channel": b"user:42", "data": b"login"}
    p.punsubscribe()
    p.close()


def test_listen(r):
    """
    C{listen()} yields the acknowledgement, then the messages.
    """
    p = r.pubsub()
    p.subscribe("jobs")
    r.publish("jobs", "one")
    r.publish("jobs", "two")
    got = []
    for message in p.listen():
        got.append((message["type"], message["data"]))
        if len(got) == 3:
            break
    assert got == [("subscribe", 1), ("message", b"one"),
                   ("message", b"two")]
    p.close()


def test_pingAndHealthCheck(sharedServer):
    """
    A subscribed RESP2 connection answers PING with the C{pong} array
    redis-py's health check expects, and refuses other commands with
    Redis's error.
    """
    client = sharedServer.redis(protocol=2, health_check_interval=1)
    p = client.pubsub()
    p.subscribe("c")
    assert p.get_message(timeout=IO_TIMEOUT)["type"] == "subscribe"
    p.ping("hi")
    message = nextMessage(p)
    assert message["type"] == "pong" and message["data"] == b"hi"
    p.connection.send_command("GET", "k")
    with pytest.raises(redis.ResponseError, match="only .P.S.SUBSCRIBE"):
        p.connection.read_response()
    p.close()
    client.close()


def test_resp3Push(sharedServer):
    """
    RESP3: messages come as push replies, handled by redis-py's push
    handler; the subscribed connection still runs other commands.
    """
    client = sharedServer.redis(protocol=3)
    p = client.pubsub()
    p.subscribe("c")
    assert p.get_message(timeout=IO_TIMEOUT)["type"] == "subscribe"
    p.connection.send_command("SET", "k", "v")
    assert p.connection.read_response() == b"OK"
    client.publish("c", "m")
    assert nextMessage(p)["data"] == b"m"
    with LineClient(sharedServer.port) as raw:
        raw.send(encodeCommand("HELLO", "3"))
        while raw.readLineBytes() != b"*0":  # the map's last value
            pass
        raw.send(encodeCommand("SUBSCRIBE", "c"))
        assert [raw.readLineBytes() for _ in range(6)] == [
            b">3", b"$9", b"subscribe", b"$1", b"c", b":1"]
        client.publish("c", "pushed")
        assert [raw.readLineBytes() for _ in range(7)] == [
            b">3", b"$7", b"message", b"$1", b"c", b"$6", b"pushed"]
    p.close()
    client.close()


def test_textProtocol(sharedServer):
    """
    A person on the text protocol subscribes and reads messages as lines.
    """
    with sharedServer.textClient() as person:
        assert person.command("SUBSCRIBE news") == (
            "Subscribed to channel 'news' (1 subscription).")
        sharedServer.rawCommand(b"PUBLISH", b"news", b"extra! extra!")
        assert person.readLine() == "Message on 'news': extra! extra!"
        assert person.command("ECHO still-here") == "still-here"


REDIS_CLI = shutil.which("redis-cli")


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
def test_redisCli(sharedServer):
    """
    C{redis-cli subscribe news} prints the acknowledgement and each
    message as it does with Redis.
    """
    proc = subprocess.Popen(
        [REDIS_CLI, "-p", str(sharedServer.port), "subscribe", "news"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        waitFor(lambda: sharedServer.rawCommand(
            b"PUBLISH", b"news", b"hello") == b"1", what="a subscriber")
        lines = [proc.stdout.readline() for _ in range(6)]
    finally:
        proc.kill()
        proc.wait()
    assert lines[:3] == [b"subscribe\n", b"news\n", b"1\n"]
    assert lines[3:] == [b"message\n", b"news\n", b"hello\n"]


def test_slowSubscriberDropped(makeServer):
    """
    A subscriber that never reads is dropped once it holds more unread
    messages than the hard limit, counted as closed by the server; the
    publisher's PUBLISHes are answered all along and reach the other,
    reading subscriber.
    """
    server = makeServer(["--pubsub-output-limit", "1mb 512kb 60"])
    slow = socket.create_connection((HOST, server.port), timeout=IO_TIMEOUT)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(encodeCommand("SUBSCRIBE", "firehose"))
    reader = server.redis(protocol=2)
    p = reader.pubsub()
    p.subscribe("firehose")
    assert p.get_message(timeout=IO_TIMEOUT)["type"] == "subscribe"
    publisher = server.redis(protocol=2)
    payload = b"x" * 65536
    counts = []
    received = 0
    for _ in range(400):
        counts.append(publisher.publish("firehose", payload))
        while p.get_message(timeout=0) is not None:
            received += 1
        if counts[-1] == 1:
            break
    assert counts[0] == 2 and counts[-1] == 1, counts
    info = server.info()
    assert info["client_output_buffer_limit_disconnections"] == "1"
    assert int(info["closed_by_server"]) >= 1
    while received < len(counts):
        nextMessage(p)
        received += 1
    p.close()
    slow.close()
    reader.close()
    publisher.close()
