"""The compiled build: modules that setup.py compiles with Cython where it can (Cython and
a C compiler present), each from its own .py, typed by the .pxd beside it. The .py stays
the one source and the fallback: without a build, or with REDISLET_PURE=1 in the
environment (to test the fallback), or, in a source checkout, when a .py is newer than
its extension (edited since the build), the .py is imported. INFO server's
`redislet_compiled` lists the compiled modules in use. Nothing here imports the rest of
the package (setup.py reads it).
"""
import os
import sys

# only loops over bytes and lists that profiles showed the interpreter is the cost of
COMPILED = (
    "redislet.persistence.encodings",    # listpacks and RDB string records (load/save)
    "redislet.scan",                     # SCAN's snapshot of a big collection
    "redislet.commands.table",
    "redislet.client",
    "redislet.server",
    "redislet.db",
    "redislet.resp.parser",
    "redislet.commands.strings",
    "redislet.commands.lists",
    "redislet.commands.sets",
    "redislet.commands.hashes",
    "redislet.commands.zsets",
    "redislet.commands.streams",
    "redislet.types.zset",
    "redislet.types.stream",
)


class _SourceFinder:
    """A meta-path finder that imports a compiled module's .py instead of its extension
    when REDISLET_PURE is set or, in a source checkout (setup.py beside the package: an
    editable install), the extension is older than the .py. An installed wheel writes
    both at once, so there the extension is always taken."""

    def __init__(self, pure):
        self.pure = pure
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.checkout = os.path.exists(os.path.join(root, "setup.py"))

    def find_spec(self, name, path, target=None):
        if name not in COMPILED or not path:
            return None
        from importlib.machinery import EXTENSION_SUFFIXES
        from importlib.util import spec_from_file_location
        leaf = name.rpartition(".")[2]
        for entry in path:
            src = os.path.join(entry, leaf + ".py")
            if not os.path.exists(src):
                continue
            exts = [os.path.join(entry, leaf + s) for s in EXTENSION_SUFFIXES]
            exts = [e for e in exts if os.path.exists(e)]
            if not exts:
                return None
            if self.pure or (self.checkout and os.path.getmtime(src)
                             > max(map(os.path.getmtime, exts))):
                return spec_from_file_location(name, src)
            return None
        return None


def install_finder():
    if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder(bool(os.environ.get("REDISLET_PURE"))))


def compiled_in_use():
    """The modules of COMPILED that run as extensions (names without "redislet.")."""
    from importlib import import_module
    return [name.partition(".")[2] for name in COMPILED
            if not import_module(name).__file__.endswith(".py")]
