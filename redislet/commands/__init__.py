"""Command families. Importing this package registers every command in the table."""
import importlib

FAMILIES = ["connection", "introspection", "server", "client", "config_cmd", "info",
            "keys", "strings", "lists", "hashes", "sets", "zsets", "geo", "streams",
            "transactions", "pubsub", "debug", "bitmaps", "hyperloglog", "scripting",
            "replication", "persistence", "acl_cmd", "sort", "aof_cmd", "memory", "migrate", "cluster",
            "lolwut", "module_cmd"]


def load_all():
    from .. import clientmem  # noqa: F401 - client memory, client eviction, clientsCron
    from .. import maxmemory  # noqa: F401 - registers the OOM check per server
    for name in FAMILIES:
        try:
            importlib.import_module(__name__ + "." + name)
        except ModuleNotFoundError as e:
            if e.name != __name__ + "." + name:
                raise
