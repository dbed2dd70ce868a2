# -*- test-case-name: kvtwist.test.test_framing -*-
"""
The buffer a big bulk string is received into.

A bulk string too big to come in one read is received into one buffer,
allocated at its final size when its header arrives and filled as its bytes
come: no read is joined to another, and the memory it takes grows with what
was received.  Dropping the buffer (the client went away) frees it all.

L{BulkBuffer} is the C one of C{kvtwist._resp} where it is built: it fills
the very L{bytes} object the value becomes, so the value is never copied
once received.  Elsewhere (PyPy) L{BulkBufferPython} fills a memory map,
copied once into L{bytes} when full, unless it was given the L{bytes}
object to fill (L{BulkBufferPython.adopt}) before then.

The copy is slow on PyPy not for the copying (a few tens of milliseconds
for 400 MB) but for the new object's memory: the kernel hands every page
of it over, zeroed, at its first touch, which took 0.25 to 2 seconds for
400 MB on a 2-core virtual machine, the reactor held all along.
L{allocate} makes that object with a read of C{/dev/zero}: PyPy reads into
a new L{bytes} object directly and lets go of its global lock while the
kernel fills it, so run in a thread it holds nobody up; and once it is
given to the buffer, the value goes straight into it as it comes, with no
copy at the end and no second value-sized buffer.
"""

import mmap
import os
from typing import Optional

try:
    from cffi import FFI
except ImportError:  # CPython without cffi: the buffer copies at the end
    _ffi = None
else:
    _ffi = FFI()


#: The smallest buffer L{BulkBufferPython.wantsStorage} for: the copy of a
#: smaller value is quick, and PyPy makes a smaller L{bytes} object in
#: memory that moves (L{BulkBufferPython.adopt} would refuse it).
ADOPT_MIN = 1 << 20


def allocate(size: int) -> Optional[bytes]:
    """
    A new L{bytes} object of C{size} zero bytes, read from C{/dev/zero},
    for L{BulkBufferPython.adopt}; it blocks for as long as the kernel
    takes to hand the memory over, so run it in a thread.

    @return: the object, or L{None} if the read came short (a signal).
    """
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        storage = os.read(fd, size)
    finally:
        os.close(fd)
    return storage if len(storage) == size else None


class BulkBufferPython:
    """
    A bulk string of C{size} bytes received into an anonymous memory map:
    its pages take memory only as they are written, and are given back to
    the system as soon as the value is taken or the buffer dropped
    (L{close}), not at some later garbage collection.

    It may be given the L{bytes} object to fill instead (L{adopt}), made
    off the reactor by L{allocate}.  It writes into that object, which
    Python code must never do to a L{bytes} object that anything else
    has seen; this one is new, and nothing sees it before it is full.

    @ivar size: the size of the bulk string.
    @ivar remaining: how many bytes it still needs.
    """

    __slots__ = ("_map", "_filled", "remaining", "size", "_storage",
                 "_pointer")

    def __init__(self, size: int):
        self._map = mmap.mmap(-1, size) if size else None
        self._filled = 0
        self.size = size
        self.remaining = size
        self._storage: Optional[bytes] = None
        self._pointer = None

    def __del__(self):
        self.close()

    def write(self, data: bytes, start: int = 0) -> int:
        """
        Copy C{data[start:]} in, as much as there is room for.

        @return: how many bytes it took.
        """
        taken = min(len(data) - start, self.remaining)
        if taken <= 0:
            return 0
        filled = self._filled
        if start or taken < len(data):
            data = data[start:start + taken]
        if self._pointer is not None:
            _ffi.memmove(self._pointer + filled, data, taken)
        else:
            self._map[filled:filled + taken] = data
        self._filled = filled + taken
        self.remaining -= taken
        return taken

    def value(self) -> bytes:
        """
        The value, once full; the buffer forgets it (and its memory goes).

        @raise ValueError: if it is not full.
        """
        if self.remaining or self._filled < 0:
            raise ValueError("the buffer is not full")
        if self._storage is not None:
            value = self._storage
        else:
            value = self._map[:] if self._map is not None else b""
        self.close()
        return value

    def wantsStorage(self) -> bool:
        """
        Whether L{adopt} would save the copy at the end: the buffer is
        receiving into its memory map, can write into a L{bytes} object
        here, and is at least L{ADOPT_MIN} bytes long.
        """
        return _ffi is not None and self._map is not None and \
            self._storage is None and self.remaining > 0 and \
            self.size >= ADOPT_MIN

    def adopt(self, storage: Optional[bytes]) -> bool:
        """
        Fill C{storage}, a L{bytes} object of the buffer's size that
        nothing else has seen (from L{allocate}), rather than the memory
        map: what was received so far is copied into it, the map is given
        back, and L{value} will be C{storage} itself.

        @return: whether it did; it does not if the buffer can't use it
            (see L{wantsStorage}), C{storage} is L{None} or not of its
            size, or the object's memory is not where Python code can
            write it (a copy of it, or memory that moves).
        """
        if not self.wantsStorage() or storage is None or \
                type(storage) is not bytes or len(storage) != self.size:
            return False
        pointer = _ffi.from_buffer(storage)
        # The memory written must be the object's own: a byte written
        # there must show in it.
        pointer[0] = b"\x01"
        if storage[0] != 1:
            return False
        pointer[0] = b"\x00"
        filled = self._filled
        if filled:
            _ffi.memmove(pointer, self._map, filled)
        self._map.close()
        self._map = None
        self._storage = storage
        self._pointer = pointer
        return True

    def close(self) -> None:
        """
        Give the memory back; the value can't be taken any more.
        """
        if self._map is not None:
            self._map.close()
            self._map = None
        self._storage = self._pointer = None
        self._filled = -1


def _choose():
    try:
        from kvtwist._resp import BulkBuffer
    except ImportError:  # PyPy, or built without a C compiler
        return BulkBufferPython
    return BulkBuffer


#: The buffer of this interpreter: C{BulkBuffer(size)} with C{write(data,
#: start=0) -> taken}, C{remaining}, C{value()} and C{close()}.
BulkBuffer = _choose()
