# -*- test-case-name: kvtwist.test.test_persist_lock -*-
"""
One server per data directory: an exclusive C{flock} on
C{DATA_DIR/kvtwist.lock}, which holds the PID of the server holding it.

Two servers on one directory (by mistake, on two ports) would silently
destroy each other's data: the second one's snapshot deletes logs the
first one still writes.  The lock is taken when the store service starts
and held until it has stopped; the kernel lets it go when the process
dies, however it dies.  The lock file itself stays (removing it would let
a third server lock a new file while the second still holds the old one).
"""

import errno
import fcntl
import os
from typing import Optional

from kvtwist.persist.format import PersistenceError
from kvtwist.startup import StartupError

LOCK_NAME = "kvtwist.lock"


class DataDirInUse(PersistenceError, StartupError):
    """
    Another process holds the data directory's lock.

    @ivar dataDir: the directory.
    @ivar pid: the PID the lock file names, or L{None} if it names none.
    """

    def __init__(self, dataDir: str, pid: Optional[int]):
        holder = "PID %d" % (pid,) if pid is not None else "PID unknown"
        PersistenceError.__init__(
            self, "data directory %s is in use by another kvtwist server "
            "(%s)" % (dataDir, holder))
        self.dataDir = dataDir
        self.pid = pid


def _readPid(fd: int) -> Optional[int]:
    try:
        text = os.pread(fd, 32, 0)
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return None


class DataDirLock:
    """
    The lock of one data directory.

    @ivar path: the lock file.
    """

    def __init__(self, dataDir: str):
        self.dataDir = dataDir
        self.path = os.path.join(dataDir, LOCK_NAME)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        """
        Whether this object holds the lock.
        """
        return self._fd is not None

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(
            os, "O_CLOEXEC", 0), 0o644)

    def acquire(self):
        """
        Take the lock and write this process's PID into the lock file.

        @raise DataDirInUse: if another process holds it.
        @raise OSError: if the lock file can't be opened.
        """
        if self._fd is not None:
            self.writePid()
            return
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            pid = _readPid(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DataDirInUse(self.dataDir, pid) from None
            raise
        self._fd = fd
        self.writePid()

    def writePid(self):
        """
        Write this process's PID into the lock file (again after twistd
        forked a daemon: the daemon inherits the lock).
        """
        data = b"%d\n" % (os.getpid(),)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def check(self):
        """
        Raise L{DataDirInUse} if another process holds the lock, without
        keeping it: for a clear refusal before twistd daemonizes.
        """
        if self._fd is not None:
            return
        fd = self._open()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN,
                               errno.EACCES):
                    raise DataDirInUse(self.dataDir, _readPid(fd)) from None
                raise
        finally:
            os.close(fd)

    def release(self):
        """
        Let the lock go (the file stays).
        """
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
