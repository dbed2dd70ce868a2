# -*- test-case-name: kvtwist.test.test_persist_format -*-
"""
The files of a data directory: their names, what a directory holds, and
the few file operations persistence needs (L{FileSystem}, which tests
replace by one that fails on demand).
"""

import errno
import os
import re
import time
from typing import List, NamedTuple, Optional, Tuple

from kvtwist.persist import format, snapfile

SNAPSHOT_NAME = "kvtwist.snapshot"
MANIFEST_NAME = "kvtwist.manifest"
TMP_SUFFIX = ".tmp"

_LOG_RE = re.compile(r"\Akvtwist-(\d+)\.aof\Z")



def logName(gen: int) -> str:
    """
    The file name of log generation C{gen}.
    """
    return "kvtwist-%08d.aof" % (gen,)


def snapshotTempName(nextGen: int) -> str:
    """
    A temporary file name for a snapshot covering the generations before
    C{nextGen}, unique to this snapshot: no other snapshot, of this server
    or of another one (a child left behind by a server killed with
    C{kill -9}), ever writes to it.
    """
    return "kvtwist.snapshot.%d-%s%s" % (nextGen, os.urandom(6).hex(),
                                         TMP_SUFFIX)


def parseLogName(name: str) -> Optional[int]:
    """
    The generation a log file name holds, or L{None} if it is not one.
    """
    m = _LOG_RE.match(name)
    return int(m.group(1)) if m else None


class DirListing(NamedTuple):
    """
    What a data directory holds.

    @ivar snapshot: the snapshot's path, or L{None}.
    @ivar logs: C{(generation, path)} for every log, in order.
    @ivar temps: leftover temporary files.
    @ivar manifest: the manifest's path, or L{None}.
    """

    snapshot: Optional[str]
    logs: List[Tuple[int, str]]
    temps: List[str]
    manifest: Optional[str] = None


def writeManifest(fs: "FileSystem", dataDir: str, manifest: snapfile.Manifest):
    """
    Replace the manifest of C{dataDir}, atomically and durably.
    """
    fs.replaceFile(dataDir, MANIFEST_NAME, snapfile.encodeManifest(manifest))


def moveAside(dataDir: str, paths: List[str], now: float) -> str:
    """
    Move C{paths} into a new directory C{damaged-YYYYmmdd-HHMMSS} of
    C{dataDir} (nothing is deleted), durably.

    @return: the new directory's path.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    target = os.path.join(dataDir, "damaged-" + stamp)
    n = 1
    while os.path.exists(target):
        n += 1
        target = os.path.join(dataDir, "damaged-%s-%d" % (stamp, n))
    os.mkdir(target)
    for path in paths:
        os.rename(path, os.path.join(target, os.path.basename(path)))
    for d in (target, dataDir):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target


def listDataDir(dataDir: str) -> DirListing:
    """
    List the kvtwist files in C{dataDir}.
    """
    snapshot = manifest = None
    logs = []
    temps = []
    for name in sorted(os.listdir(dataDir)):
        path = os.path.join(dataDir, name)
        if name == SNAPSHOT_NAME:
            snapshot = path
        elif name == MANIFEST_NAME:
            manifest = path
        elif name.endswith(TMP_SUFFIX) and name.startswith("kvtwist"):
            temps.append(path)
        else:
            gen = parseLogName(name)
            if gen is not None:
                logs.append((gen, path))
    logs.sort()
    return DirListing(snapshot, logs, temps, manifest)



class FileSystem:
    """
    The few file operations persistence needs, on the real file system.
    Tests substitute a subclass that fails on demand.
    """

    def openLog(self, path: str) -> int:
        """
        Open an existing log file for writing; return its fd.
        """
        return os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))

    def createLog(self, dataDir: str, gen: int,
                  manifest: "snapfile.Manifest") -> int:
        """
        Create log generation C{gen} in C{dataDir} holding its header, and
        record it in the manifest: the file is written and fsynced under a
        temporary name, the manifest replaced, then the file renamed into
        place and the directory fsynced.  No crash leaves a log file
        without its header, nor a manifest naming a generation of which
        neither the file nor its temporary file exists.

        @return: a descriptor open for writing after the header.
        """
        path = os.path.join(dataDir, logName(gen))
        tmp = path + TMP_SUFFIX
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(
            os, "O_CLOEXEC", 0), 0o644)
        try:
            self.writeAt(fd, format.logHeader(gen), 0)
            self.fsync(fd)
            self.fsyncDir(dataDir)
            writeManifest(self, dataDir, manifest)
            self.rename(tmp, path)
            self.fsyncDir(dataDir)
        except BaseException:
            os.close(fd)
            self.remove(tmp)
            raise
        return fd

    def replaceFile(self, dataDir: str, name: str, content: bytes):
        """
        Replace C{name} in C{dataDir} by C{content} atomically and durably
        (write a temporary file, fsync, rename, fsync the directory).
        """
        path = os.path.join(dataDir, name)
        tmp = path + TMP_SUFFIX
        self.writeNew(tmp, [content])
        self.rename(tmp, path)
        self.fsyncDir(dataDir)

    def writeAt(self, fd: int, data: bytes, offset: int):
        """
        Write all of C{data} at C{offset}.  Writing at a known offset (not
        appending) means a retry after a partial failure overwrites the
        partial bytes instead of leaving them in the middle of the log.
        """
        # The data itself first: PyPy copies a memoryview handed to
        # os.pwrite through a slow path (seconds for a 400 MB value); a
        # view is only made to go on after a partial write.
        n = os.pwrite(fd, data, offset)
        if n <= 0 and data:
            raise OSError(errno.EIO, "short write")
        if n == len(data):
            return
        view = memoryview(data)[n:]
        offset += n
        while view:
            n = os.pwrite(fd, view, offset)
            if n <= 0:
                raise OSError(errno.EIO, "short write")
            view = view[n:]
            offset += n

    def fsync(self, fd: int):
        """
        Flush C{fd}'s data to stable storage.
        """
        os.fsync(fd)

    def fsyncDir(self, path: str):
        """
        Make the directory C{path}'s entries (creations, renames, unlinks)
        durable.
        """
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self, fd: int):
        """
        Close C{fd}.
        """
        os.close(fd)

    def truncate(self, path: str, length: int):
        """
        Cut the file at C{path} to C{length} bytes, durably.
        """
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, length)
            os.fsync(fd)
        finally:
            os.close(fd)

    def readFile(self, path: str) -> bytes:
        """
        The whole content of C{path}.
        """
        with open(path, "rb") as f:
            return f.read()

    def rename(self, src: str, dst: str):
        """
        Atomically replace C{dst} by C{src}.
        """
        os.replace(src, dst)

    def remove(self, path: str):
        """
        Delete C{path}; a missing file is not an error.
        """
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def checkSnapshot(self, path: str, nextGen: int) -> int:
        """
        Read the snapshot at C{path} back and check it (see
        L{snapfile.checkSnapshotStream}).

        @return: its size.
        @raise snapfile.CorruptSnapshot: if a check fails.
        """
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            snapfile.checkSnapshotStream(f.read, size, path, nextGen)
        return size

    def writeNew(self, path: str, chunks: List[bytes]):
        """
        Create (or replace) C{path} with C{chunks}, then fsync it.
        """
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(
            os, "O_CLOEXEC", 0), 0o644)
        try:
            offset = 0
            for chunk in chunks:
                self.writeAt(fd, chunk, offset)
                offset += len(chunk)
            os.fsync(fd)
        finally:
            os.close(fd)

