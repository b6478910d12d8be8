"""MODULE (module.c moduleCommand).

redislet runs no native Redis modules, so no module is ever loaded: LIST is empty, LOAD
and LOADEX fail with Redis's reply (after the same checks and log lines as moduleLoad:
LOADEX argument syntax, execute permission, dlopen, the RedisModule_OnLoad symbol), and
UNLOAD finds no such module. LOAD, LOADEX and UNLOAD are protected commands, allowed by
enable-module-command (the dispatcher's check, client.py).
"""
import errno
import os
import stat

from .help import help_reply
from .table import command
from ..errors import CommandError
from ..resp.encode import EMPTY_ARRAY


def _load_ctypes():
    """_ctypes (for dlopen), imported at the first MODULE LOAD rather than at start-up."""
    try:
        import _ctypes
    except ImportError:  # pragma: no cover - CPython always has it
        return None
    return _ctypes


LOAD_ERROR = "ERR Error loading the extension. Please check the server logs."

_HELP = [
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and "
    "optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
]

# moduleUnload's errno -> the reply text (only ENOENT can happen: nothing is loaded)
_UNLOAD_ERRORS = {
    errno.ENOENT: "no such module with that name",
    errno.EBUSY: "the module exports one or more module-side data types, can't unload",
    errno.EPERM: "the module exports APIs used by other modules. Please unload them first "
                 "and try again",
    errno.EAGAIN: "the module has blocked clients. Please wait them unblocked and try again",
    errno.EINPROGRESS: "the module holds timer that is not fired. Please stop the timer or "
                       "wait until it fires.",
}


@command("module|help")
def module_help(c, argv):
    return help_reply(argv, _HELP)


@command("module|list")
def module_list(c, argv):
    return EMPTY_ARRAY     # addReplyLoadedModules with no module loaded


@command("module|load")
def module_load(c, argv):
    _module_load(c.server, argv[2])
    raise CommandError(LOAD_ERROR)


@command("module|loadex")
def module_loadex(c, argv):
    if _parse_loadex(c.server, argv[3:]):
        _module_load(c.server, argv[2])
    raise CommandError(LOAD_ERROR)


@command("module|unload")
def module_unload(c, argv):
    raise CommandError("ERR Error unloading module: %s" % _UNLOAD_ERRORS[errno.ENOENT])


def _parse_loadex(srv, args):
    """parseLoadexArguments: [CONFIG name value]... [ARGS ...]; False (logged) on bad
    syntax."""
    i = 0
    while i < len(args):
        a = args[i].lower()
        if a == b"config":
            if i + 2 >= len(args):
                srv.log("notice", "CONFIG specified without name value pair")
                return False
            i += 3
        elif a == b"args":
            return True
        else:
            srv.log("notice", "Syntax Error from arguments to loadex around %s."
                    % _cstr(args[i]))
            return False
    return True


def _module_load(srv, path_b):
    """moduleLoad up to the point where a module would initialise: log why it fails."""
    path = _cstr(path_b)
    fspath = os.fsencode(path)
    try:
        st = os.stat(fspath)
    except (OSError, ValueError):
        st = None
    if st is not None and not st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
        srv.log("warning", "Module %s failed to load: It does not have execute permissions."
                % path)
        return
    _ctypes = _load_ctypes()
    if _ctypes is None:
        srv.log("warning", "Module %s failed to load: modules are not supported by this "
                "server" % path)
        return
    # dlopen(path, RTLD_NOW|RTLD_LOCAL) as Redis does, for its error text and the
    # RedisModule_OnLoad check; the library is closed again either way
    try:
        handle = _ctypes.dlopen(fspath, os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as e:
        srv.log("warning", "Module %s failed to load: %s" % (path, e))
        return
    try:
        try:
            _ctypes.dlsym(handle, "RedisModule_OnLoad")
        except (OSError, AttributeError):
            srv.log("warning", "Module %s does not export RedisModule_OnLoad() symbol. "
                    "Module not loaded." % path)
            return
        srv.log("warning", "Module %s failed to load: modules are not supported by this "
                "server" % path)
    finally:
        try:
            _ctypes.dlclose(handle)
        except OSError:
            pass


def _cstr(b):
    """A C string argument: up to its first NUL."""
    return b.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
