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

# hiredis may pre-size or slowly build an aggregate's declared length ('>300000000' maps
# 2.3 GB, '~3000000000' takes 17 s): a chunk with an aggregate count of a million or more
# goes to the Python parser without meeting hiredis. '*' is in every chunk: its regex is led
# by a literal (searched fast); '>' and '%' are looked for only when their byte is there.
# ('~' and '|' never reach hiredis: it returns a set as a list, like an array, and drops
# attributes.)
_HUGE_ARRAY = re.compile(rb"\*[0-9]{7}").search
_HUGE_OTHER = re.compile(rb"[>%][0-9]{7}").search
_ONLY_LISTS = {list}
# bytes are searched for as ints: `b"~" in data` first tries the operand as an int and
# builds (then drops) a TypeError with its message, several times slower
_TILDE, _PIPE, _GT, _PERCENT, _PLUS, _LPAREN, _EQUALS = b"~|>%+(="
_chain = chain.from_iterable
_DIGITS = ([1] * 10 + [2] * 90 + [3] * 900 + [4] * 9000 + [5] * 90000).__getitem__
# canonical headers of a small command, for the one-command fast path of feed_fast
ONE_COMMAND_MAX = 4096
_ARRAY_LEN = {b"*%d" % n: n for n in range(1, 257)}.get
_BULK_HEADER = [b"$%d" % n for n in range(ONE_COMMAND_MAX)].__getitem__
_MAX_SPLITS = [2 * (b - 48) + 1 if 49 <= b <= 57 else -1 for b in range(256)]   # by N's byte

INLINE_MAX = 64 * 1024          # PROTO_INLINE_MAX_SIZE
BIG_ARG = 32 * 1024             # PROTO_MBULK_BIG_ARG: collect chunks instead of re-joining
INT_MAX = (1 << 31) - 1


def canonical_size(cmds):
    """Bytes of commands (lists of bytes) in canonical multibulk form ('*N' and '$L'
    headers): what a chunk holding exactly them is long (the parser's check, and the
    replication offset a replica counts for its master's stream)."""
    argc = list(map(len, cmds))
    arglens = list(map(len, _chain(cmds)))
    try:
        digits = sum(map(_DIGITS, arglens)) + sum(map(_DIGITS, argc))
    except IndexError:   # lengths past the table
        digits = sum(len(str(x)) for x in arglens) + sum(len(str(x)) for x in argc)
    return sum(arglens) + digits + 5 * len(arglens) + 3 * len(argc)


# -- the compiled build's reader of canonical commands ---------------------------------------
_SCAN = not __file__.endswith(".py")     # this module runs compiled (see redislet/_build.py)


def _read_len(view, p, n):
    """The canonical decimal at view[p:] and its CRLF: (value, position after the CRLF), or
    (-1, p) for anything else (a sign, a leading zero, over 9 digits, no CRLF yet)."""
    start = p
    v = 0
    while p < n and 48 <= view[p] <= 57 and p - start < 9:
        v = v * 10 + (view[p] - 48)
        p += 1
    if (p == start or p + 2 > n or view[p] != 13 or view[p + 1] != 10
            or (view[start] == 48 and p - start > 1)):
        return -1, start
    return v, p + 2


def scan_canonical(data, out, max_bulk):
    """Append to out the complete commands at the start of data that are written as client
    libraries write them: '*N' (N >= 1) and '$L' headers in canonical decimal, every header
    and argument ended by CRLF, L <= max_bulk. Returns the position of the first byte not
    taken. Such a command reads the same under every rule of processMultibulkBuffer, so
    whatever follows (anything else, or a partial command) is left to the exact readers
    below. A byte loop: compiled (typed by the .pxd) it is the cheapest reader of a
    pipeline; it is used only where the build compiled it (_SCAN)."""
    global _last_name
    view = data          # (compiled: a const unsigned char * over the bytes)
    n = len(data)
    pos = 0
    name = _last_name
    while pos < n and view[pos] == 42:      # '*'
        count, p = _read_len(view, pos + 1, n)
        if count <= 0:
            break
        argv = []
        while count:
            if p >= n or view[p] != 36:     # '$'
                break
            bl, p = _read_len(view, p + 1, n)
            if bl < 0 or bl > max_bulk or p + bl + 2 > n or view[p + bl] != 13 \
                    or view[p + bl + 1] != 10:
                break
            if argv or not _same(view, p, bl, name):
                arg = view[p:p + bl]
                if not argv:
                    name = arg
                argv.append(arg)
            else:
                argv.append(name)
            p += bl + 2
            count -= 1
        if count:
            break
        out.append(argv)
        pos = p
    _last_name = name
    return pos


# The previous command's name: a command that repeats it (a pipeline, a client's next
# request) gets this object instead of a copy, whose hash the dispatcher's lookup has
# already computed and cached.
_last_name = b""


def _same(view, p, bl, name):
    """view[p:p + bl] == name, without making the slice."""
    if bl != len(name):
        return False
    chars = name
    i = 0
    while i < bl:
        if view[p + i] != chars[i]:
            return False
        i += 1
    return True


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
        if _SCAN and type(data) is bytes:
            out = []
            pos = scan_canonical(data, out, self.max_bulk)
            if pos == len(data):
                return out
            if pos:
                out.extend(self._feed_other(data[pos:]))
                return out
        return self._feed_other(data)

    def _feed_other(self, data):
        """feed_fast's readers when the compiled scan_canonical did not take the chunk."""
        if 3 < len(data) <= ONE_COMMAND_MAX:
            # a '*N' header with one digit: at most 2N+1 splits, so that a pipeline's other
            # commands stay in one last part (empty for a lone command) instead of being
            # split for nothing
            parts = data.split(b"\r\n", _MAX_SPLITS[data[1]] if data[2] == 13 else -1)
            if len(parts) == 2 * _ARRAY_LEN(parts[0], -1) + 2 and not parts[-1]:
                argv = parts[2::2]
                if list(map(_BULK_HEADER, map(len, argv))) == parts[1:-1:2]:
                    return [argv]
        if _HiredisReader is None:
            return self.feed(data)
        return self._feed_hiredis(data)

    def _feed_hiredis(self, data):
        """feed() through hiredis when that gives exactly Redis's result.

        Used (through feed_fast) for a chunk that starts a command ('*'), with no partial
        state, from an authenticated client, with no '~' or '|' byte (a top-level set is
        a list to hiredis too). hiredis reads lengths as strictly as Redis (string2ll)
        and, like Redis, skips the two bytes after a bulk unread. Its commands are
        Redis's once nothing stays in hiredis (no partial item), every item is a
        non-empty list and every element bytes (no nested array, integer, null...), and
        no element came from the other headers hiredis returns as bytes, which Redis
        rejects: '+', '(' and '='. Without those bytes in the chunk that is certain;
        with them (base64 values, XRANGE's '+'), two counts settle it:
          * CRLFs: a canonical chunk has one per header, one after each bulk, and those
            inside arguments. Nothing adds one (a CRLF across an argument's end and the
            next two bytes only makes up for the CRLF those bytes lack), while '+' and
            '(' elements, and other bytes after a bulk, lose one.
          * length: then only '=' can differ, and it adds 4 or 5 bytes.
        Anything else, or any hiredis error, sends the whole chunk to the Python parser
        (nothing ran yet), which has Redis's exact errors and limits."""
        # a push ('>') or a map ('%') at the top comes back as a list subclass or a dict,
        # which the join below takes: only with those bytes are the items' types checked
        # (any other non-list item fails the join)
        odd = _GT in data or _PERCENT in data
        if (data[:1] != b"*" or len(data) > self.max_bulk or _HUGE_ARRAY(data) is not None
                or _TILDE in data or _PIPE in data
                or (odd and _HUGE_OTHER(data) is not None)):
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
            reader.feed(b"*0\r\n")     # a clean reader reads it as []: no partial item
            if gets() != [] or not all(out) or (odd and set(map(type, out)) != _ONLY_LISTS):
                raise ValueError
            joined = b"\x00".join(_chain(out))    # TypeError unless all elements are bytes
            if _PLUS in data or _LPAREN in data or _EQUALS in data:
                nargs = sum(map(len, out))
                if (data.count(b"\r\n") != len(out) + 2 * nargs + joined.count(b"\r\n")
                        or len(data) != canonical_size(out)):
                    raise ValueError
        except Exception:   # hiredis's errors, non-canonical input, lengths past the table
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

    def holds_partial(self):
        """Part of a command is held: bytes of a read that are not a whole command yet."""
        return bool(self.buf or self.partlen or self.argv is not None)

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
