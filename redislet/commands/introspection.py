"""COMMAND and its subcommands: all answered from the command table."""
from .table import command, COMMANDS, all_commands, ACL_CATEGORIES
from .help import help_reply
from ..errors import CommandError, SYNTAX
from ..glob import compile_glob
from ..resp.encode import bulk, integer, array


def lookup_by_name(name, table=COMMANDS):
    """lookupCommandBySds: 'get' or 'config|get' (table: the server's commands)."""
    parts = name.lower().split(b"|")
    if len(parts) > 2:
        return None
    cmd = table.get(parts[0])
    if cmd is None:
        return None
    if len(parts) == 2:
        if not cmd.subcommands:
            return None
        return cmd.subcommands.get(parts[1])
    return cmd


@command("command")
def command_(c, argv):
    cmds = list(c.server.commands.values())
    return b"*%d\r\n" % len(cmds) + b"".join(x.info_reply(c.r) for x in cmds)


@command("command|count")
def command_count(c, argv):
    return integer(len(c.server.commands))


@command("command|info")
def command_info(c, argv):
    if len(argv) == 2:
        return command_(c, argv)
    out = [b"*%d\r\n" % (len(argv) - 2)]
    for name in argv[2:]:
        cmd = lookup_by_name(name, c.server.commands)
        out.append(c.r.null if cmd is None else cmd.info_reply(c.r))
    return b"".join(out)


@command("command|docs")
def command_docs(c, argv):
    if len(argv) == 2:
        cmds = list(c.server.commands.values())
    else:
        cmds = [x for x in (lookup_by_name(n, c.server.commands) for n in argv[2:])
                if x is not None]
    return c.r.map([(bulk(x.fullname.encode()), x.docs_reply(c.r)) for x in cmds])


@command("command|list")
def command_list(c, argv):
    pred = None
    i = 2
    while i < len(argv):
        more = len(argv) - 1 - i
        if argv[i].lower() == b"filterby" and more == 2:
            kind, arg = argv[i + 1].lower(), argv[i + 2]
            if kind == b"module":
                pred = lambda cmd: False        # no modules
            elif kind == b"aclcat":
                cat = arg.lower().decode("utf-8", "replace")
                pred = (lambda cmd: cat in cmd.acl) if cat in ACL_CATEGORIES else (
                    lambda cmd: False)
            elif kind == b"pattern":
                m = compile_glob(arg, True)
                pred = lambda cmd: m(cmd.fullname.encode())
            else:
                raise CommandError(SYNTAX)
            i += 3
        else:
            raise CommandError(SYNTAX)
    names = [x.fullname.encode() for x in all_commands() if pred is None or pred(x)]
    return array(names)


def _getkeys(c, argv, with_flags):
    cmd = lookup_cmd_argv(argv[2:], c.server.commands)
    if cmd is None:
        raise CommandError("ERR Invalid command specified")
    if not cmd.key_specs and cmd.getkeys is None:
        raise CommandError("ERR The command has no key arguments")
    a = cmd.arity
    n = len(argv) - 2
    if (a > 0 and a != n) or n < -a:
        raise CommandError("ERR Invalid number of arguments specified for command")
    pos = cmd.key_positions(argv[2:], with_flags=with_flags)
    if with_flags and pos and cmd.name in _VARIABLE_FLAGS:
        # key specs with VARIABLE_FLAGS: the flags come from the command's getkeys proc
        pos = [(pos[0][0], _VARIABLE_FLAGS[cmd.name](argv[2:]))]
    if not pos:
        if pos is not None or "no_mandatory_keys" in cmd.flags:
            if pos == [] or "no_mandatory_keys" in cmd.flags:
                return b"*0\r\n"
        raise CommandError("ERR Invalid arguments specified for command")
    sub = argv[2:]
    if not with_flags:
        return array([sub[p] for p in pos])
    from .table import _KEYFLAG_ORDER, _KEYFLAG_NAMES
    out = [b"*%d\r\n" % len(pos)]
    for p, flags in pos:
        fl = [_KEYFLAG_NAMES[f] for f in _KEYFLAG_ORDER if f in flags]
        out.append(b"*2\r\n" + bulk(sub[p]) + c.r.set_header(len(fl))
                   + b"".join(b"+%s\r\n" % f.encode() for f in fl))
    return b"".join(out)


def _set_key_flags(argv):
    """setGetKeys: SET ... GET reads the old value."""
    for a in argv[3:]:
        if a.lower() == b"get":
            return ["RW", "ACCESS", "UPDATE"]
    return ["OW", "UPDATE"]


def _bitfield_key_flags(argv):
    """bitfieldGetKeys: read-only unless a SET / INCRBY (or a syntax error) comes first."""
    i, n = 2, len(argv)
    while i < n:
        a = argv[i].lower()
        rem = n - i - 1
        if a == b"get" and rem >= 2:
            i += 3
        elif a in (b"set", b"incrby") and rem >= 3:
            return ["RW", "ACCESS", "UPDATE"]
        elif a == b"overflow" and rem >= 1:
            i += 2
        else:
            return ["RW", "ACCESS", "UPDATE"]
    return ["RO", "ACCESS"]


_VARIABLE_FLAGS = {"set": _set_key_flags, "bitfield": _bitfield_key_flags}


def lookup_cmd_argv(argv, table=COMMANDS):
    cmd = table.get(argv[0].lower())
    if cmd is not None and cmd.subcommands is not None:
        if len(argv) < 2:
            return cmd
        return cmd.subcommands.get(argv[1].lower())
    return cmd


@command("command|getkeys")
def command_getkeys(c, argv):
    return _getkeys(c, argv, False)


@command("command|getkeysandflags")
def command_getkeysandflags(c, argv):
    return _getkeys(c, argv, True)


@command("command|help")
def command_help(c, argv):
    return help_reply(argv, [
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
    ])
