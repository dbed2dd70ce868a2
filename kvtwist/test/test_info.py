"""
Tests for C{INFO} (L{kvtwist.commands.server}) as tools read it: Redis's
sections and field names, which sections each form of the command gives,
and the statistics behind them (L{kvtwist.stats}: commands and their time,
errors, keyspace hits and misses, instantaneous rates), and C{CONFIG
RESETSTAT}.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.commands.server import formatInfo, human
from kvtwist.dialects.resp import encodeCommand
from kvtwist.stats import Stats, takeSnapshot
from kvtwist.test.test_protocol import connect, makeFactory


def parseInfo(text: bytes):
    """
    C{INFO}'s reply as redis-py reads it: C{{section: {field: value}}}
    (values as text), sections by their lower-case names.
    """
    sections = {}
    current = None
    for line in text.decode().split("\r\n"):
        if line.startswith("# "):
            current = sections[line[2:].lower()] = {}
        elif line:
            name, value = line.split(":", 1)
            current[name] = value
    return sections


class InfoTests(SynchronousTestCase):
    """
    C{INFO} run by a client of a server (a factory on a L{Clock}).
    """

    def setUp(self):
        self.factory, self.clock = makeFactory(port="tcp:6400")
        self.proto, self.transport = connect(self.factory)

    def send(self, *words):
        """
        Send one RESP command; its reply's bytes.
        """
        self.transport.clear()
        self.proto.dataReceived(encodeCommand(
            *[w.encode() if isinstance(w, str) else w for w in words]))
        self.clock.advance(0)
        return self.transport.value()

    def info(self, *sections):
        """
        C{INFO sections}, parsed (L{parseInfo}).
        """
        reply = self.send("INFO", *sections)
        header, _, body = reply.partition(b"\r\n")
        self.assertTrue(header.startswith(b"$"), reply)
        return parseInfo(body[:-2])

    def test_fieldsToolsRead(self):
        """
        The fields monitoring tools and C{redis-cli --stat} read are there,
        with Redis's names and real figures.
        """
        self.send("SET", "k", "v")
        self.send("PEXPIRE", "k", "100000")
        info = self.info("everything")
        server = info["server"]
        self.assertEqual(server["redis_version"], "7.4.0")
        self.assertEqual(server["tcp_port"], "6400")
        self.assertEqual(server["uptime_in_seconds"], "0")
        self.assertEqual(len(server["run_id"]), 40)
        self.assertTrue(server["process_id"].isdigit())
        self.assertEqual(info["clients"]["connected_clients"], "1")
        memory = info["memory"]
        for name in ("used_memory", "used_memory_rss", "used_memory_peak"):
            self.assertGreater(int(memory[name]), 0, name)
        self.assertEqual(memory["used_memory_human"],
                         human(int(memory["used_memory"])))
        self.assertIn(memory["mem_allocator"],
                      ("pymalloc", "libc", "pypy-incminimark"))
        self.assertEqual(memory["maxmemory_policy"], "noeviction")
        self.assertEqual(info["persistence"]["aof_rewrite_in_progress"], "0")
        stats = info["stats"]
        self.assertEqual(stats["total_commands_processed"], "3")
        self.assertEqual(stats["total_connections_received"], "1")
        for name in ("instantaneous_ops_per_sec", "keyspace_hits",
                     "keyspace_misses", "rejected_connections",
                     "expired_keys", "total_error_replies"):
            self.assertEqual(stats[name], "0", name)
        replication = info["replication"]
        self.assertEqual((replication["role"],
                          replication["connected_slaves"],
                          replication["master_repl_offset"]),
                         ("master", "0", "0"))
        self.assertIn("used_cpu_user", info["cpu"])
        self.assertEqual(info["cluster"], {"cluster_enabled": "0"})
        self.assertEqual(info["keyspace"]["db0"],
                         "keys=1,expires=1,avg_ttl=100000")
        self.assertEqual(info["modules"], {})

    def test_boundPort(self):
        """
        A server given port 0 tells the port it was bound to.
        """
        from twisted.internet.address import IPv4Address
        factory, _ = makeFactory(port="tcp:0:interface=127.0.0.1")
        factory.listeningOn(IPv4Address("TCP", "127.0.0.1", 41234))
        factory.listeningOn(IPv4Address("TCP", "127.0.0.1", 41235))
        self.assertEqual(takeSnapshot(factory).process.tcpPort, 41234)

    def test_sections(self):
        """
        As Redis 7: no argument or C{default} gives the default sections
        (not C{commandstats}), C{all} adds C{commandstats}, C{everything}
        adds C{modules} too; names are read in any case and combine; an
        unknown name gives nothing.
        """
        default = ["server", "clients", "memory", "persistence", "stats",
                   "replication", "cpu", "errorstats", "cluster",
                   "keyspace"]
        self.send("SET", "k", "v")
        self.assertEqual(list(self.info()), default)
        self.assertEqual(list(self.info("default")), default)
        every = self.info("all")
        self.assertEqual(set(every), set(default) | {"commandstats"})
        self.assertEqual(set(self.info("everything")),
                         set(default) | {"commandstats", "modules"})
        self.assertEqual(list(self.info("Keyspace", "CPU")),
                         ["cpu", "keyspace"])
        self.assertEqual(set(self.info("default", "commandstats")),
                         set(default) | {"commandstats"})
        self.assertEqual(self.send("INFO", "nosuch"), b"$0\r\n\r\n")

    def test_commandstats(self):
        """
        C{cmdstat_NAME}: the calls that ran, their time, the calls refused
        before running (wrong arity, here) and the calls that answered an
        error (C{WRONGTYPE}); an unknown command has no line.
        """
        self.send("SET", "k", "v")
        self.send("GET", "k")
        self.send("GET")
        self.send("LPUSH", "k", "x")
        self.send("NOSUCH")
        stats = self.info("commandstats")["commandstats"]
        fields = {name: dict(kv.split("=") for kv in value.split(","))
                  for name, value in stats.items()}
        # (INFO itself is counted before it runs.)
        self.assertEqual(sorted(fields), ["cmdstat_get", "cmdstat_info",
                                          "cmdstat_lpush", "cmdstat_set"])
        get = fields["cmdstat_get"]
        self.assertEqual((get["calls"], get["rejected_calls"],
                          get["failed_calls"]), ("1", "1", "0"))
        lpush = fields["cmdstat_lpush"]
        self.assertEqual((lpush["calls"], lpush["failed_calls"]),
                         ("1", "1"))
        self.assertEqual(float(get["usec_per_call"]),
                         int(get["usec"]) / 1.0)

    def test_errorstats(self):
        """
        C{errorstat_CODE:count=N} for every error reply, unknown commands
        and refusals included; C{total_error_replies} sums them.
        """
        self.send("SET", "k", "v")
        self.send("LPUSH", "k", "x")
        self.send("NOSUCH")
        self.send("GET")
        info = self.info("errorstats", "stats")
        self.assertEqual(info["errorstats"], {
            "errorstat_ERR": "count=2", "errorstat_WRONGTYPE": "count=1"})
        self.assertEqual(info["stats"]["total_error_replies"], "3")

    def test_keyspaceHitsAndMisses(self):
        """
        A lookup of a string value that finds it is a hit, one that
        doesn't (missing, or expired) a miss; writes are neither.
        """
        self.send("SET", "k", "v")
        self.send("SET", "gone", "v", "PX", "10")
        self.clock.advance(1)
        self.send("GET", "k")
        self.send("MGET", "k", "nosuch", "gone")
        stats = self.info("stats")["stats"]
        self.assertEqual((stats["keyspace_hits"], stats["keyspace_misses"]),
                         ("2", "2"))

    def test_instantaneousOps(self):
        """
        C{instantaneous_ops_per_sec} and the kbps figures come from the
        last seconds (the factory samples its counters every second).
        """
        self.factory.startFactory()
        self.addCleanup(self.factory.stopFactory)
        self.clock.advance(1)
        for _ in range(30):
            self.send("PING")
        self.clock.advance(1)
        for _ in range(30):
            self.send("PING")
        self.clock.advance(1)
        stats = self.info("stats")["stats"]
        # 60 PINGs (and INFO) over the 2 seconds of the samples kept.
        self.assertEqual(stats["instantaneous_ops_per_sec"], "30")
        self.assertGreater(float(stats["instantaneous_input_kbps"]), 0)

    def test_resetStat(self):
        """
        C{CONFIG RESETSTAT} zeroes the counters (commands, errors, hits and
        misses, expired keys, connections received) and keeps the keys.
        """
        self.send("SET", "k", "v")
        self.send("SET", "e", "v", "PX", "10")
        self.clock.advance(1)
        self.send("GET", "k")
        self.send("GET", "e")
        self.send("NOSUCH")
        self.assertEqual(self.send("CONFIG", "RESETSTAT"), b"+OK\r\n")
        info = self.info("stats", "errorstats", "commandstats",
                         "keyspace")
        stats = info["stats"]
        for name in ("keyspace_hits", "keyspace_misses", "expired_keys",
                     "total_error_replies", "total_connections_received"):
            self.assertEqual(stats[name], "0", name)
        # INFO itself, once it ran.
        self.assertEqual(stats["total_commands_processed"], "1")
        self.assertEqual(info["errorstats"], {})
        self.assertEqual(list(info["commandstats"]), ["cmdstat_info"])
        self.assertEqual(info["keyspace"]["db0"],
                         "keys=1,expires=0,avg_ttl=0")
        self.send("GET", "k")
        self.assertEqual(self.info("stats")["stats"]["keyspace_hits"], "1")


class SamplingTests(SynchronousTestCase):
    """
    Which commands are timed (L{Stats.nextSampleAfter}), and how their
    time is estimated.
    """

    def test_fewCommandsAllTimed(self):
        """
        A command timed more than a millisecond after the last one makes
        the next one timed too.
        """
        stats = Stats(0)
        stats.nextSampleAfter(10, 5000000)
        self.assertEqual(stats.nextSample, 11)

    def test_underLoad(self):
        """
        Under load (timed commands close together), one of the next 127
        is timed, 64th on average, in gaps that don't repeat a short
        pattern.
        """
        stats = Stats(0)
        stats.nextSampleAfter(10, 5000000)
        gaps = []
        n = 10
        for i in range(256):
            stats.nextSampleAfter(n, 5000000 + 1000 * (i + 1))
            gaps.append(stats.nextSample - n)
            n = stats.nextSample
        self.assertTrue(all(1 <= g <= 127 for g in gaps))
        self.assertTrue(50 <= sum(gaps) / len(gaps) <= 80)
        self.assertGreater(len(set(gaps)), 50)

    def test_estimate(self):
        """
        A command's time is its timed calls' average times its calls.
        """
        stats = Stats(0)
        stats.perCommand["GET"] = 100
        stats.sampledCalls["GET"] = 4
        stats.sampledNanoseconds["GET"] = 8000
        factory, _ = makeFactory()
        factory.stats = stats
        [get] = takeSnapshot(factory).commands.stats
        self.assertEqual((get.calls, get.usec, get.usecPerCall),
                         (100, 200, 2.0))


class FormatTests(SynchronousTestCase):
    """
    L{human} and L{formatInfo}.
    """

    def test_human(self):
        """
        Sizes as Redis writes them for people.
        """
        self.assertEqual([human(n) for n in (0, 1023, 1024, 1536,
                                             3 * 1024 ** 2, 5 * 1024 ** 3)],
                         ["0B", "1023B", "1.00K", "1.50K", "3.00M", "5.00G"])

    def test_format(self):
        """
        Sections as C{# Title} and C{name:value} lines, a blank line
        between sections, CRLF, the last line ended.
        """
        sections = [("Server", [("a", 1), ("b", 1.5)]),
                    ("Commandstats", [("c", b"x")])]
        self.assertEqual(formatInfo(sections, [b"all"]),
                         b"# Server\r\na:1\r\nb:1.500000\r\n\r\n"
                         b"# Commandstats\r\nc:x\r\n")
        self.assertEqual(formatInfo(sections, []),
                         b"# Server\r\na:1\r\nb:1.500000\r\n")
