"""CLUSTER, READONLY, READWRITE, ASKING as a standalone Redis 7.0 answers them.

redislet has no cluster mode: every CLUSTER subcommand (after the usual lookup and arity
checks of its own entry) and the three client-mode commands reply cluster.c's error for an
instance with cluster support disabled.
"""
from .table import command, SPEC
from ..errors import CommandError

DISABLED = "ERR This instance has cluster support disabled"


def _disabled(c, argv):
    raise CommandError(DISABLED)


for _name in [n for n in SPEC if n.startswith("cluster|")] + ["readonly", "readwrite", "asking"]:
    command(_name)(_disabled)
