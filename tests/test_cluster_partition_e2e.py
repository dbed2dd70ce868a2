"""
A front end cut off from its cluster by the network, not by a dead
process: it runs in a network namespace of its own, joined to the
nodes by a veth pair; taking the nodes' end of the pair down makes every
packet between them vanish (no reset, no refusal: connections just go
silent, as when a switch or a firewall fails).  Its clients, in the same
namespace, get clear errors within the timeout, PING still answers, and
service comes back when the link does.

Needs root and C{ip} (iproute2); skipped with the reason otherwise.
"""

import ipaddress
import json
import os
import random
import secrets
import shutil
import subprocess
import sys

import pytest

from tests.clusterharness import FrontEnd, RedisCluster
from tests.harness import waitFor

#: The link's addresses are a /30 of this network picked per run (see
#: L{freeSubnet}): the nodes' end is its first address, the front end's its
#: second.
NETWORK = ipaddress.ip_network("10.213.0.0/16")

#: Run inside the namespace: send RESP commands to the front end, print
#: each reply and how long it took, as JSON.
CLIENT = r"""
import json, socket, sys, time
port = int(sys.argv[1])
out = []
s = socket.create_connection(("127.0.0.1", port), timeout=30)
for words in json.loads(sys.argv[2]):
    req = b"*%d\r\n" % len(words) + b"".join(
        b"$%d\r\n%s\r\n" % (len(w), w.encode()) for w in words)
    started = time.monotonic()
    s.sendall(req)
    data = b""
    while not data.endswith(b"\r\n") or data[:1] == b"$" and \
            data.count(b"\r\n") < 2 and not data.startswith(b"$-1"):
        data += s.recv(65536)
    out.append([data.decode(), time.monotonic() - started])
print(json.dumps(out))
"""


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True,
                          check=check, timeout=30)


def addressesInUse():
    """
    The IPv4 networks of this namespace's interfaces (C{ip -j addr}).
    """
    out = ip("-j", "-4", "addr").stdout.decode()
    return [ipaddress.ip_interface("%s/%d" % (a["local"], a["prefixlen"]))
            .network for link in json.loads(out or "[]")
            for a in link.get("addr_info", [])]


def freeSubnet():
    """
    A /30 of L{NETWORK} that no interface here is on.  Not a fixed one:
    this machine's tests (other checkouts', or a killed run's namespace
    left behind) may hold a link of their own at the same time, and two
    links on one subnet send the replies of one test's nodes into the
    other's namespace, where they vanish.
    """
    used = addressesInUse()
    for _ in range(100):
        subnet = ipaddress.ip_network("%s/30" % (
            NETWORK[4 * random.randrange(NETWORK.num_addresses // 4)],))
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    pytest.skip("no free /30 in %s" % (NETWORK,))


@pytest.fixture
def namespace():
    """
    A network namespace joined to this one by a veth pair on a subnet of
    its own: C{(name, the nodes' end, the nodes' address)}; removed
    after.
    """
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("ip (iproute2) is not installed")
    # Names unique on the machine (process ids are not: other checkouts'
    # tests may run in other PID namespaces).
    tag = secrets.token_hex(4)
    name, near, far = "kvtns" + tag, "kvta" + tag, "kvtb" + tag
    try:
        ip("netns", "add", name)
    except subprocess.CalledProcessError as e:
        pytest.skip("cannot make a network namespace here: %s"
                    % (e.stderr.decode().strip(),))
    try:
        ip("link", "add", near, "type", "veth", "peer", "name", far)
        ip("link", "set", far, "netns", name)
        subnet = freeSubnet()
        nodesSide, frontSide = str(subnet[1]), str(subnet[2])
        ip("addr", "add", "%s/30" % (nodesSide,), "dev", near)
        ip("link", "set", near, "up")
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        ip("netns", "exec", name, "ip", "addr", "add",
           "%s/30" % (frontSide,), "dev", far)
        ip("netns", "exec", name, "ip", "link", "set", far, "up")
        # The front end's replies must leave through this link (not
        # another one on the same subnet, made at the same moment).
        route = ip("-j", "route", "get", frontSide).stdout.decode()
        assert json.loads(route)[0]["dev"] == near, route
        yield name, near, nodesSide
    finally:
        ip("link", "del", near, check=False)
        ip("netns", "del", name, check=False)


def inside(namespace, port, *commands):
    """
    Run C{commands} through the front end from inside the namespace;
    C{[(reply line(s), seconds)]}.
    """
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", CLIENT,
         str(port), json.dumps([list(c) for c in commands])],
        capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout.decode())


def test_frontEndCutOff(namespace, tmp_path):
    """
    The link goes silent: a command gets an error within the timeout (the
    node connection that waited is dropped), PING answers at once; the
    link back, service is back.
    """
    name, link, nodesSide = namespace
    cluster = RedisCluster(tmp_path / "cluster", replicasPerPrimary=0,
                           announce=nodesSide)
    cluster.start()
    front = FrontEnd(tmp_path / "fe", cluster.seeds(3),
                     prefix=["ip", "netns", "exec", name])
    try:
        front.start(["--backend-timeout", "2"])
        port = front.port
        [(ok, _)] = inside(name, port, ["SET", "k", "v"])
        assert ok == "+OK\r\n"
        ip("link", "set", link, "down")
        (got, took), (pong, pongTook) = inside(name, port, ["GET", "k"],
                                               ["PING"])
        assert got.startswith("-ERR backend"), got
        assert took < 2.5, took
        assert pong == "+PONG\r\n" and pongTook < 0.5
        ip("link", "set", link, "up")
        waitFor(lambda: inside(name, port, ["GET", "k"])[0][0] ==
                "$1\r\nv\r\n", timeout=15, interval=0.2,
                what="GET through the front end to work again")
        assert "ended: no reply within 2s" in front.log
    finally:
        front.cleanup()
        cluster.stop()
