"""
A real Redis Cluster for the end-to-end tests: local C{redis-server}
processes, children of the test (not daemonized), in a temporary
directory, on free loopback ports, joined by C{redis-cli --cluster
create}, and torn down after.

    cluster = RedisCluster(tmp_path, primaries=3, replicasPerPrimary=1)
    cluster.start()                  # ~1-2 s: 6 nodes, all slots covered
    cluster.seeds()                  # "redis-cluster://127.0.0.1:P1,..."
    cluster.primaryOf(b"key")        # the node serving a key's slot now
    cluster.kill9(node)              # a crash; cluster.waitFailover(...)
    cluster.stop()

Run it by hand, to try a front end on it:

    python -m tests.clusterharness /tmp/mycluster

(it prints the seed list, and stops the nodes on Ctrl+C).

The nodes use C{cluster-node-timeout 1000} and
C{cluster-replica-validity-factor 0}, so that a replica takes over a
killed primary in about 3 s, even one that has been idle.  Nothing here
sleeps: waits are bounded loops paused on C{select} timeouts.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import time
from typing import Dict, List, Optional, Sequence

import pytest

from tests.harness import KVServer, twistdCommand

HOST = "127.0.0.1"
#: How long nodes may take to start, join or fail over, in seconds.
START_TIMEOUT = 20.0


def redisTool(name: str) -> str:
    """
    The path of a Redis program, or skip the test when it is missing.
    """
    path = shutil.which(name)
    if path is None:
        pytest.skip("%s is not installed (apt-get install redis-server "
                    "redis-tools)" % (name,))
    return path


def _pause(seconds: float = 0.05) -> None:
    select.select([], [], [], seconds)


def freePorts(count: int) -> List[int]:
    """
    C{count} distinct ports of 127.0.0.1 that were free a moment ago (held
    together while chosen, so that they differ).
    """
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def crc16Slot(key: bytes) -> int:
    """
    Redis Cluster's hash slot of C{key}, written out independently of
    kvtwist's (the tests compare the two).
    """
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    crc = 0
    for byte in key:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % 16384


class Node:
    """
    One C{redis-server} process of the cluster.

    @ivar port: its client port (its bus port is another free port).
    @ivar dir: its working directory (config, C{nodes.conf}, log).
    @ivar process: the L{subprocess.Popen}, or L{None} when stopped.
    """

    def __init__(self, workdir: str, port: int, busPort: int,
                 password: Optional[str] = None,
                 announce: Optional[str] = None):
        self.port = port
        self.busPort = busPort
        self.password = password
        self.announce = announce
        self.dir = os.path.join(workdir, "node-%d" % (port,))
        os.makedirs(self.dir, exist_ok=True)
        self.process: Optional[subprocess.Popen] = None

    @property
    def address(self) -> str:
        """
        C{HOST:PORT}, the host the cluster knows it by (127.0.0.1 unless it
        announces another).
        """
        return "%s:%d" % (self.announce or HOST, self.port)

    def _config(self) -> str:
        lines = [
            "port %d" % (self.port,),
            "cluster-port %d" % (self.busPort,),
            "bind %s" % (" ".join([HOST] + ([self.announce]
                                            if self.announce else [])),),
            "dir %s" % (self.dir,),
            "logfile %s" % (os.path.join(self.dir, "redis.log"),),
            "daemonize no",
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            "cluster-node-timeout 1000",
            "cluster-replica-validity-factor 0",
            "cluster-allow-replica-migration no",
            'save ""',
            "appendonly no",
            # A replica syncs at once, not after the default 5 s wait for
            # more replicas to share one transfer.
            "repl-diskless-sync-delay 0",
            # CLUSTER SLOTS lists a replica once its replication offset is
            # not 0: the primary's first ping moves it (default: after
            # 10 s).
            "repl-ping-replica-period 1",
        ]
        if self.announce:
            lines += ["cluster-announce-ip %s" % (self.announce,),
                      # Clients come from the other end of a test's link.
                      "protected-mode no"]
        if self.password:
            lines += ["requirepass %s" % (self.password,),
                      "masterauth %s" % (self.password,)]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        """
        Start the process (again, after L{kill9}: same ports, same
        C{nodes.conf}, so it rejoins as the node it was).
        """
        path = os.path.join(self.dir, "redis.conf")
        with open(path, "w") as f:
            f.write(self._config())
        self.process = subprocess.Popen(
            [redisTool("redis-server"), path], cwd=self.dir,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

    @property
    def running(self) -> bool:
        """
        Whether the process is alive.
        """
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        """
        Kill the process with SIGKILL and reap it.
        """
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """
        Stop the process (SIGTERM, then SIGKILL if it lingers).
        """
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.process = None

    def command(self, *args, timeout: float = 5.0):
        """
        Run one command on this node (a fresh connection) and return the
        reply, decoded by L{RespReader}: an error is returned as a
        L{NodeError}, not raised.
        """
        with socket.create_connection((HOST, self.port),
                                      timeout=timeout) as s:
            reader = RespReader(s)
            if self.password:
                s.sendall(encode(b"AUTH", self.password))
                reader.read()
            s.sendall(encode(*args))
            return reader.read()

    def tryCommand(self, *args, timeout: float = 1.0):
        """
        L{command}, or L{None} if the node can't be reached.
        """
        try:
            return self.command(*args, timeout=timeout)
        except OSError:
            return None

    def info(self, section: str = "") -> Dict[str, str]:
        """
        The C{field:value} pairs of C{INFO section}.
        """
        text = self.command(b"INFO", section) if section else \
            self.command(b"INFO")
        fields = {}
        for line in text.decode().splitlines():
            name, colon, value = line.partition(":")
            if colon and not name.startswith("#"):
                fields[name] = value.strip()
        return fields

    def __repr__(self) -> str:
        return "<Node %s>" % (self.address,)


class NodeError(str):
    """
    An error reply of a node (its text, such as C{MOVED 12 ...}).
    """


def encode(*args) -> bytes:
    """
    A RESP request.
    """
    out = [b"*%d\r\n" % (len(args),)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % (a,)
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespReader:
    """
    A minimal blocking RESP2 reply reader for the harness (independent of
    kvtwist's own parser, which the tests check against the nodes).
    """

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.consumed = None

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("node closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        if self.consumed is not None:
            self.consumed.append(line + b"\r\n")
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("node closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        if self.consumed is not None:
            self.consumed.append(data)
        return data

    def readRaw(self) -> bytes:
        """
        One reply's bytes, as they came.
        """
        self.consumed = []
        self.read()
        return b"".join(self.consumed)

    def read(self):
        """
        One reply.
        """
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return NodeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("unexpected reply line %r" % (line,))


class RedisCluster:
    """
    A cluster of local C{redis-server} processes.

    @ivar nodes: every L{Node}, the first C{primaries} of them primaries
        at creation.
    """

    def __init__(self, workdir, primaries: int = 3,
                 replicasPerPrimary: int = 1,
                 password: Optional[str] = None,
                 announce: Optional[str] = None):
        """
        @param announce: an address of this host, beside 127.0.0.1, that
            the nodes listen on and are known by in the cluster (for a
            front end in another network namespace).
        """
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.primaryCount = primaries
        self.replicasPerPrimary = replicasPerPrimary
        self.password = password
        self.announce = announce
        self.nodes: List[Node] = []

    # -- lifecycle ----------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> "RedisCluster":
        """
        Start the nodes, join them into a cluster with every slot covered,
        and wait until every node says C{cluster_state:ok}.
        """
        redisTool("redis-server")
        cli = redisTool("redis-cli")
        count = self.primaryCount * (1 + self.replicasPerPrimary)
        ports = freePorts(2 * count)
        self.nodes = [Node(self.workdir, ports[i], ports[count + i],
                           self.password, self.announce)
                      for i in range(count)]
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            self._waitUp(node, timeout)
        argv = [cli] + (["-a", self.password, "--no-auth-warning"]
                        if self.password else []) + [
            "--cluster", "create"] + [n.address for n in self.nodes] + [
            "--cluster-replicas", str(self.replicasPerPrimary),
            "--cluster-yes"]
        result = subprocess.run(argv, capture_output=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            self.stop()
            raise RuntimeError("redis-cli --cluster create failed:\n%s%s" % (
                result.stdout.decode(), result.stderr.decode()))
        self.waitHealthy(timeout)
        self.waitReplicas(timeout)
        return self

    def _waitUp(self, node: Node, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while node.tryCommand(b"PING") != b"PONG":
            if not node.running:
                raise RuntimeError("redis-server on port %d exited: %s" % (
                    node.port, self._logTail(node)))
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server on port %d did not start"
                                   % (node.port,))
            _pause()

    def _logTail(self, node: Node) -> str:
        try:
            with open(os.path.join(node.dir, "redis.log")) as f:
                return "".join(f.readlines()[-10:])
        except OSError:
            return ""

    def stop(self) -> None:
        """
        Stop every node.
        """
        for node in self.nodes:
            node.kill9()
        for node in self.nodes:
            node.process = None

    # -- what the cluster looks like -----------------------------------------

    def seeds(self, count: int = 2, scheme: str = "redis-cluster") -> str:
        """
        The C{--backend} value naming the first C{count} nodes as seeds.
        """
        return "%s://%s" % (scheme, ",".join(
            n.address for n in self.nodes[:count]))

    def running(self) -> List[Node]:
        """
        The nodes whose process is alive.
        """
        return [n for n in self.nodes if n.running]

    def slotMap(self, via: Optional[Node] = None) -> Dict[int, Node]:
        """
        The primary of every covered slot, as C{via} (a running node) sees
        it: C{{slot: Node}}.
        """
        via = via or self.running()[0]
        byPort = {n.port: n for n in self.nodes}
        out = {}
        for entry in via.command(b"CLUSTER", b"SLOTS"):
            start, end, primary = entry[0], entry[1], entry[2]
            node = byPort[int(primary[1])]
            for slot in range(start, end + 1):
                out[slot] = node
        return out

    def primaries(self, via: Optional[Node] = None) -> List[Node]:
        """
        The nodes serving slots now, by port.
        """
        return sorted(set(self.slotMap(via).values()), key=lambda n: n.port)

    def replicas(self) -> List[Node]:
        """
        The running nodes that serve no slot.
        """
        serving = set(self.primaries())
        return [n for n in self.running() if n not in serving]

    def primaryOf(self, key: bytes) -> Node:
        """
        The node serving C{key}'s slot now.
        """
        return self.slotMap()[crc16Slot(key)]

    def keysOnEveryPrimary(self, prefix: bytes, perPrimary: int = 3
                           ) -> List[bytes]:
        """
        Keys C{prefix + n} chosen so that each primary serves
        C{perPrimary} of them.
        """
        slots = self.slotMap()
        counts: Dict[Node, int] = {}
        found = []
        n = 0
        wanted = perPrimary * len(set(slots.values()))
        while len(found) < wanted:
            key = prefix + b"%d" % (n,)
            node = slots[crc16Slot(key)]
            if counts.get(node, 0) < perPrimary:
                counts[node] = counts.get(node, 0) + 1
                found.append(key)
            n += 1
        return found

    def clusterState(self, node: Node) -> Optional[str]:
        """
        C{ok} or C{fail}, as C{node} says (L{None} if unreachable).
        """
        info = node.tryCommand(b"CLUSTER", b"INFO")
        if not isinstance(info, bytes):
            return None
        for line in info.decode().splitlines():
            if line.startswith("cluster_state:"):
                return line.split(":", 1)[1].strip()
        return None

    def waitHealthy(self, timeout: float = START_TIMEOUT) -> None:
        """
        Wait until every running node says C{cluster_state:ok} and they
        all agree on who serves every slot.
        """
        deadline = time.monotonic() + timeout
        while True:
            nodes = self.running()
            if all(self.clusterState(n) == "ok" for n in nodes):
                try:
                    maps = [{s: n.port for s, n in self.slotMap(n).items()}
                            for n in nodes]
                except (OSError, KeyError, TypeError):
                    maps = [None]
                if maps[0] and len(maps[0]) == 16384 and \
                        all(m == maps[0] for m in maps):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("cluster not healthy within %.0fs"
                                   % (timeout,))
            _pause(0.1)

    def waitReplicas(self, timeout: float = START_TIMEOUT) -> None:
        """
        Wait until every primary has its replicas connected and in sync
        (C{connected_slaves} and each one's C{state=online}), and every
        node lists them in C{CLUSTER SLOTS}.
        """
        deadline = time.monotonic() + timeout
        wanted = self.replicasPerPrimary
        while True:
            ready = True
            for node in self.primaries():
                info = node.info("replication")
                online = [v for k, v in info.items()
                          if k.startswith("slave") and "state=online" in v]
                if int(info.get("connected_slaves", 0)) < wanted or \
                        len(online) < wanted:
                    ready = False
            if ready:
                for node in self.running():
                    for entry in node.command(b"CLUSTER", b"SLOTS"):
                        if len(entry) - 3 < wanted:
                            ready = False
            if ready:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("replicas not in sync within %.0fs"
                                   % (timeout,))
            _pause(0.1)

    def waitFailover(self, dead: Node, timeout: float = START_TIMEOUT
                     ) -> None:
        """
        Wait until the slots C{dead} served are served by other running
        nodes and the cluster is healthy again.
        """
        deadline = time.monotonic() + timeout
        while True:
            for node in self.running():
                try:
                    slots = self.slotMap(node)
                except (OSError, KeyError, TypeError):
                    continue
                if len(slots) == 16384 and dead not in slots.values() and \
                        self.clusterState(node) == "ok":
                    self.waitHealthy(max(1.0, deadline - time.monotonic()))
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("no failover of %r within %.0fs"
                                   % (dead, timeout))
            _pause(0.1)

    def allKeys(self) -> List[bytes]:
        """
        Every key of every primary, asked directly.
        """
        keys = []
        for node in self.primaries():
            keys.extend(node.command(b"KEYS", b"*"))
        return sorted(keys)

    def reshard(self, source: Node, target: Node, slots: int,
                timeout: float = 60.0, pipeline: int = 10
                ) -> subprocess.CompletedProcess:
        """
        Move C{slots} slots from C{source} to C{target} with
        C{redis-cli --cluster reshard} (keys migrate with MIGRATE, C{pipeline}
        at a time: clients see ASK and MOVED meanwhile).
        """
        cli = redisTool("redis-cli")
        source_id = source.command(b"CLUSTER", b"MYID").decode()
        target_id = target.command(b"CLUSTER", b"MYID").decode()
        argv = [cli] + (["-a", self.password, "--no-auth-warning"]
                        if self.password else []) + [
            "--cluster", "reshard", source.address,
            "--cluster-from", source_id, "--cluster-to", target_id,
            "--cluster-slots", str(slots), "--cluster-yes",
            "--cluster-pipeline", str(pipeline)]
        return subprocess.run(argv, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


class FrontEnd(KVServer):
    """
    A real C{twistd -n kvstore --backend redis-cluster://...}: a
    L{KVServer} with no data directory.

    @ivar backend: the C{--backend} value.
    @ivar prefix: what runs twistd (C{["ip", "netns", "exec", NAME]} to
        run it in a network namespace), or nothing.
    """

    def __init__(self, workdir, backend: str, prefix: Sequence[str] = ()):
        KVServer.__init__(self, workdir)
        self.backend = backend
        self.prefix = list(prefix)

    def argv(self, extraArgs: Sequence[str] = ()) -> List[str]:
        """
        The command line: the cluster backend instead of a data directory.
        """
        return self.prefix + twistdCommand() + [
            "-n", "--logfile", self.logPath, "--pidfile", self.pidPath,
        ] + self.twistdArgs + [
            "kvstore",
            "--port", "tcp:0:interface=%s" % (HOST,),
            "--backend", self.backend,
        ] + list(extraArgs)


def main(argv: Sequence[str]) -> int:
    """
    Run a cluster by hand until Ctrl+C: C{python -m tests.clusterharness
    DIR [PRIMARIES]}.
    """
    workdir = argv[1] if len(argv) > 1 else "/tmp/kvtwist-cluster"
    primaries = int(argv[2]) if len(argv) > 2 else 3
    cluster = RedisCluster(workdir, primaries=primaries)
    started = time.monotonic()
    cluster.start()
    print("cluster of %d nodes up in %.1fs: --backend %s" % (
        len(cluster.nodes), time.monotonic() - started,
        cluster.seeds(len(cluster.nodes))), flush=True)
    try:
        while True:
            _pause(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv))
