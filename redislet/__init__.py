"""redislet: a Redis-compatible server in Python."""
__version__ = "0.1.0"
REDIS_VERSION = "7.0.15"   # the Redis version whose behaviour redislet follows

from ._build import install_finder as _install_finder   # noqa: E402

_install_finder()            # which of a compiled module and its .py to import


def __getattr__(name):
    # `redislet.Server` (the embedding API) is imported lazily to keep start-up light
    if name == "Server":
        from .embed import Server
        return Server
    if name == "Cluster":
        from .launcher import Cluster
        return Cluster
    raise AttributeError(name)
