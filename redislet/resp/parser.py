"""Request parser: multibulk and inline commands, as networking.c processMultibulkBuffer and
processInlineBuffer read them, with the same limits and protocol error texts.

feed(data) returns the complete commands (lists of bytes) found so far; after a protocol
error, `error` holds the reply text: the commands before it still run, then the client
gets the error and is closed (as Redis does).
"""
import re
from itertools import chain

from ..util import parse_ll, split_args

try:  # hiredis parses well-formed pipelines in C; the Python parser stays the reference
    from hiredis import Reader as _HiredisReader
except ImportError:  # pragma: no cover - optional speed-up
    _HiredisReader = None

# digits of a bulk length, for the canonical size of a command (see feed_fast)
_DIGITS = [1] * 10 + [2] * 90 + [3] * 900 + [4] * 9000 + [5] * 90000
# hiredis pre-sizes a list for an aggregate's declared length (*3000000000 maps 24 GB), and
# accepts element forms Redis's request parser rejects (RESP3 sets/maps/pushes/attributes,
# '+', '=', '('). Every element header follows a CRLF and a fast chunk starts with '*', so
# two cheap scans (each led by a literal, which the regex engine searches fast) route any
# such chunk to the Python parser: a special header after a CRLF, or a '*' count of a
# million or more (the other aggregate types are already caught by the first scan).
_SPECIAL_HEADER = re.compile(rb"\r\n[~%>|+=(]").search
_HUGE_ARRAY = re.compile(rb"\*[0-9]{7}").search
_chain = chain.from_iterable

INLINE_MAX = 64 * 1024          # PROTO_INLINE_MAX_SIZE
BIG_ARG = 32 * 1024             # PROTO_MBULK_BIG_ARG: collect chunks instead of re-joining
INT_MAX = (1 << 31) - 1


class ProtocolError(Exception):
    pass


class RequestParser:
    __slots__ = ("buf", "argv", "remaining", "bulklen", "parts", "partlen",
                 "error", "max_bulk", "auth_required", "reader", "finish_one")

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
        self.reader = None
        self.finish_one = False

    def feed_fast(self, data):
        if _HiredisReader is None:
            return self.feed(data)
        return self._feed_hiredis(data)

    def _feed_hiredis(self, data):
        """feed() through hiredis when that gives exactly Redis's result.

        Used only for a chunk that starts a command ('*') with no partial state, from an
        authenticated client. Each command hiredis returns must be an array of bulk
        strings: its canonical encoding length must add up to the bytes consumed (other
        element types either raise here or make the encoding longer than canonical, except
        the '+', '(' and '=' forms hiredis also returns as bytes, which the pre-scan
        excludes). Anything else, the chunk is
        parsed again by the Python parser, which has Redis's exact errors and limits. A
        partial command at the end is handed to the Python parser."""
        if (self.buf or self.argv is not None or self.parts is not None
                or self.auth_required or data[:1] != b"*" or len(data) > self.max_bulk
                or _SPECIAL_HEADER(data) is not None or _HUGE_ARRAY(data) is not None):
            return self._feed_split(data)
        reader = self.reader
        if reader is None:
            reader = self.reader = _HiredisReader()
        reader.feed(data)
        out = []
        append = out.append
        gets = reader.gets
        digit = _DIGITS.__getitem__
        try:
            cmd = gets()
            while cmd is not False:
                append(cmd)
                cmd = gets()
            # non-sized elements (None, ints) raise; a *-1 or *0 command has no args
            argc = list(map(len, out))
            arglens = list(map(len, _chain(out)))
            size = (sum(arglens) + sum(map(digit, arglens)) + 5 * len(arglens)
                    + sum(map(digit, argc)) + 3 * len(argc))
        except Exception:  # ProtocolError, odd element types, lengths past the table
            self.reader = None
            return self.feed(data)
        if size != len(data) or 0 in argc:
            # a partial command at the end, an element that is not a bulk string, or an
            # empty command: the reference parser takes the whole chunk (nothing ran yet)
            self.reader = None
            return self.feed(data)
        return out

    def _feed_split(self, data):
        """The Python parser finishes the pending partial command, then hiredis resumes."""
        if not (self.buf or self.argv is not None or self.parts is not None) \
                or self.auth_required:
            return self.feed(data)
        self.finish_one = True
        try:
            out = self.feed(data)
        finally:
            self.finish_one = False
        rest = self.buf
        if rest and self.argv is None and self.parts is None and self.error is None:
            self.buf = b""
            out.extend(self.feed_fast(rest) if rest[:1] == b"*" else self.feed(rest))
        return out

    def pending_bytes(self):
        return len(self.buf) + self.partlen

    def feed(self, data):
        """Parse data with the Python parser (the reference implementation)."""
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
                    if nl >= 0 and find(b"\x00", pos, nl) >= 0:
                        nl = -1     # strchr() stops at a NUL: Redis never sees the newline
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
                        if self.finish_one:
                            return pos
                    continue
                nl = find(b"\r", pos)
                if nl >= 0 and find(b"\x00", pos, nl) >= 0:
                    nl = -1     # strchr() stops at a NUL
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
                    if nl >= 0 and find(b"\x00", pos, nl) >= 0:
                        nl = -1     # strchr() stops at a NUL
                    if nl < 0:
                        if n - pos > INLINE_MAX:
                            raise ProtocolError("Protocol error: too big bulk count string")
                        return pos
                    if nl > n - 2:
                        return pos
                    if buf[pos] != 36:
                        # "%c" of the raw byte (a NUL ends the C string there)
                        raise ProtocolError(
                            "Protocol error: expected '$', got '%s'"
                            % bytes((buf[pos],)).decode("utf-8", "surrogateescape")
                            if buf[pos] else "Protocol error: expected '$', got '")
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
            if self.finish_one:
                return pos
        return pos
