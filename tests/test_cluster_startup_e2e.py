"""
Starting a cluster front end with a mistake, as a user makes one: the
options that make no sense with it, a node that is no cluster node, a
wrong or missing password each stop C{twistd kvstore} with one or two
lines naming the problem; seeds that can't be reached yet only warn (the
front end starts, answers PING, and gives clients a clear error until
the cluster answers).
"""

import os
import subprocess
import time

import pytest

from tests.clusterharness import (
    HOST, FrontEnd, Node, freePorts, redisTool)
from tests.harness import closedPort, twistdCommand, waitFor
from tests.test_startup_e2e import assertRefused


def runTwistd(tmp_path, *kvstoreArgs, mode="foreground", timeout=60):
    """
    Run C{twistd [-n] kvstore ARGS} (no data directory) and return the
    finished process, its output in C{.stdout}.
    """
    argv = twistdCommand()
    if mode == "foreground":
        argv.append("-n")
    argv += ["--pidfile", str(tmp_path / "twistd.pid"),
             "--logfile", str(tmp_path / "twistd.log"), "kvstore",
             "--port", "tcp:0:interface=127.0.0.1"] + list(kvstoreArgs)
    return subprocess.run(argv, cwd=str(tmp_path), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)


class LoneRedis:
    """
    One C{redis-server} of the test's own, standalone or a cluster node
    with no slots, maybe with a password.
    """

    def __init__(self, tmp_path, cluster: bool, password=None):
        port, bus = freePorts(2)
        self.node = Node(str(tmp_path), port, bus, password)
        self.cluster = cluster

    def __enter__(self):
        node = self.node
        node.start()
        if not self.cluster:
            # Rewrite the config as a standalone server and restart.
            node.kill9()
            path = os.path.join(node.dir, "redis.conf")
            with open(path) as f:
                lines = [line for line in f
                         if not line.startswith("cluster-")]
            with open(path, "w") as f:
                f.writelines(lines)
            node.process = subprocess.Popen(
                [redisTool("redis-server"), path], cwd=node.dir,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        waitFor(lambda: node.tryCommand(b"PING") is not None, timeout=10,
                what="redis-server to start")
        return node

    def __exit__(self, *exc):
        self.node.kill9()


@pytest.mark.parametrize("option", [
    ["--data-dir", "x"], ["--fsync", "always"], ["--flush-interval", "2"]])
def test_dataOptions(tmp_path, option):
    """
    Options about data kept by this process are refused in one line.
    """
    result = runTwistd(tmp_path, "--backend", "redis-cluster://%s:1" % (
        HOST,), *option)
    assertRefused(result, option[0], "has no use with --backend",
                  "keeps no data")


def test_badBackend(tmp_path):
    """
    A C{--backend} that is neither memory nor a cluster is named.
    """
    result = runTwistd(tmp_path, "--backend", "redis://localhost:6379")
    assertRefused(result, "--backend must be memory or redis-cluster://")


@pytest.mark.parametrize("mode", ["foreground", "daemon"])
def test_notACluster(tmp_path, mode):
    """
    A seed that is a Redis server without cluster support is named,
    before twistd daemonizes.
    """
    with LoneRedis(tmp_path, cluster=False) as node:
        result = runTwistd(tmp_path, "--backend",
                           "redis-cluster://%s" % (node.address,), mode=mode)
    assertRefused(result, node.address, "without cluster support")


def test_password(tmp_path):
    """
    A node with a password: without --backend-password-file, or with the
    wrong one, the start stops saying so.
    """
    secret = tmp_path / "wrong"
    secret.write_text("wrong\n")
    with LoneRedis(tmp_path, cluster=True, password="right") as node:
        backend = "redis-cluster://%s" % (node.address,)
        missing = runTwistd(tmp_path, "--backend", backend)
        wrong = runTwistd(tmp_path, "--backend", backend,
                          "--backend-password-file", str(secret))
    assertRefused(missing, "requires a password",
                  "--backend-password-file")
    assertRefused(wrong, "--backend-password-file", "refused the password")


def test_unreachableSeeds(tmp_path):
    """
    Seeds that can't be reached: the front end starts (warning in its
    log), answers PING, and gives a command a clear error within the
    timeout.
    """
    with closedPort() as port:
        server = FrontEnd(tmp_path / "fe", "redis-cluster://%s:%d"
                          % (HOST, port))
        server.start(["--backend-timeout", "1"])
        try:
            with server.textClient() as c:
                assert c.command("PING") == "+PONG"  # as Redis inline
                started = time.monotonic()
                reply = c.command("GET k")
                took = time.monotonic() - started
            assert reply.startswith("ERR backend unavailable"), reply
            assert "Connection refused" in reply, reply
            assert took < 1.5
            assert "cannot reach any seed node" in server.log
        finally:
            server.cleanup()
