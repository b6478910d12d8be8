"""Request parser: multibulk and inline commands, as networking.c processMultibulkBuffer and
processInlineBuffer read them, with the same limits and protocol error texts.

feed(data) returns the complete commands (lists of bytes) found so far; after a protocol
error, `error` holds the reply text: the commands before it still run, then the client
gets the error and is closed (as Redis does).
"""
from ..util import parse_ll, split_args

INLINE_MAX = 64 * 1024          # PROTO_INLINE_MAX_SIZE
BIG_ARG = 32 * 1024             # PROTO_MBULK_BIG_ARG: collect chunks instead of re-joining
INT_MAX = (1 << 31) - 1


class ProtocolError(Exception):
    pass


class RequestParser:
    __slots__ = ("buf", "argv", "remaining", "bulklen", "parts", "partlen",
                 "error", "max_bulk", "auth_required")

    def __init__(self, max_bulk=512 * 1024 * 1024):
        self.buf = b""
        self.argv = None        # command being assembled across reads
        self.remaining = 0      # bulks still missing from it
        self.bulklen = -1       # length of the bulk being read, -1 when reading a header
        self.parts = None       # chunks of a big bulk argument
        self.partlen = 0
        self.error = None
        self.max_bulk = max_bulk
        self.auth_required = False

    def pending_bytes(self):
        return len(self.buf) + self.partlen

    def feed(self, data):
        out = []
        if self.parts is not None:
            # a big argument: gather chunks without re-joining the whole buffer every read
            self.parts.append(data)
            self.partlen += len(data)
            if self.partlen < self.bulklen + 2:
                return out
            data = b"".join(self.parts)
            self.parts = None
            self.partlen = 0
            buf = data
        elif self.buf:
            buf = self.buf + data
        else:
            buf = data
        try:
            pos = self._parse(buf, out)
        except ProtocolError as e:
            self.error = e.args[0]
            self.buf = b""
            return out
        self.buf = buf[pos:] if pos < len(buf) else b""
        return out

    def _parse(self, buf, out):
        n = len(buf)
        pos = 0
        find = buf.find
        append = out.append
        while pos < n:
            if self.argv is None:
                if buf[pos] != 42:  # not '*': inline command
                    nl = find(b"\n", pos)
                    if nl < 0:
                        if n - pos > INLINE_MAX:
                            raise ProtocolError("Protocol error: too big inline request")
                        return pos
                    end = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
                    args = split_args(buf[pos:end])
                    if args is None:
                        raise ProtocolError("Protocol error: unbalanced quotes in request")
                    pos = nl + 1
                    if args:
                        append(args)
                    continue
                nl = find(b"\r", pos)
                if nl < 0:
                    if n - pos > INLINE_MAX:
                        raise ProtocolError("Protocol error: too big mbulk count string")
                    return pos
                if nl > n - 2:
                    return pos
                count = parse_ll(buf[pos + 1:nl])
                if count is None or count > INT_MAX:
                    raise ProtocolError("Protocol error: invalid multibulk length")
                if count > 10 and self.auth_required:
                    raise ProtocolError("Protocol error: unauthenticated multibulk length")
                pos = nl + 2
                if count <= 0:
                    continue
                self.argv = []
                self.remaining = count
            argv = self.argv
            while self.remaining:
                bl = self.bulklen
                if bl < 0:
                    if pos >= n:
                        return pos
                    nl = find(b"\r", pos)
                    if nl < 0:
                        if n - pos > INLINE_MAX:
                            raise ProtocolError("Protocol error: too big bulk count string")
                        return pos
                    if nl > n - 2:
                        return pos
                    if buf[pos] != 36:
                        raise ProtocolError("Protocol error: expected '$', got '%s'"
                                            % chr(buf[pos]))
                    bl = parse_ll(buf[pos + 1:nl])
                    if bl is None or bl < 0 or bl > self.max_bulk:
                        raise ProtocolError("Protocol error: invalid bulk length")
                    if bl > 16384 and self.auth_required:
                        raise ProtocolError("Protocol error: unauthenticated bulk length")
                    pos = nl + 2
                    self.bulklen = bl
                end = pos + bl
                if end + 2 > n:
                    if bl >= BIG_ARG:
                        self.parts = [buf[pos:]]
                        self.partlen = n - pos
                        return n
                    return pos
                argv.append(buf[pos:end])
                pos = end + 2  # Redis does not check the CRLF after a bulk either
                self.bulklen = -1
                self.remaining -= 1
            append(argv)
            self.argv = None
        return pos
