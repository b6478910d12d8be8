"""MIGRATE (cluster.c migrateCommand): move keys to another instance with RESTORE.

Like Redis, the transfer is synchronous: a blocking socket with the command's timeout.
Connections are cached per host:port and closed after MIGRATE_SOCKET_CACHE_TTL seconds
of disuse by a cron hook."""
import errno
import random
import select
import socket
import time

from .. import hooks
from ..errors import CommandError, SYNTAX, NOT_INTEGER
from ..persistence import rdb
from ..resp.encode import OK
from ..util import parse_ll
from .keys import NOTIFY_GENERIC
from .table import command

CACHE_ITEMS = 64     # MIGRATE_SOCKET_CACHE_ITEMS
CACHE_TTL = 10       # MIGRATE_SOCKET_CACHE_TTL (seconds)
REDACTED = b"(redacted)"
_KEY_FLAGS = ["RW", "ACCESS", "DELETE"]


class _Timeout(Exception):
    pass


class _Closed(Exception):
    pass


class _CachedSocket:
    __slots__ = ("sock", "last_dbid", "last_use", "buf", "pending")

    def __init__(self, sock, pending=False):
        self.sock = sock
        self.last_dbid = -1
        self.last_use = time.time()
        self.buf = b""
        self.pending = pending     # non-blocking connect still in progress

    def _finish_connect(self, deadline):
        """Like Redis, a connect that failed or timed out only shows when writing."""
        left = deadline - time.monotonic()
        _, w, _ = select.select([], [self.sock], [], max(left, 0))
        if not w:
            raise _Timeout()
        if self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            raise _Closed()
        self.pending = False

    def write(self, data, timeout):
        """connSyncWrite in 64K chunks; raises _Timeout / _Closed."""
        deadline = time.monotonic() + timeout / 1000
        view = memoryview(data)
        pos = 0
        sock = self.sock
        try:
            if self.pending:
                self._finish_connect(deadline)
            while pos < len(view):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Timeout()
                sock.settimeout(left)
                pos += sock.send(view[pos:pos + 65536])
        except socket.timeout:
            raise _Timeout() from None
        except OSError:
            raise _Closed() from None

    def readline(self, timeout):
        """connSyncReadLine: one reply line without CRLF; raises _Timeout / _Closed."""
        deadline = time.monotonic() + timeout / 1000
        buf = self.buf
        sock = self.sock
        try:
            while True:
                i = buf.find(b"\n")
                if i >= 0:
                    self.buf = buf[i + 1:]
                    line = buf[:i]
                    if line[-1:] == b"\r":
                        line = line[:-1]
                    return line
                left = deadline - time.monotonic()
                if left <= 0:
                    self.buf = buf
                    raise _Timeout()
                sock.settimeout(left)
                data = sock.recv(16384)
                if not data:
                    self.buf = buf
                    raise _Closed()
                buf += data
        except socket.timeout:
            self.buf = buf
            raise _Timeout() from None
        except OSError:
            self.buf = buf
            raise _Closed() from None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _cache(srv):
    d = getattr(srv, "migrate_cached_sockets", None)
    if d is None:
        d = srv.migrate_cached_sockets = {}
    return d


def _set_count(srv, d):
    srv.migrate_cached_sockets_count = len(d)


def _atoi(b):
    """C atoi: optional spaces and sign, then leading digits."""
    s = b.lstrip(b" \t\n\v\f\r")
    neg = False
    if s[:1] in (b"-", b"+"):
        neg = s[:1] == b"-"
        s = s[1:]
    n = 0
    for ch in s:
        if 48 <= ch <= 57:
            n = n * 10 + ch - 48
        else:
            break
    n = -n if neg else n
    return ((n + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _connect(host, port, timeout):
    """anetTcpNonBlockConnect: the first address whose non-blocking connect starts;
    None when none does (resolution errors, bad port...)."""
    if port < 0:
        return None
    try:
        addrs = socket.getaddrinfo(host.decode("utf-8", "surrogateescape"), port & 0xFFFF,
                                   socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None
    for family, type_, proto, _, addr in addrs:
        try:
            sock = socket.socket(family, type_, proto)
        except OSError:
            continue
        sock.setblocking(False)
        err = sock.connect_ex(addr)
        if err in (0, errno.EINPROGRESS):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            return sock
        sock.close()
    return None


def _get_socket(srv, host, port, timeout):
    """migrateGetSocket: a cached connection or a new one; None when it fails."""
    d = _cache(srv)
    name = host + b":" + port
    cs = d.get(name)
    if cs is not None:
        cs.last_use = time.time()
        return cs
    if len(d) >= CACHE_ITEMS:
        victim = random.choice(list(d))
        d.pop(victim).close()
    sock = _connect(host, _atoi(port), timeout)
    if sock is None:
        _set_count(srv, d)
        return None
    cs = d[name] = _CachedSocket(sock, True)
    _set_count(srv, d)
    return cs


def _close_socket(srv, host, port):
    """migrateCloseSocket."""
    d = _cache(srv)
    cs = d.pop(host + b":" + port, None)
    if cs is not None:
        cs.close()
    _set_count(srv, d)


def _cron(srv):
    """migrateCloseTimedoutSockets."""
    d = getattr(srv, "migrate_cached_sockets", None)
    if not d:
        return
    now = time.time()
    for name in [n for n, cs in d.items() if now - cs.last_use > CACHE_TTL]:
        d.pop(name).close()
    _set_count(srv, d)


def _shutdown(srv, save, force):
    d = getattr(srv, "migrate_cached_sockets", None)
    if d:
        for cs in d.values():
            cs.close()
        d.clear()
        _set_count(srv, d)
    return None


def _init(srv):
    srv.migrate_cached_sockets = {}
    srv.migrate_cached_sockets_count = 0
    srv.cron_hooks.append(_cron)
    srv.shutdown_hooks.append(_shutdown)


hooks.server_init.append(_init)


def _bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def migrate_key_range(argv):
    """migrateGetKeys: (first, num) of the keys: argv[3], or the keys after KEYS (none
    when argv[3] is not empty). ACL and cluster redirection use it too."""
    n = len(argv)
    first, num = 3, 1
    if n > 6:
        i = 6
        while i < n:
            a = argv[i].lower()
            if a == b"keys":
                if argv[3]:
                    num = 0
                else:
                    first = i + 1
                    num = n - first
                break
            if a == b"auth":
                i += 1
            elif a == b"auth2":
                i += 2
            i += 1
    return first, num


def _getkeys(argv):
    """getKeysFromCommandWithSpecs for MIGRATE: the key specs (argv[3]) unless the
    INCOMPLETE KEYS spec matches, then migrateGetKeys."""
    n = len(argv)
    found = False
    for i in range(n - 2, 1, -1):
        if argv[i].lower() == b"keys":
            found = True
            break
    if not found:
        return [(3, _KEY_FLAGS)] if n > 3 else None
    first, num = migrate_key_range(argv)
    if num == 0:
        return None
    return [(first + k, _KEY_FLAGS) for k in range(num)]


@command("migrate", getkeys=_getkeys)
def migrate(c, argv):
    copy = replace = False
    username = password = None
    first_key, num_keys = 3, 1
    argc = len(argv)
    orig = argv[:]     # argv itself gets the redactions (SLOWLOG / MONITOR)
    j = 6
    while j < argc:
        more = argc - 1 - j
        a = orig[j].lower()
        if a == b"copy":
            copy = True
        elif a == b"replace":
            replace = True
        elif a == b"auth":
            if not more:
                raise CommandError(SYNTAX)
            j += 1
            password = orig[j]
            argv[j] = REDACTED
        elif a == b"auth2":
            if more < 2:
                raise CommandError(SYNTAX)
            j += 1
            username = orig[j]
            argv[j] = REDACTED
            j += 1
            password = orig[j]
            argv[j] = REDACTED
        elif a == b"keys":
            if orig[3]:
                raise CommandError("ERR When using MIGRATE KEYS option, the key argument "
                                   "must be set to the empty string")
            first_key = j + 1
            num_keys = argc - j - 1
            break
        else:
            raise CommandError(SYNTAX)
        j += 1

    timeout = parse_ll(orig[5])
    if timeout is None:
        raise CommandError(NOT_INTEGER)
    dbid = parse_ll(orig[4])
    if dbid is None:
        raise CommandError(NOT_INTEGER)
    if timeout <= 0:
        timeout = 1000

    srv = c.server
    db = c.db
    keys = []
    vals = []
    for key in orig[first_key:first_key + num_keys]:
        v = db.lookup_read(key)
        if v is not None:
            keys.append(key)
            vals.append(v)
    if not keys:
        return b"+NOKEY\r\n"

    host, port = orig[1], orig[2]
    cfg = srv.config.values
    may_retry = True
    while True:
        cs = _get_socket(srv, host, port, timeout)
        if cs is None:
            raise CommandError("IOERR error or timeout connecting to the client")
        out = []
        if password is not None:
            if username is not None:
                out.append(b"*3\r\n$4\r\nAUTH\r\n" + _bulk(username) + _bulk(password))
            else:
                out.append(b"*2\r\n$4\r\nAUTH\r\n" + _bulk(password))
        select = cs.last_dbid != dbid
        if select:
            out.append(b"*2\r\n$6\r\nSELECT\r\n" + _bulk(b"%d" % dbid))
        now = srv.time_ms()
        mkeys = []
        # a cluster node's target serves the keys of a slot it is importing only when
        # asked (RESTORE-ASKING sets the ASKING flag for the one command)
        restore = (b"$14\r\nRESTORE-ASKING\r\n" if srv.cluster is not None
                   else b"$7\r\nRESTORE\r\n")
        for key, v in zip(keys, vals):
            ttl = 0
            exp = db.get_expire(key)
            if exp is not None:
                ttl = exp - now
                if ttl < 0:
                    continue
                if ttl < 1:
                    ttl = 1
            mkeys.append(key)
            out.append((b"*5\r\n" if replace else b"*4\r\n") + restore
                       + _bulk(key) + _bulk(b"%d" % ttl) + _bulk(rdb.dump_payload(v, cfg))
                       + (b"$7\r\nREPLACE\r\n" if replace else b""))

        write_error = False
        timed_out = False
        error_from_target = None
        socket_error = False
        deleted = []
        nread = 0
        try:
            cs.write(b"".join(out), timeout)
        except _Timeout:
            write_error = timed_out = True
        except _Closed:
            write_error = True
        if not write_error:
            try:
                buf0 = cs.readline(timeout) if password is not None else b""
                buf1 = cs.readline(timeout) if select else b""
            except _Timeout:
                socket_error = timed_out = True
            except _Closed:
                socket_error = True
            if socket_error:
                # the AUTH / SELECT reply is missing: straight to socket_err
                _close_socket(srv, host, port)
                if not timed_out and may_retry:
                    may_retry = False
                    continue
                raise CommandError("IOERR error or timeout reading to target instance")
            for key in mkeys:
                try:
                    buf2 = cs.readline(timeout)
                except _Timeout:
                    socket_error = timed_out = True
                    break
                except _Closed:
                    socket_error = True
                    break
                nread += 1
                if buf0[:1] == b"-" or buf1[:1] == b"-" or buf2[:1] == b"-":
                    if error_from_target is None:
                        cs.last_dbid = -1
                        if buf0[:1] == b"-":
                            e = buf0
                        elif buf1[:1] == b"-":
                            e = buf1
                        else:
                            e = buf2
                        error_from_target = e[1:]
                elif not copy:
                    if db.delete(key):
                        if not db.watched:
                            db.touch(key)
                        if srv.notify_flags & NOTIFY_GENERIC:
                            srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
                    srv.dirty += 1
                    deleted.append(key)
            if (error_from_target is None and socket_error and nread == 0 and may_retry
                    and not timed_out):
                _close_socket(srv, host, port)
                may_retry = False
                continue
            if socket_error:
                _close_socket(srv, host, port)
            if deleted:
                c.prop_override = [[b"DEL"] + deleted]
            if error_from_target is None and socket_error:
                raise CommandError("IOERR error or timeout reading to target instance")
            if error_from_target is None:
                cs.last_dbid = dbid
                return OK
            raise CommandError("ERR Target instance replied with error: "
                               + error_from_target.decode("utf-8", "surrogateescape"))
        # write error (socket_err)
        _close_socket(srv, host, port)
        if not timed_out and may_retry:
            may_retry = False
            continue
        raise CommandError("IOERR error or timeout writing to target instance")
