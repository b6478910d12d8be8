"""Sentinel mode: `redislet-server sentinel.conf --sentinel` or `redislet-sentinel
sentinel.conf`, as Redis 7.0.15 runs Sentinel inside redis-server.

core.py is the Sentinel itself (sentinel.c), link.py its outbound RESP connections,
commands.py the reduced command table with SENTINEL, INFO, ROLE and PUBLISH.
"""
import asyncio
import os
import sys

from .. import REDIS_VERSION, __version__

REDIS_SENTINEL_PORT = 26379


def is_sentinel_mode(argv0, argv):
    """checkForSentinelMode: the program name contains redis-sentinel (here also
    redislet-sentinel), or an argument is exactly --sentinel."""
    name = os.path.basename(argv0 or "")
    if "redis-sentinel" in name or "redislet-sentinel" in name:
        return True
    return "--sentinel" in argv


def console_main():
    """The redislet-sentinel console script."""
    sys.exit(main(sys.argv[1:]))


def main(argv):
    """argv: redis-server's arguments (config file first, then options); returns the exit
    status."""
    from ..cli import load_config
    from .core import Sentinel
    sentinel = Sentinel(None)

    def prepare(cfg):
        # initSentinelConfig: sentinel defaults before the config file is read
        cfg.values["port"] = REDIS_SENTINEL_PORT
        cfg.values["protected-mode"] = False
        cfg.sentinel_queue = lambda args, where: sentinel.queue_config(
            [a.decode("utf-8", "surrogateescape") for a in args], where[0],
            where[1].decode("utf-8", "surrogateescape"))
        cfg.sentinel_rewrite = sentinel.rewrite_config

    loaded = load_config(list(argv), prepare, role="X")
    if isinstance(loaded, int):
        return loaded
    cfg, _conf = loaded
    err = sentinel.load_config_queue()
    if err is not None:
        linenum, line, msg = err
        sys.stderr.write("\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n"
                         "Reading the configuration file, at line %d\n>>> '%s'\n%s\n"
                         % (REDIS_VERSION, linenum, line, msg))
        return 1
    # sentinelCheckConfigFile
    if cfg.config_file is None:
        _early_log("Sentinel needs config file on disk to save state. Exiting...")
        return 1
    if not os.access(cfg.config_file, os.W_OK):
        _early_log("Sentinel config file %s is not writable: %s. Exiting..."
                   % (cfg.config_file, os.strerror(13)))
        return 1
    cfg.values["save"] = []      # a Sentinel never writes an RDB
    return run(cfg, sentinel)


def _early_log(msg):
    from ..cli import early_log
    early_log(msg, "X")

def run(cfg, sentinel):
    from ..server import RedisServer, LOG_LEVELS
    from ..commands import load_all
    from .. import cli
    from . import commands as scmd
    load_all()
    scmd.install_table()
    try:
        import uvloop
        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = RedisServer(cfg)
    srv.sentinel = sentinel
    srv.sentinel_mode = True
    sentinel.srv = srv
    marks = ".-*#"

    def log(level, msg, _srv=srv):
        lv = LOG_LEVELS[level]
        if lv < LOG_LEVELS[_srv.config.values["loglevel"]]:
            return
        import time
        t = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(t))
        _srv.log_raw("%d:X %s.%03d %s %s\n" % (os.getpid(), stamp, int(t * 1000) % 1000,
                                               marks[min(lv, 3)], msg))
    srv.log = log
    pid = os.getpid()
    srv.log("warning", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
    srv.log("warning", "Redis version=%s, bits=64, commit=00000000, modified=0, pid=%d, "
            "just started (redislet %s)" % (REDIS_VERSION, pid, __version__))
    srv.log("warning", "Configuration loaded")
    try:
        loop.run_until_complete(srv.start(loop))
    except OSError as e:
        srv.log("warning", str(e))
        srv.log("warning", "Failed listening on port %d (TCP), aborting."
                % cfg.values["port"])
        return 1
    v = cfg.values
    port = srv.port or v["port"] or v["tls-port"]
    if v["always-show-logo"] or (not v["logfile"] and sys.stdout.isatty()):
        srv.log_raw(cli._LOGO % (REDIS_VERSION, "00000000", 0, "64", "sentinel", port, pid))
    else:
        srv.log("notice", "Running mode=sentinel, port=%d." % port)
    srv.install_signal_handlers()
    loop.run_until_complete(srv.begin_serving())
    # sentinelIsRunning
    if not sentinel.myid:
        sentinel.myid = os.urandom(20).hex()
        sentinel.flush_config()
    srv.log("warning", "Sentinel ID is %s" % sentinel.myid)
    sentinel.generate_initial_monitor_events()
    sentinel.start(loop)
    srv.shutdown_hooks.insert(0, lambda _srv, save, force: sentinel.shutdown())
    cli._watch_parent(srv, loop)
    try:
        loop.run_until_complete(srv.stopped)
    except KeyboardInterrupt:
        srv.shutdown(save=None, now=True)
    return getattr(srv, "exit_code", 0)
