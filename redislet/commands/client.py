"""CLIENT and its subcommands (networking.c clientCommand); tracking state: tracking.py."""
from .table import command
from .help import help_reply
from .connection import set_client_name
from ..blocking import unblock
from ..errors import CommandError, SYNTAX, NOT_INTEGER
from ..resp.encode import OK, ONE, ZERO, NEG_ONE, bulk, integer
from ..util import parse_ll

LLONG_MAX = (1 << 63) - 1

# getClientTypeByName
TYPE_NORMAL, TYPE_SLAVE, TYPE_PUBSUB, TYPE_MASTER = 0, 1, 2, 3
_TYPES = {b"normal": TYPE_NORMAL, b"slave": TYPE_SLAVE, b"replica": TYPE_SLAVE,
          b"pubsub": TYPE_PUBSUB, b"master": TYPE_MASTER}


def client_type(c):
    """getClientType: MONITOR clients count as normal clients."""
    if "M" in c.flags_extra:
        return TYPE_MASTER
    if "S" in c.flags_extra:
        return TYPE_SLAVE
    if c.subscribed:
        return TYPE_PUBSUB
    return TYPE_NORMAL


def _type_by_name(name):
    t = _TYPES.get(name.lower())
    if t is None:
        raise CommandError("ERR Unknown client type '%s'" % name.decode("utf-8", "replace"))
    return t


def _subcommand_syntax_error(argv):
    """addReplySubcommandSyntaxError."""
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                        "Try %s HELP." % (argv[1].decode("utf-8", "replace"),
                                          argv[0].decode("utf-8", "replace").upper()))


def _user_exists(srv, name):
    acl = srv.acl
    if acl is not None and hasattr(acl, "get_user"):
        return acl.get_user(name) is not None
    return name == b"default"


def _user_name(name):
    return name.decode("utf-8", "surrogateescape")


@command("client|help")
def client_help(c, argv):
    return help_reply(argv, [
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    ])


@command("client|id")
def client_id(c, argv):
    return integer(c.id)


def _info_text(c, target, argv):
    return target.info_line(argv if target is c else None).encode("utf-8", "surrogateescape")


@command("client|info")
def client_info(c, argv):
    return c.r.verbatim(_info_text(c, c, argv) + b"\n")


@command("client|list")
def client_list(c, argv):
    srv = c.server
    ctype = None
    targets = None
    if len(argv) == 4 and argv[2].lower() == b"type":
        ctype = _type_by_name(argv[3])
    elif len(argv) > 3 and argv[2].lower() == b"id":
        targets = []
        for a in argv[3:]:
            cid = parse_ll(a)
            if cid is None:
                raise CommandError("ERR Invalid client ID")
            t = srv.clients.get(cid)
            if t is not None:
                targets.append(t)
    elif len(argv) != 2:
        raise CommandError(SYNTAX)
    if targets is None:
        targets = [t for t in srv.clients.values() if ctype is None or client_type(t) == ctype]
    return c.r.verbatim(b"".join(_info_text(c, t, argv) + b"\n" for t in targets))


@command("client|reply")
def client_reply(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = 0
        return OK
    if mode == b"off":
        c.reply_mode = 1
        return None
    if mode == b"skip":
        if c.reply_mode != 1:
            c.reply_mode = 2
        return None
    raise CommandError(SYNTAX)


@command("client|no-evict")
def client_no_evict(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.no_evict = True
    elif mode == b"off":
        c.no_evict = False
    else:
        raise CommandError(SYNTAX)
    c.server.cmem.update(c)       # leaves or (re)joins the eviction buckets
    return OK


@command("client|kill")
def client_kill(c, argv):
    srv = c.server
    addr = laddr = user = None
    ctype = None
    cid = 0
    skipme = True
    if len(argv) == 3:
        addr = argv[2]
        skipme = False            # with the old form, you can kill yourself
    elif len(argv) > 3:
        i = 2
        while i < len(argv):
            opt = argv[i].lower()
            more = i + 1 < len(argv)
            if opt == b"id" and more:
                v = parse_ll(argv[i + 1])
                if v is None or v < 1:
                    raise CommandError("ERR client-id should be greater than 0")
                cid = v
            elif opt == b"type" and more:
                ctype = _type_by_name(argv[i + 1])
            elif opt == b"addr" and more:
                addr = argv[i + 1]
            elif opt == b"laddr" and more:
                laddr = argv[i + 1]
            elif opt == b"user" and more:
                if not _user_exists(srv, argv[i + 1]):
                    raise CommandError("ERR No such user '%s'"
                                       % argv[i + 1].decode("utf-8", "replace"))
                user = _user_name(argv[i + 1])
            elif opt == b"skipme" and more:
                yn = argv[i + 1].lower()
                if yn == b"yes":
                    skipme = True
                elif yn == b"no":
                    skipme = False
                else:
                    raise CommandError(SYNTAX)
            else:
                raise CommandError(SYNTAX)
            i += 2
    else:
        raise CommandError(SYNTAX)
    killed = 0
    close_me = False
    for t in list(srv.clients.values()):
        if addr is not None and t.addr.encode("utf-8", "surrogateescape") != addr:
            continue
        if laddr is not None and t.laddr.encode("utf-8", "surrogateescape") != laddr:
            continue
        if ctype is not None and client_type(t) != ctype:
            continue
        if cid and t.id != cid:
            continue
        if user is not None and t.user != user:
            continue
        if t is c:
            if skipme:
                continue
            close_me = True
        else:
            t.kill()
        killed += 1
    if close_me:
        c.closing = True
    if len(argv) == 3:
        if not killed:
            raise CommandError("ERR No such client")
        return OK
    return integer(killed)


@command("client|unblock")
def client_unblock(c, argv):
    if len(argv) > 4:
        raise _subcommand_syntax_error(argv)
    as_error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason == b"error":
            as_error = True
        elif reason != b"timeout":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    cid = parse_ll(argv[2])
    if cid is None:
        raise CommandError(NOT_INTEGER)
    target = c.server.clients.get(cid)
    if target is None:
        return ZERO
    if target.blocked is not None:
        b = target.blocked
        reply = (b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n" if as_error
                 else b.timeout_reply)
        if as_error:
            c.server.count_error(reply)
        unblock(target, reply, stats=True)
        return ONE
    if target.paused:
        # a client postponed by CLIENT PAUSE: its command runs again (and waits again)
        if as_error:
            reply = b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
            c.server.count_error(reply)
            target.write(reply)
        return ONE
    return ZERO


@command("client|setname")
def client_setname(c, argv):
    set_client_name(c, argv[2])
    return OK


@command("client|getname")
def client_getname(c, argv):
    return c.r.null if c.name is None else bulk(c.name.encode("utf-8", "surrogateescape"))


@command("client|unpause")
def client_unpause(c, argv):
    c.server.unpause_clients()
    return OK


@command("client|pause")
def client_pause(c, argv):
    if len(argv) > 4:
        raise _subcommand_syntax_error(argv)
    ptype = 2
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            ptype = 1
        elif mode != b"all":
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    ms = parse_ll(argv[2])
    if ms is None:
        raise CommandError("ERR timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    if ms > 0:
        # as in C, an end beyond LLONG_MAX wraps into the past: the pause is over at once
        ms += c.server.time_ms()
        if ms > LLONG_MAX:
            ms -= 1 << 64
    c.server.pause_clients(ms, ptype)
    return OK


@command("client|getredir")
def client_getredir(c, argv):
    ts = c.tracking
    return NEG_ONE if ts is None else integer(ts.redirect)


@command("client|trackinginfo")
def client_trackinginfo(c, argv):
    return c.server.tracking.info_reply(c)


@command("client|tracking")
def client_tracking(c, argv):
    """CLIENT TRACKING (ON|OFF) [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT]
    [NOLOOP] (networking.c clientCommand)."""
    srv = c.server
    redir = 0
    bcast = optin = optout = noloop = False
    prefixes = []
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = j < n - 1
        if opt == b"redirect" and more:
            j += 1
            if redir != 0:
                raise CommandError("ERR A client can only redirect to a single other client")
            v = parse_ll(argv[j])
            if v is None:
                raise CommandError(NOT_INTEGER)
            redir = v
            if srv.clients.get(redir) is None:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            raise CommandError(SYNTAX)
        j += 1
    mode = argv[2].lower()
    t = srv.tracking
    if mode == b"on":
        if not bcast and prefixes:
            raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
        ts = c.tracking
        if ts is not None and ts.bcast != bcast:
            raise CommandError("ERR You can't switch BCAST mode on/off before disabling "
                               "tracking for this client, and then re-enabling it with "
                               "a different mode.")
        if bcast and (optin or optout):
            raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
        if optin and optout:
            raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
        if ts is not None and ((optin and ts.optout) or (optout and ts.optin)):
            raise CommandError("ERR You can't switch OPTIN/OPTOUT mode before disabling "
                               "tracking for this client, and then re-enabling it with "
                               "a different mode.")
        if bcast:
            msg = t.collisions(c, prefixes)
            if msg is not None:
                raise CommandError(msg)
        t.enable(c, redir, bcast, optin, optout, noloop, prefixes)
    elif mode == b"off":
        t.disable(c)
    else:
        raise CommandError(SYNTAX)
    return OK


@command("client|caching")
def client_caching(c, argv):
    ts = c.tracking
    if ts is None:
        raise CommandError("ERR CLIENT CACHING can be called only when the client is in "
                           "tracking mode with OPTIN or OPTOUT mode enabled")
    opt = argv[2].lower()
    if opt == b"yes":
        if not ts.optin:
            raise CommandError("ERR CLIENT CACHING YES is only valid when tracking is "
                               "enabled in OPTIN mode.")
    elif opt == b"no":
        if not ts.optout:
            raise CommandError("ERR CLIENT CACHING NO is only valid when tracking is "
                               "enabled in OPTOUT mode.")
    else:
        raise CommandError(SYNTAX)
    ts.caching = True
    return OK


from .. import tracking as _tracking  # noqa: E402
_tracking.install()
