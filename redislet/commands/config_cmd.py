"""CONFIG GET / SET / RESETSTAT / REWRITE / HELP (config.c), over redislet.config."""
from .. import oom  # noqa: F401 - registers the oom-score-adj apply (updateOOMScoreAdj)
from .table import command
from .help import help_reply
from ..config import ConfigError, lookup as config_lookup, SENSITIVE
from ..errors import CommandError, SYNTAX
from ..resp.encode import OK, bulk

REDACTED = b"(redacted)"


def is_local(c):
    """islocalClient: a unix socket or loopback connection."""
    if c.unix:
        return True
    a = c.addr
    return a.startswith("127.") or a.startswith("[::1]:")


@command("config|help")
def config_help(c, argv):
    return help_reply(argv, [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ])


@command("config|get")
def config_get(c, argv):
    pairs = c.server.config.config_get(argv[2:])
    enc = lambda s: s.encode("utf-8", "surrogateescape")
    return c.r.map([(bulk(enc(k)), bulk(enc(v))) for k, v in pairs])


@command("config|set")
def config_set(c, argv):
    if len(argv) & 1:
        raise CommandError(SYNTAX)
    srv = c.server
    orig = argv[:]
    # sensitive values (requirepass, masterauth...) never reach the slowlog / MONITOR
    for i in range(2, len(argv), 2):
        found = config_lookup(argv[i])
        if found is not None and found[0].flags & SENSITIVE:
            argv[i + 1] = REDACTED
    pairs = [(orig[i], orig[i + 1]) for i in range(2, len(orig), 2)]
    try:
        srv.config.config_set(pairs, is_local=is_local(c), loading=srv.loading or getattr(srv, "async_loading", False))
    except ConfigError as e:
        raise CommandError(str(e)) from None
    return OK


@command("config|resetstat")
def config_resetstat(c, argv):
    """resetServerStats + resetCommandTableStats + resetErrorTableStats."""
    c.server.reset_stats()
    for hook in resetstat_hooks:
        hook(c.server)
    return OK


@command("config|rewrite")
def config_rewrite(c, argv):
    srv = c.server
    cfg = srv.config
    if cfg.config_file is None:
        raise CommandError("ERR The server is running without a config file")
    try:
        cfg.rewrite(cfg.config_file)
    except ConfigError as e:
        srv.log("warning", "CONFIG REWRITE failed: %s" % str(e).split(": ", 1)[-1])
        raise CommandError("ERR %s" % e) from None
    srv.log("warning", "CONFIG REWRITE executed with success.")
    return OK


# other families reset their own statistics on CONFIG RESETSTAT (e.g. persistence counters)
resetstat_hooks = []
