"""setuptools build: the package, plus the modules of redislet/_build.py's COMPILED
compiled by Cython from their own .py (typed by the .pxd beside each) where Cython and a C
compiler are available. Anything missing or failing leaves a pure-Python install, which
runs the same code; REDISLET_PURE_BUILD=1 asks for that explicitly."""
import os
import runpy

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def _extensions():
    if os.environ.get("REDISLET_PURE_BUILD"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("redislet: Cython is not available, installing the pure-Python modules only")
        return []
    names = runpy.run_path(os.path.join(HERE, "redislet", "_build.py"))["COMPILED"]
    sources = [n.replace(".", "/") + ".py" for n in names]
    try:
        exts = cythonize(sources, language_level=3, build_dir="build/cython", quiet=True,
                         compiler_directives={"binding": True})
        for e in exts:
            e.extra_compile_args.append("-g0")      # no debug info: a third less build time
        return exts
    except Exception as e:      # noqa: BLE001 - a failed translation means pure Python
        print("redislet: Cython could not translate the modules (%s); installing the "
              "pure-Python modules only" % e)
        return []


class OptionalBuildExt(build_ext):
    """A compile error (no compiler, no Python headers) is reported, not fatal. The
    extensions compile in parallel (one per core)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def run(self):
        try:
            super().run()
        except Exception as e:      # noqa: BLE001 - any build failure means pure Python
            print("redislet: compiled modules not built (%s); using pure Python" % e)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:      # noqa: BLE001
            print("redislet: %s not compiled (%s); using its .py" % (ext.name, e))


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
