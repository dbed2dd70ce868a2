# -*- test-case-name: kvtwist.test.test_framing -*-
"""
The buffer a big bulk string is received into.

A bulk string too big to come in one read is received into one buffer,
allocated at its final size when its header arrives and filled as its bytes
come: no read is joined to another, and the memory it takes grows with what
was received.  Dropping the buffer (the client went away) frees it all.

L{BulkBuffer} is the C one of C{kvtwist._resp} where it is built: it fills
the very L{bytes} object the value becomes, so the value is never copied
once received.  Elsewhere (PyPy), L{BulkBufferPython} fills a
C{bytearray}, copied once into L{bytes} when full.
"""

from typing import Union


class BulkBufferPython:
    """
    A bulk string of C{size} bytes received into a C{bytearray}.

    @ivar remaining: how many bytes it still needs.
    """

    __slots__ = ("_data", "_view", "_filled", "remaining")

    def __init__(self, size: int):
        self._data = bytearray(size)
        self._view = memoryview(self._data)
        self._filled = 0
        self.remaining = size

    def write(self, data: Union[bytes, memoryview], start: int = 0) -> int:
        """
        Copy C{data[start:]} in, as much as there is room for.

        @return: how many bytes it took.
        """
        taken = min(len(data) - start, self.remaining)
        if taken > 0:
            filled = self._filled
            self._view[filled:filled + taken] = \
                memoryview(data)[start:start + taken]
            self._filled = filled + taken
            self.remaining -= taken
        return max(taken, 0)

    def value(self) -> bytes:
        """
        The value, once full; the buffer forgets it.

        @raise ValueError: if it is not full.
        """
        if self.remaining or self._data is None:
            raise ValueError("the buffer is not full")
        self._view.release()
        data, self._data = self._data, None
        return bytes(data)


def _choose():
    try:
        from kvtwist._resp import BulkBuffer
    except ImportError:  # PyPy, or built without a C compiler
        return BulkBufferPython
    return BulkBuffer


#: The buffer of this interpreter: C{BulkBuffer(size)} with C{write(data,
#: start=0) -> taken}, C{remaining} and C{value()}.
BulkBuffer = _choose()
