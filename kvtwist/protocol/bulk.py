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
copied once into L{bytes} when full: Python code can't make a L{bytes}
object any other way, so for that moment the value is in memory twice.
"""

import mmap


class BulkBufferPython:
    """
    A bulk string of C{size} bytes received into an anonymous memory map:
    its pages take memory only as they are written, and are given back to
    the system as soon as the value is taken or the buffer dropped
    (L{close}), not at some later garbage collection.

    @ivar remaining: how many bytes it still needs.
    """

    __slots__ = ("_map", "_filled", "remaining")

    def __init__(self, size: int):
        self._map = mmap.mmap(-1, size) if size else None
        self._filled = 0
        self.remaining = size

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
        value = self._map[:] if self._map is not None else b""
        self.close()
        return value

    def close(self) -> None:
        """
        Give the memory back; the value can't be taken any more.
        """
        if self._map is not None:
            self._map.close()
            self._map = None
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
