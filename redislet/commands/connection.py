"""Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT."""
import hmac

from .table import command
from ..errors import CommandError, SYNTAX, NOT_INTEGER, INVALID_DB
from ..resp.encode import OK, PONG, bulk, integer, array
from ..util import parse_ll

REDACTED = b"(redacted)"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


@command("ping")
def ping(c, argv):
    if len(argv) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if c.subscribed and c.resp == 2:
        return array([b"pong", argv[1] if len(argv) == 2 else b""])
    if len(argv) == 2:
        return bulk(argv[1])
    return PONG


@command("echo")
def echo(c, argv):
    return bulk(argv[1])


@command("quit")
def quit_(c, argv):
    c.closing = True
    return OK


@command("select")
def select(c, argv):
    dbid = parse_ll(argv[1])
    if dbid is None or not -(1 << 31) <= dbid < (1 << 31):
        raise CommandError(NOT_INTEGER)
    if dbid and c.server.cluster is not None:
        raise CommandError("ERR SELECT is not allowed in cluster mode")
    if not 0 <= dbid < len(c.server.dbs):
        raise CommandError(INVALID_DB)
    c.select(dbid)
    return OK


def authenticate(c, username, password, cmdname=b"auth"):
    """Check credentials and log the client in; False on a bad pair.

    The ACL module replaces this through server.acl; without it there is one user,
    'default', whose password is requirepass."""
    srv = c.server
    if srv.acl is not None:
        return srv.acl.authenticate(c, username, password, cmdname)
    required = srv.config.values["requirepass"] or ""
    ok = username == b"default" and (
        not required or hmac.compare_digest(password, required.encode()))
    if ok:
        c.authenticated = True
        c.user = "default"
        c.parser.auth_required = False
        c.update_checks()
    else:
        srv.auth_failures = getattr(srv, "auth_failures", 0) + 1
    return ok


@command("auth")
def auth(c, argv):
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    # redactClientCommandArgument: SLOWLOG / MONITOR see "(redacted)" (argv is theirs)
    args = argv[:]
    argv[1] = REDACTED
    if len(argv) == 3:
        argv[2] = REDACTED
    argv = args
    if len(argv) == 2:
        srv = c.server
        if srv.acl_default_nopass():
            raise CommandError("ERR AUTH <password> called without any password configured "
                               "for the default user. Are you sure your configuration is "
                               "correct?")
        username, password = b"default", argv[1]
    else:
        username, password = argv[1], argv[2]
    if authenticate(c, username, password, argv[0]):
        return OK
    return WRONGPASS


def set_client_name(c, name):
    """clientSetNameOrReply: names may not contain spaces or special characters."""
    if any(ch < 33 or ch > 126 for ch in name):
        raise CommandError("ERR Client names cannot contain spaces, newlines or special "
                           "characters.")
    c.name = name.decode() if name else None


@command("hello")
def hello(c, argv):
    ver = 0
    i = 1
    if len(argv) >= 2:
        ver = parse_ll(argv[1])
        if ver is None:
            raise CommandError("ERR Protocol version is not an integer or out of range")
        if ver < 2 or ver > 3:
            raise CommandError("NOPROTO unsupported protocol version")
        i = 2
    while i < len(argv):
        opt = argv[i].lower()
        more = len(argv) - 1 - i
        if opt == b"auth" and more >= 2:
            user, password = argv[i + 1], argv[i + 2]
            argv[i + 1] = argv[i + 2] = REDACTED
            if not authenticate(c, user, password, argv[0]):
                return WRONGPASS
            i += 3
        elif opt == b"setname" and more >= 1:
            set_client_name(c, argv[i + 1])
            i += 2
        else:
            raise CommandError("ERR Syntax error in HELLO option '%s'"
                               % argv[i].decode("utf-8", "replace"))
    if not c.authenticated:
        raise CommandError("NOAUTH HELLO must be called with the client already "
                           "authenticated, otherwise the HELLO AUTH <user> <pass> option can "
                           "be used to authenticate the client and select the RESP protocol "
                           "version at the same time")
    if ver:
        c.set_protocol(ver)
    from .. import REDIS_VERSION
    r = c.r
    return r.map([
        (bulk(b"server"), bulk(b"redis")),
        (bulk(b"version"), bulk(REDIS_VERSION.encode())),
        (bulk(b"proto"), integer(c.resp)),
        (bulk(b"id"), integer(c.id)),
        (bulk(b"mode"), bulk(b"standalone" if c.server.cluster is None else b"cluster")),
        (bulk(b"role"), bulk(b"replica" if c.server.is_replica else b"master")),
        (bulk(b"modules"), b"*0\r\n"),
    ])


@command("reset")
def reset(c, argv):
    """resetCommand / clearClientConnectionState."""
    srv = c.server
    for hook in reset_hooks:
        hook(c)
    c.multi = None
    c.multi_error = False
    c.dirty_cas = False
    c.select(0)
    c.set_protocol(2)
    c.name = None
    c.reply_mode = 0
    c.no_evict = False
    c.no_touch = False
    if c.monitor:
        c.monitor = False
        if c in srv.monitors:
            srv.monitors.remove(c)
    c.authenticated = not srv.auth_required()
    c.user = "default"
    c.parser.auth_required = not c.authenticated
    c.update_checks()
    return b"+RESET\r\n"


# other families register what RESET must undo (unwatch, unsubscribe, tracking...)
reset_hooks = []
