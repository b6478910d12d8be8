"""The replication backlog (replication.c repl_backlog): the most recent bytes of the
replication stream, so that a replica that lost its link can continue with PSYNC.

Offsets follow Redis: the stream's bytes are numbered from 1; `offset` is the number of
the first byte held (repl_backlog->offset) and the last held byte is master_repl_offset.
A bytearray trimmed at the front is the circular buffer here: CPython deletes a prefix of
a bytearray by moving its start pointer, so trimming is cheap.
"""


class Backlog:
    __slots__ = ("size", "buf", "offset")

    def __init__(self, size, first_offset):
        self.size = size
        self.buf = bytearray()
        self.offset = first_offset

    @property
    def histlen(self):
        return len(self.buf)

    def append(self, data, floor=None):
        """Add stream bytes; trim to `size`, but keep the bytes from offset `floor` on
        (a replica waiting for its RDB still needs them)."""
        buf = self.buf
        buf += data
        excess = len(buf) - self.size
        if floor is not None and floor - self.offset < excess:
            excess = floor - self.offset
        if excess > 0:
            del buf[:excess]
            self.offset += excess

    def resize(self, size):
        self.size = size
        self.append(b"")

    def covers(self, offset):
        """PSYNC can continue from byte `offset` (the first byte the replica lacks)."""
        return self.offset <= offset <= self.offset + len(self.buf)

    def read_from(self, offset):
        """The held bytes from stream byte `offset` to the end."""
        return bytes(self.buf[offset - self.offset:])
