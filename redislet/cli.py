"""redislet-server [/path/to/redis.conf] [--directive value ...], as redis-server."""
import asyncio
import os
import sys

from . import REDIS_VERSION, __version__

USAGE = """Usage: ./redislet-server [/path/to/redis.conf] [options] [-]
       ./redislet-server - (read config from stdin)
       ./redislet-server -v or --version
       ./redislet-server -h or --help

Examples:
       ./redislet-server (run the server with default conf)
       ./redislet-server /etc/redis/6379.conf
       ./redislet-server --port 7777
       ./redislet-server --port 7777 --replicaof 127.0.0.1 8888
       ./redislet-server /etc/myredis.conf --loglevel verbose -
       ./redislet-server /etc/myredis.conf --loglevel verbose
"""


def main(argv=None):
    argv0 = sys.argv[0] if argv is None else ""
    argv = list(sys.argv[1:] if argv is None else argv)
    from .sentinel import is_sentinel_mode
    if is_sentinel_mode(argv0, argv):       # --sentinel: redislet/sentinel
        from .sentinel import main as sentinel_main
        return sentinel_main(argv)
    loaded = load_config(argv)
    if isinstance(loaded, int):
        return loaded
    cfg, conf = loaded
    return run(cfg, conf)


def load_config(argv, prepare=None, role="C"):
    """redis-server's command line: -v/-h, an optional config file, --options, and '-' for
    more config on stdin. prepare(cfg) runs before anything is read (sentinel defaults).
    Returns (cfg, config file) or, when there is nothing to run, the exit status."""
    if argv and argv[0] in ("-v", "--version"):
        print("Redis server v=%s sha=00000000:0 malloc=libc bits=64 build=redislet-%s"
              % (REDIS_VERSION, __version__))
        return 0
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    conf = None
    if argv and not argv[0].startswith("-"):
        conf = argv.pop(0)
    from .config import Config, FatalConfigError
    cfg = Config()
    if prepare is not None:
        prepare(cfg)
    from .acl import config_hooks
    config_hooks(cfg)           # `user` directives are validated while loading
    if role == "C":             # rename-command checks its names against the table
        from .commands import load_all
        from .commands.table import COMMANDS
        load_all()
        cfg.command_names = list(COMMANDS)
    try:
        if argv and argv[-1] == "-":
            argv.pop()
            stdin_conf = sys.stdin.read()
            cfg.load(conf, argv, extra_text=stdin_conf)
        else:
            cfg.load(conf, argv)
    except FatalConfigError as e:
        if getattr(e, "log", False):
            # redis-server logs these ("Fatal error, can't open config file ...") on stdout
            early_log(str(e), role)
        else:
            sys.stderr.write(str(e))
        return 1
    return cfg, conf


def early_log(msg, role="C"):
    """serverLog before the server exists (role C; X for a sentinel), on stdout."""
    import time
    t = time.time()
    sys.stdout.write("%d:%s %s.%03d # %s\n" % (
        os.getpid(), role, time.strftime("%d %b %Y %H:%M:%S", time.localtime(t)),
        int(t * 1000) % 1000, msg))
    sys.stdout.flush()


def run(cfg, conf_path=None):
    from .server import RedisServer
    from .commands import load_all
    from . import gcpolicy
    load_all()
    try:
        import uvloop
        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = RedisServer(cfg)
    gcpolicy.install(srv)
    pid = os.getpid()
    srv.log("warning", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
    srv.log("warning", "Redis version=%s, bits=64, commit=00000000, modified=0, pid=%d, "
            "just started (redislet %s)" % (REDIS_VERSION, pid, __version__))
    if conf_path is None:
        srv.log("warning", "Warning: no config file specified, using the default config. "
                "In order to specify a config file use redislet-server /path/to/redis.conf")
    else:
        srv.log("warning", "Configuration loaded")
    try:
        loop.run_until_complete(srv.start(loop))
    except OSError as e:
        srv.log("warning", str(e))
        srv.log("warning", "Failed listening on port %d (TCP), aborting."
                % cfg.values["port"])
        return 1
    _ascii_art(srv)
    srv.install_signal_handlers()
    srv.log("warning", "Server initialized")
    for hook in startup_hooks:
        hook(srv)
    from .oom import set_oom_score_adj
    set_oom_score_adj(srv)
    loop.run_until_complete(srv.begin_serving())
    srv.log("notice", "Ready to accept connections")
    _watch_parent(srv, loop)
    try:
        loop.run_until_complete(srv.stopped)
    except KeyboardInterrupt:
        srv.shutdown(save=None, now=True)     # the loop is gone: no waiting for replicas
    return getattr(srv, "exit_code", 0)


_LOGO = (
    "                _._                                                  \n"
    "           _.-``__ ''-._                                             \n"
    "      _.-``    `.  `_.  ''-._           Redis %s (%s/%d) %s bit\n"
    "  .-`` .-```.  ```\\/    _.,_ ''-._                                  \n"
    " (    '      ,       .-`  | `,    )     Running in %s mode\n"
    " |`-._`-...-` __...-.``-._|'` _.-'|     Port: %d\n"
    " |    `-._   `._    /     _.-'    |     PID: %ld\n"
    "  `-._    `-._  `-./  _.-'    _.-'                                   \n"
    " |`-._`-._    `-.__.-'    _.-'_.-'|                                  \n"
    " |    `-._`-._        _.-'_.-'    |           https://redis.io       \n"
    "  `-._    `-._`-.__.-'_.-'    _.-'                                   \n"
    " |`-._`-._    `-.__.-'    _.-'_.-'|                                  \n"
    " |    `-._`-._        _.-'_.-'    |                                  \n"
    "  `-._    `-._`-.__.-'_.-'    _.-'                                   \n"
    "      `-._    `-.__.-'    _.-'                                       \n"
    "          `-._        _.-'                                           \n"
    "              `-.__.-'                                               \n\n")


def _ascii_art(srv):
    """redisAsciiArt: the logo (always-show-logo, or a terminal), else one line. Test
    harnesses (Redis's own suite) find the server's PID in the logo."""
    v = srv.config.values
    port = v["port"] or v["tls-port"]
    port = srv.port or port
    logfile = v["logfile"]
    if not (v["always-show-logo"] or (not logfile and sys.stdout.isatty())):
        srv.log("notice", "Running mode=%s, port=%d." % (_mode(srv), port))
        return
    if LOG_LEVEL_NOTICE < _level(v["loglevel"]):
        return
    srv.log_raw(_LOGO % (REDIS_VERSION, "00000000", 0, "64", _mode(srv), port, os.getpid()))


def _mode(srv):
    return "cluster" if srv.config.values["cluster-enabled"] else "standalone"


LOG_LEVEL_NOTICE = 2


def _level(name):
    from .server import LOG_LEVELS
    return LOG_LEVELS.get(name, 2)


startup_hooks = []   # persistence loads data here, replication connects to its master


def _watch_parent(srv, loop):
    """REDISLET_PARENT_PID=pid (set by redislet.Cluster for its nodes): shut down when
    that process is gone, so that a test run killed with SIGKILL leaves no servers."""
    pid = os.environ.get("REDISLET_PARENT_PID")
    if not pid or not pid.isdigit():
        return
    pid = int(pid)

    def check():
        if os.getppid() != pid:
            srv.log("warning", "The process that started this server (pid %d) is gone, "
                    "shutting down" % pid)
            srv.shutdown(save=False, now=True, force=True)
        else:
            loop.call_later(0.5, check)
    check()

