"""The compiled build: modules that setup.py compiles with Cython where it can (Cython and
a C compiler present), each from its own .py, typed by the .pxd beside it. The .py stays
the one source and the fallback: without a build, or with REDISLET_PURE=1 in the
environment (to test the fallback), or, in a source checkout, when any .py or .pxd is
newer than its extension (edited since the build), every .py is imported. INFO server's
`redislet_compiled` lists the compiled modules in use. Nothing here imports the rest of
the package (setup.py reads it).

Two kinds of typing (docs/ARCHITECTURE.md, "The compiled build"): the request path's
objects (Client, RedisServer, Database, Command, RequestParser, the zset and stream
values) are extension types whose hot fields the .pxd declares as C struct fields (the
rest stay in an instance __dict__ where the class has one); the handler modules name
those types in annotations (`c: Client`, `db: Database`), which Cython reads as C types
and Python ignores (`from __future__ import annotations`).
"""
import os
import sys

# what profiles showed the interpreter is the cost of
COMPILED = (
    "redislet.persistence.encodings",    # listpacks and RDB string records (load/save)
    "redislet.persistence.rdb",          # RDB records: one call per key and container
    "redislet.scan",                     # SCAN's snapshot of a big collection
    # the request path: dispatcher, parser, keyspace, command table
    "redislet.commands.table",
    "redislet.client",
    "redislet.server",
    "redislet.db",
    "redislet.resp.parser",
    "redislet.resp.encode",
    # the benchmarked command families and their values
    "redislet.commands.strings",
    "redislet.commands.lists",
    "redislet.commands.sets",
    "redislet.commands.hashes",
    "redislet.commands.zsets",
    "redislet.commands.streams",
    "redislet.commands.pubsub",
    "redislet.cluster.redirect",         # the cluster-mode client's dispatcher
    "redislet.replication.replica",      # a replica's loop over its master's stream
    "redislet.replication.master",       # a master's stream: every write is fed to it
    "redislet.scripting.engine",
    "redislet.scripting.eval",
    "redislet.types.zset",
    "redislet.types.sortedkeys",
    "redislet.types.stream",
)


class _SourceFinder:
    """A meta-path finder that imports the .py of every compiled module instead of its
    extension when REDISLET_PURE is set or, in a source checkout (setup.py beside the
    package: an editable install), when any of the extensions is missing or older than
    its .py or .pxd (edited since the build). All or none: the compiled modules share
    their extension types (a .pxd cimports another's), so a mix cannot import. An
    installed wheel writes all at once, so there the extensions are always taken."""

    def __init__(self, pure):
        pkg = os.path.dirname(os.path.abspath(__file__))
        checkout = os.path.exists(os.path.join(os.path.dirname(pkg), "setup.py"))
        self.pure = pure or (checkout and _stale(pkg))

    def find_spec(self, name, path, target=None):
        if not self.pure or name not in COMPILED or not path:
            return None
        from importlib.util import spec_from_file_location
        leaf = name.rpartition(".")[2]
        for entry in path:
            src = os.path.join(entry, leaf + ".py")
            if os.path.exists(src):
                return spec_from_file_location(name, src)
        return None


def _stale(pkg):
    """Some compiled module has no extension, or one older than its .py or .pxd."""
    from importlib.machinery import EXTENSION_SUFFIXES
    for name in COMPILED:
        base = os.path.join(os.path.dirname(pkg), *name.split("."))
        exts = [base + s for s in EXTENSION_SUFFIXES if os.path.exists(base + s)]
        if not exts:
            return True
        built = max(map(os.path.getmtime, exts))
        if any(os.path.exists(base + s) and os.path.getmtime(base + s) > built
               for s in (".py", ".pxd")):
            return True
    return False


def install_finder():
    if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder(bool(os.environ.get("REDISLET_PURE"))))


def compiled_in_use():
    """The modules of COMPILED that run as extensions (names without "redislet.")."""
    from importlib import import_module
    return [name.partition(".")[2] for name in COMPILED
            if not import_module(name).__file__.endswith(".py")]
