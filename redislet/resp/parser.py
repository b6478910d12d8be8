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

# hiredis pre-sizes a list for an aggregate's declared length (*3000000000 maps 24 GB), and
# accepts element forms Redis's request parser rejects (every RESP2/RESP3 type but '$', and
# the null bulk string $-1).
# Every element header follows a CRLF and a fast chunk starts with '*', so two cheap scans
# (each led by a literal, which the regex engine searches fast) route a chunk to the Python
# parser when it has a header of another type after a CRLF, or a '*' count of a million or
# more. A nested '*' is the one header both forms share: see _feed_hiredis.
_SPECIAL_HEADER = re.compile(rb"\r\n(?:[~%>|+=(:\-_,#!]|\$-)").search
_HUGE_ARRAY = re.compile(rb"\*[0-9]{7}").search
_ONLY_LISTS = {list}
# canonical headers of a small command, for the one-command fast path of feed_fast
ONE_COMMAND_MAX = 4096
_ARRAY_LEN = {b"*%d" % n: n for n in range(1, 257)}.get
_BULK_HEADER = [b"$%d" % n for n in range(ONE_COMMAND_MAX)].__getitem__

INLINE_MAX = 64 * 1024          # PROTO_INLINE_MAX_SIZE
BIG_ARG = 32 * 1024             # PROTO_MBULK_BIG_ARG: collect chunks instead of re-joining
INT_MAX = (1 << 31) - 1


def _payload_stars(cmds):
    """The CRLF '*' that argument bytes account for (an argument such as XADD's '*'
    starts right after its header's CRLF): each argument after a CRLF, joined, gives
    the same count; None when a nested array is there."""
    try:
        return (b"\r\n" + b"\r\n".join(chain.from_iterable(cmds))).count(b"\r\n*")
    except TypeError:
        return None


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
        """feed() for a chunk that starts with no partial state, from an authenticated
        client, by the fastest way that gives exactly Redis's result.

        A read of one small command (what a client waiting for each reply sends) is
        split on CRLF: when the parts are exactly a canonical '*N' header and N pairs of
        '$L' headers and L-byte arguments, the chunk is that command's canonical encoding
        and nothing else (an argument holding a CRLF, a nested header or a partial tail
        changes the number of parts or a header). Anything else goes to hiredis, or to
        the Python parser."""
        if self.buf or self.argv is not None or self.parts is not None or self.auth_required:
            return self._feed_split(data)
        if len(data) <= ONE_COMMAND_MAX:
            parts = data.split(b"\r\n")
            if len(parts) == 2 * _ARRAY_LEN(parts[0], -1) + 2 and not parts[-1]:
                argv = parts[2::2]
                if list(map(_BULK_HEADER, map(len, argv))) == parts[1:-1:2]:
                    return [argv]
        if _HiredisReader is None:
            return self.feed(data)
        return self._feed_hiredis(data)

    def _feed_hiredis(self, data):
        """feed() through hiredis when that gives exactly Redis's result.

        Used (through feed_fast) only for a chunk that starts a command ('*') with no
        partial state, from an authenticated client, with no element header but '$' and
        '*' (the pre-scans).
        hiredis reads lengths as strictly as Redis (string2ll: no sign, no leading zero),
        so what is left to rule out is a command that is not an array (a top-level bulk
        string, *-1), an empty one (*0), a nested array and a partial command at the end.
        Once every command is a non-empty list, each header follows a CRLF (but the first,
        which starts the chunk): one '*' per command and one '$' per argument. A nested
        array or a partial command adds a header beyond those, and payload bytes can only
        add to the counts. On any mismatch, or any hiredis error, the whole chunk goes
        to the Python parser, which has Redis's exact errors and limits (nothing ran
        yet). An argument starting with '*' (XADD key * ...) or holding CRLF '*' adds
        to the '*' count by exactly what its bytes say, so that is counted back
        (_payload_stars); other payload bytes that look like a header only send a
        chunk the slow way."""
        if (data[:1] != b"*" or len(data) > self.max_bulk
                or _SPECIAL_HEADER(data) is not None or _HUGE_ARRAY(data) is not None):
            return self.feed(data)
        reader = self.reader
        if reader is None:
            reader = self.reader = _HiredisReader()
        reader.feed(data)
        out = []
        append = out.append
        gets = reader.gets
        try:
            cmd = gets()
            while cmd is not False:
                append(cmd)
                cmd = gets()
        except Exception:  # hiredis's protocol errors
            self.reader = None
            return self.feed(data)
        if (not all(out) or set(map(type, out)) != _ONLY_LISTS
                or data.count(b"\r\n$") != sum(map(len, out))):
            self.reader = None
            return self.feed(data)
        stars = data.count(b"\r\n*") + 1 - len(out)
        if stars and stars != _payload_stars(out):
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
