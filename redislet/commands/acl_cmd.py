"""ACL command (acl.c aclCommand) and the ACL subsystem's server set-up."""
import os

from .table import command, COMMANDS, ACL_CATEGORIES, all_commands
from .help import help_reply
from .. import hooks
from ..acl import (Acl, DENIED_CMD, DENIED_KEY, DENIED_CHANNEL, DENIED_AUTH, USER_FLAGS,
                   F_ALLKEYS, F_ALLCHANNELS, OK_, _has_spaces, _dec, _enc, _cs, _cstr,
                   config_hooks)
from ..errors import CommandError, NOT_INTEGER
from ..resp.encode import OK, bulk, integer, array, array_raw
from ..util import parse_ll

REDACTED = b"(redacted)"
NO_ACLFILE = ("ERR This Redis instance is not configured to use an ACL file. You may want to "
              "specify users via the ACL SETUSER command and then issue a CONFIG REWRITE "
              "(assuming you have a Redis configuration file set) in order to store users in "
              "the Redis configuration.")
_REASONS = {DENIED_CMD: b"command", DENIED_KEY: b"key", DENIED_CHANNEL: b"channel",
            DENIED_AUTH: b"auth"}


def _syntax(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                        "Try %s HELP." % (_dec(argv[1]), _dec(argv[0]).upper()))


def _err(msg):
    return CommandError("ERR " + msg)


@command("acl|setuser")
def acl_setuser(c, argv):
    args = argv[:]
    for j in range(2, len(argv)):      # redactClientCommandArgument (SLOWLOG)
        argv[j] = REDACTED
    name = args[2]
    if _has_spaces(name):
        raise _err("Usernames can't contain spaces or null characters")
    err = c.server.acl.set_user(_dec(name), args[3:])
    if err is not None:
        raise _err(err)
    return OK


@command("acl|deluser")
def acl_deluser(c, argv):
    acl = c.server.acl
    for name in argv[2:]:
        if name == b"default":
            raise _err("The 'default' user cannot be removed")
    deleted = 0
    for name in argv[2:]:
        if acl.delete_user(_dec(name), current=c):
            deleted += 1
    return integer(deleted)


def _selector_fields(s):
    if s.flags & F_ALLKEYS:
        keys = b"~*"
    else:
        keys = s.describe_keys()
    if s.flags & F_ALLCHANNELS:
        channels = b"&*"
    else:
        channels = s.describe_channels()
    return [(bulk(b"commands"), bulk(s.describe_commands())), (bulk(b"keys"), bulk(keys)),
            (bulk(b"channels"), bulk(channels))]


@command("acl|getuser")
def acl_getuser(c, argv):
    u = c.server.acl.get_user(argv[2])
    r = c.r
    if u is None:
        return r.null
    flags = [name for name, f in USER_FLAGS if u.flags & f]
    pairs = [(bulk(b"flags"), r.set_header(len(flags)) + b"".join(bulk(f) for f in flags)),
             (bulk(b"passwords"), array(u.passwords))]
    pairs.extend(_selector_fields(u.root))
    sels = [r.map(_selector_fields(s)) for s in u.selectors[1:]]
    pairs.append((bulk(b"selectors"), array_raw(sels)))
    return r.map(pairs)


@command("acl|list")
def acl_list(c, argv):
    return array([b"user " + _enc(u.name) + b" " + u.describe()
                  for u in c.server.acl.sorted_users()])


@command("acl|users")
def acl_users(c, argv):
    return array([_enc(u.name) for u in c.server.acl.sorted_users()])


@command("acl|whoami")
def acl_whoami(c, argv):
    return bulk(_enc(c.user))


def _aclfile(c):
    path = c.server.config.values["aclfile"]
    if not path:
        raise CommandError(NO_ACLFILE)
    return path


@command("acl|load")
def acl_load(c, argv):
    err = c.server.acl.load_file(_aclfile(c), current=c)
    if err is not None:
        raise _err(err)
    return OK


@command("acl|save")
def acl_save(c, argv):
    if not c.server.acl.save_file(_aclfile(c)):
        raise _err("There was an error trying to save the ACLs. Please check the server "
                   "logs for more information")
    return OK


@command("acl|cat")
def acl_cat(c, argv):
    if len(argv) == 2:
        return array([cat.encode() for cat in ACL_CATEGORIES])
    if len(argv) != 3:
        raise _syntax(argv)
    try:
        cat = argv[2].decode().lower()
    except UnicodeDecodeError:
        cat = None
    if cat not in ACL_CATEGORIES:
        raise _err("Unknown category '%.128s'" % _cs(argv[2]))
    return array([cmd.fullname.encode() for cmd in all_commands() if cat in cmd.acl])


@command("acl|genpass")
def acl_genpass(c, argv):
    if len(argv) > 3:
        raise _syntax(argv)
    bits = 256
    if len(argv) == 3:
        bits = parse_ll(argv[2])
        if bits is None:
            raise CommandError(NOT_INTEGER)
    if bits <= 0 or bits > 4096:
        raise _err("ACL GENPASS argument must be the number of bits for the output "
                   "password, a positive number up to 4096")
    chars = (bits + 3) // 4
    return bulk(os.urandom((chars + 1) // 2).hex()[:chars].encode())


@command("acl|log")
def acl_log(c, argv):
    if len(argv) > 3:
        raise _syntax(argv)
    acl = c.server.acl
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.clear()
            return OK
        count = parse_ll(argv[2])
        if count is None:
            raise CommandError(NOT_INTEGER)
        count = max(count, 0)
    entries = list(acl.log)[:count]
    import time
    now = int(time.time() * 1000)
    r = c.r
    out = []
    for e in entries:
        out.append(r.map([
            (bulk(b"count"), integer(e["count"])),
            (bulk(b"reason"), bulk(_REASONS.get(e["reason"], b"unknown"))),
            (bulk(b"context"), bulk(e["context"].encode())),
            (bulk(b"object"), bulk(e["object"])),
            (bulk(b"username"), bulk(e["username"])),
            (bulk(b"age-seconds"), r.double((now - e["ctime"]) / 1000.0)),
            (bulk(b"client-info"), bulk(e["cinfo"])),
        ]))
    return array_raw(out)


@command("acl|dryrun")
def acl_dryrun(c, argv):
    acl = c.server.acl
    u = acl.get_user(argv[2])
    if u is None:
        raise _err("User '%s' not found" % _cs(argv[2]))
    args = argv[3:]
    cmd = COMMANDS.get(args[0].lower())
    if cmd is not None and cmd.subcommands is not None and len(args) > 1:
        cmd = cmd.subcommands.get(args[1].lower())
    if cmd is None:
        raise _err("Command '%s' not found" % _cs(args[0]))
    a = cmd.arity
    if (a > 0 and a != len(args)) or len(args) < -a:
        raise _err("wrong number of arguments for '%s' command" % cmd.fullname)
    reason, pos = u.check(cmd, args)
    if reason == OK_:
        return OK
    if reason == DENIED_CMD:
        msg = b"This user has no permissions to run the '%s' command" % cmd.fullname.encode()
    elif reason == DENIED_KEY:
        msg = b"This user has no permissions to access the '%s' key" % _cstr(args[pos])
    else:
        msg = b"This user has no permissions to access the '%s' channel" % _cstr(args[pos])
    return bulk(msg)


@command("acl|help")
def acl_help(c, argv):
    return help_reply(argv, [
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the "
        "command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
    ])


# ---------------------------------------------------------------------------------------
# server set-up
# ---------------------------------------------------------------------------------------
def _fatal(srv, msg):
    srv.log("warning", msg)
    raise SystemExit(1)


def _install(srv):
    cfg = srv.config
    acl = srv.acl = Acl(srv)
    v = cfg.values
    if v["requirepass"]:
        acl.set_default_password(v["requirepass"])
    acl.update_restricted(acl.default)

    def on_requirepass(value):
        acl.set_default_password(value)
        acl.user_changed(acl.default)

    cfg.on_change("requirepass", on_requirepass)
    cfg.acl_rewrite_lines = acl.rewrite_lines
    if cfg.user_validator is None:
        config_hooks(cfg)
    # ACLLoadUsersAtStartup
    if v["aclfile"] and cfg.user_directive_args:
        _fatal(srv, "Configuring Redis with users defined in redis.conf and at the same "
               "setting an ACL file path is invalid. This setup is very likely to lead to "
               "configuration errors and security holes, please define either an ACL file "
               "or declare users directly in your redis.conf, but not both.")
    err = acl.load_configured_users(cfg.user_directive_args)
    if err is not None:
        srv.log("warning", err)
        _fatal(srv, "Critical error while loading ACLs. Exiting.")
    if v["aclfile"]:
        err = acl.load_file(v["aclfile"])
        if err is not None:
            _fatal(srv, "Aborting Redis startup because of ACL errors: %s" % err)
    srv.update_checks()


hooks.server_init.append(_install)
