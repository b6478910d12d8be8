"""Run redislet inside a Python process, e.g. in a test suite:

    with redislet.Server() as srv:          # port=0 picks a free port
        r = redis.Redis(port=srv.port)

Keyword arguments are config directives with '_' for '-' (e.g. save="", databases=4); a
list or tuple gives a directive of several arguments (rename_command=("flushdb", "")).
"""
import asyncio
import threading

from . import children
from .config import Config


def _reap_child(srv):
    """SHUTDOWN kills a saving child and leaves it to the exit (init reaps what a
    redis-server leaves); this process goes on, so it reaps the child itself."""
    pid = srv.child_pid
    if pid > 0:
        children.kill(pid)
        children.wait(pid)


def _new_loop():
    try:
        import uvloop
        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


class Server:
    def __init__(self, port=0, host="127.0.0.1", **config):
        self.host = host
        self._requested_port = port
        self._config = {"port": str(port), "bind": host, "save": ""}
        for k, v in config.items():
            if isinstance(v, bool):
                v = "yes" if v else "no"
            self._config[k.replace("_", "-")] = (
                [str(x) for x in v] if isinstance(v, (list, tuple)) else str(v))
        self.port = None
        self.server = None
        self._thread = None
        self._loop = None
        self._ready = threading.Event()
        self._error = None

    @property
    def url(self):
        return "redis://%s:%d" % (self.host, self.port)

    @property
    def password(self):
        """The requirepass it was started with (None without)."""
        return self._config.get("requirepass") or None

    def client(self, **kwargs):
        """A redis.Redis (redis-py) connected to this server."""
        import redis
        if self.password:
            kwargs.setdefault("password", self.password)
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def start(self):
        cfg = Config()
        from .acl import config_hooks
        from .commands import load_all
        from .commands.table import COMMANDS
        config_hooks(cfg)
        load_all()
        cfg.command_names = list(COMMANDS)     # validates rename-command
        args = []
        for k, v in self._config.items():
            args += ["--" + k, *v] if isinstance(v, list) else ["--" + k, v]
        cfg.load(None, args)
        from .server import RedisServer
        self.server = RedisServer(cfg)
        self._thread = threading.Thread(target=self._run, name="redislet", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        self.port = self.server.port
        return self

    def _run(self):
        loop = self._loop = _new_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.server.start(loop))
            # as the CLI does: load RDB/AOF, connect to a master... (a fatal start-up
            # error raises SystemExit here and is re-raised in the starting thread)
            from .cli import startup_hooks
            for hook in startup_hooks:
                hook(self.server)
            loop.run_until_complete(self.server.begin_serving())
        except BaseException as e:  # noqa: BLE001 - reported to the starting thread
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_until_complete(self.server.stopped)
        _reap_child(self.server)
        # let transports finish closing
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    def stop(self):
        if self._loop is None or self._thread is None:
            return
        srv = self.server
        if not srv.stopped.done():
            self._loop.call_soon_threadsafe(lambda: srv.shutdown(save=False, now=True,
                                                                 force=True))
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
