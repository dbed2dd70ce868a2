"""
Tests for group ops (L{kvtwist.persist.format.groupOps},
L{kvtwist.persist.journal.Journal.group}): the ops of one C{EXEC} or
script, journaled as one op that recovery replays whole or not at all.
"""

import os

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import ClientState, Context
from kvtwist.persist import format
from kvtwist.persist.files import FileSystem
from kvtwist.persist.journal import Journal
from kvtwist.persist.recovery import recover
from kvtwist.store import Store
from kvtwist.test.test_persist_recovery import DataDir
from kvtwist.test.test_persist_service import ServiceTestMixin

OPS = [(b"SET", b"a", b"1"), (b"DEL", b"b"), (b"RPUSH", b"l", b"x", b"\x00y"),
       (b"SET", b"", b"")]


class GroupFormatTests(SynchronousTestCase):
    """
    A group op holds its ops in the plain format, which both interpreters
    read.
    """

    def test_roundTrip(self):
        """
        L{format.ungroup} gives back the ops L{format.groupOps} was given,
        in order, through a log record of either payload format.
        """
        op = format.groupOps(OPS)
        self.assertEqual(op[0], b"MULTI")
        self.assertEqual(format.ungroup(op), OPS)
        for encode in (format.encodePlain, format._encodePickle):
            [decoded] = format.decodeFrame(encode([op]))
            self.assertEqual(format.ungroup(decoded), OPS)

    def test_malformed(self):
        """
        Something that is not a group op, or whose payload doesn't decode,
        is refused with L{ValueError}.
        """
        for bad in [(b"SET", b"k", b"v"), (b"MULTI",),
                    (b"MULTI", b"K\x05"), (b"MULTI", b"x", b"y")]:
            self.assertRaises(ValueError, format.ungroup, bad)


class JournalGroupTests(SynchronousTestCase):
    """
    L{Journal.group} makes the ops journaled since a sequence number one
    op.
    """

    def test_group(self):
        """
        The ops after the mark become one group op after the ones before;
        the sequence number counts the group as one op.
        """
        journal = Journal()
        journal.append((b"SET", b"before", b"1"))
        mark = journal.seq()
        for op in OPS:
            journal.append(op)
        self.assertEqual(journal.group(mark), len(OPS))
        self.assertEqual(journal.pending[0], (b"SET", b"before", b"1"))
        self.assertEqual(len(journal.pending), 2)
        self.assertEqual(format.ungroup(journal.pending[1]), OPS)
        self.assertEqual(journal.seq(), mark + 1)

    def test_oneOrNone(self):
        """
        No op, or a single one, is left as it is.
        """
        journal = Journal()
        mark = journal.seq()
        self.assertEqual(journal.group(mark), 0)
        self.assertEqual(journal.pending, [])
        journal.append((b"DEL", b"k"))
        self.assertEqual(journal.group(mark), 1)
        self.assertEqual(journal.pending, [(b"DEL", b"k")])

    def test_afterSealed(self):
        """
        The mark counts ops already sealed: only the ops after it are
        grouped.
        """
        journal = Journal()

        class Generation:
            used = False
        journal.generation = Generation()
        journal.append((b"SET", b"x", b"1"))
        journal.seal()
        journal.append((b"SET", b"y", b"1"))
        mark = journal.seq()
        journal.append((b"SET", b"a", b"1"))
        journal.append((b"SET", b"b", b"1"))
        self.assertEqual(journal.group(mark), 2)
        self.assertEqual(journal.pending[0], (b"SET", b"y", b"1"))
        self.assertEqual(format.ungroup(journal.pending[1]),
                         [(b"SET", b"a", b"1"), (b"SET", b"b", b"1")])


class GroupRecoveryTests(SynchronousTestCase):
    """
    Recovery replays a group op's ops; a group in a torn last record is
    dropped whole.
    """

    def setUp(self):
        self.dir = DataDir(self.mktemp())
        self.dir.manifest(1, 1)

    def test_replayed(self):
        """
        Every op of a group is replayed, in order, between the ops around
        it.
        """
        self.dir.log(1, (b"SET", b"a", b"0"),
                     format.groupOps([(b"SET", b"a", b"1"),
                                      (b"RPUSH", b"l", b"x", b"y")]),
                     (b"LPOP", b"l", b"1"))
        store = Store()
        recover(store, self.dir.path, FileSystem())
        self.assertEqual(store.get(b"a"), b"1")
        self.assertEqual(store.lrange(b"l", 0, -1), [b"y"])

    def test_tornGroup(self):
        """
        A group whose record is torn at the end of the last log is
        dropped whole: none of its ops is replayed.
        """
        good = format.encodeRecord((b"SET", b"a", b"0"))
        group = format.encodeRecord(format.groupOps(
            [(b"SET", b"a", b"1"), (b"SET", b"b", b"1")]))
        path = self.dir.log(1, extra=good + group[:-3])
        store = Store()
        found = recover(store, self.dir.path, FileSystem())
        self.assertEqual((store.get(b"a"), store.get(b"b")), (b"0", None))
        self.assertEqual(found.torn.path, path)

    def test_badGroupRefused(self):
        """
        A group op whose payload doesn't decode is a problem recovery
        names (it refuses unless salvaging).
        """
        self.dir.log(1, (b"MULTI", b"K\xff"))
        store = Store()
        found = recover(store, self.dir.path, FileSystem(), salvage=True)
        [problem] = found.problems
        self.assertIn("can't be replayed", problem)
        self.assertIn(os.path.basename(self.dir.path), problem)


class ServiceGroupTests(ServiceTestMixin, SynchronousTestCase):
    """
    Through the store service and its log files: an C{EXEC} of more ops
    than one log record holds is still recovered whole or not at all.
    """

    def test_bigExecWholeOrNothing(self):
        """
        An C{EXEC} of more writes than L{format.FRAME_OPS}, its log cut
        anywhere in its record, recovers with all of its writes or none.
        """
        store, svc = self.start()
        backend = MemoryBackend(store, svc)
        ctx = Context(store, None, svc, ClientState())
        count = format.FRAME_OPS + 500
        backend.execute(ctx, b"SET", [b"before", b"1"])
        backend.endTurn()
        self.clock.advance(1)
        backend.execute(ctx, b"MULTI", [])
        for i in range(count):
            backend.execute(ctx, b"SET", [b"k%d" % (i,), b"v"])
        self.assertEqual(len(backend.execute(ctx, b"EXEC", [])), count)
        backend.endTurn()
        self.clock.advance(1)
        [path] = self.logPaths()
        with open(path, "rb") as f:
            data = f.read()
        self.stop(svc)
        for cut in (len(data) - 1, len(data) - 5000, len(data) - 20000):
            with open(path, "wb") as f:
                f.write(data[:cut])
            recovered = Store()
            recover(recovered, self.dir, FileSystem())
            self.assertEqual(recovered.get(b"before"), b"1")
            self.assertIn(recovered.size(), (1, 1 + count))
        with open(path, "wb") as f:
            f.write(data)
        recovered = Store()
        recover(recovered, self.dir, FileSystem())
        self.assertEqual(recovered.size(), 1 + count)
