"""The command table: the single source of truth for every command.

Interface facts (arity, flags, ACL categories, key specs, docs) come from redis_spec.json,
generated from Redis 7.0.15's command descriptions by tools/gen_command_spec.py. A handler
binds to its entry with the @command decorator, next to its code:

    @command("get")
    def get(c, argv): ...

Only commands with a handler exist for the dispatcher, COMMAND and ACL CAT. Containers
(CONFIG, CLIENT...) exist when one of their subcommands has a handler.
"""
import json
import os

from ..resp.encode import integer, bulk, array
from ..util import parse_ll

_SPEC_PATH = os.path.join(os.path.dirname(__file__), "redis_spec.json")
with open(_SPEC_PATH) as _f:
    SPEC = json.load(_f)

COMMANDS = {}   # lower-case name (bytes) -> Command, top level only
DISPATCH = {}   # COMMANDS under both lower- and upper-case names: most lookups skip lower()
LAT_SMALL = 32

# flag order as COMMAND INFO lists them (server.c addReplyFlagsForCommand)
_FLAG_ORDER = ["write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
               "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
               "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi",
               "movablekeys", "allow_busy"]
_KEYFLAG_ORDER = ["RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY",
                  "INCOMPLETE", "VARIABLE_FLAGS"]
_KEYFLAG_NAMES = {"RO": "RO", "RW": "RW", "OW": "OW", "RM": "RM", "ACCESS": "access",
                  "UPDATE": "update", "INSERT": "insert", "DELETE": "delete",
                  "NOT_KEY": "not_key", "INCOMPLETE": "incomplete",
                  "VARIABLE_FLAGS": "variable_flags"}
# ACL categories in server.h order (ACL CAT lists them in this order)
ACL_CATEGORIES = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
                  "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
                  "blocking", "dangerous", "connection", "transaction", "scripting"]


class Command:
    __slots__ = ("name", "fullname", "bname", "handler", "arity", "flags", "acl", "key_specs",
                 "tips", "spec", "subcommands", "parent", "getkeys", "first_key", "last_key",
                 "key_step", "movablekeys", "is_write", "is_readonly", "denyoom", "no_auth",
                 "no_multi", "stale", "loading", "pubsub", "admin", "noscript", "blocking",
                 "may_replicate", "allow_busy", "skip_monitor", "skip_slowlog", "fast",
                 "calls", "usec", "rejected_calls", "failed_calls", "protected", "lat", "lat_big",
                 "needs_check", "cluster_kind")

    def __init__(self, fullname, spec, handler=None, getkeys=None):
        self.fullname = fullname
        self.name = fullname.split("|")[-1]
        self.bname = self.name.encode()
        self.handler = handler
        self.spec = spec
        self.arity = spec["arity"]
        flags = set(spec["flags"])
        self.protected = "protected" in flags
        # the dispatcher's fast path skips Client.check: containers (subcommand lookup) and
        # protected commands (enable-*-command) must not
        self.needs_check = self.protected
        self.cluster_kind = 3   # how a cluster node finds its keys (cluster/redirect.py)
        self.key_specs = spec.get("key_specs", [])
        self.tips = spec.get("tips", [])
        self.subcommands = None
        self.parent = None
        self.getkeys = getkeys
        self._legacy_range(flags)
        if getkeys is not None:
            flags.add("movablekeys")
        self.flags = flags
        for attr, fl in (("is_write", "write"), ("is_readonly", "readonly"),
                         ("denyoom", "denyoom"), ("no_auth", "no_auth"),
                         ("no_multi", "no_multi"), ("stale", "stale"), ("loading", "loading"),
                         ("pubsub", "pubsub"), ("admin", "admin"), ("noscript", "noscript"),
                         ("blocking", "blocking"), ("may_replicate", "may_replicate"),
                         ("allow_busy", "allow_busy"), ("skip_monitor", "skip_monitor"),
                         ("skip_slowlog", "skip_slowlog"), ("fast", "fast")):
            setattr(self, attr, fl in flags)
        self.movablekeys = "movablekeys" in flags
        self.acl = self._categories(flags, spec.get("acl", []))
        self.reset_stats()

    def reset_stats(self):
        self.calls = 0
        self.usec = 0
        self.rejected_calls = 0
        self.failed_calls = 0
        # latency histogram: calls that took 0..31 usec counted by index (the dispatcher's
        # fast path adds there directly), longer ones as usec -> calls
        self.lat = [0] * LAT_SMALL
        self.lat_big = {}

    def add_latency(self, usec):
        if usec < LAT_SMALL:
            self.lat[usec] += 1
        else:
            self.lat_big[usec] = self.lat_big.get(usec, 0) + 1

    def calls_timed(self):
        return bool(self.lat_big) or any(self.lat)

    def histogram(self):
        """The latency histogram as {usec: calls} (empty if never called)."""
        h = {u: n for u, n in enumerate(self.lat) if n}
        h.update(self.lat_big)
        return h

    @staticmethod
    def _categories(flags, declared):
        cats = set(declared)
        if "write" in flags:
            cats.add("write")
        if "readonly" in flags and "scripting" not in cats:
            cats.add("read")
        if "admin" in flags:
            cats.update(("admin", "dangerous"))
        if "pubsub" in flags:
            cats.add("pubsub")
        if "fast" in flags:
            cats.add("fast")
        if "blocking" in flags:
            cats.add("blocking")
        if "fast" not in cats:
            cats.add("slow")
        return cats

    def _legacy_range(self, flags):
        """server.c populateCommandLegacyRangeSpec: first/last/step for COMMAND INFO."""
        self.first_key = self.last_key = self.key_step = 0
        specs = self.key_specs
        if not specs:
            return
        if len(specs) == 1 and specs[0]["bs"][0] == "index" and specs[0]["fk"][0] == "range":
            s = specs[0]
            self.first_key = s["bs"][1]
            lk = s["fk"][1]
            self.last_key = lk + self.first_key if lk >= 0 else lk
            self.key_step = s["fk"][2]
            if "INCOMPLETE" in s["flags"]:
                flags.add("movablekeys")
            return
        first, last, prev_last = None, 0, 0
        for s in specs:
            if s["bs"][0] != "index" or s["fk"][0] != "range":
                flags.add("movablekeys")
                continue
            if s["fk"][2] != 1 or (prev_last and prev_last != s["bs"][1] - 1):
                flags.add("movablekeys")
                continue
            if "INCOMPLETE" in s["flags"]:
                flags.add("movablekeys")
            first = s["bs"][1] if first is None else min(first, s["bs"][1])
            lk = s["fk"][1]
            if lk >= 0:
                lk += s["bs"][1]
            last = max(last & 0xFFFFFFFF, lk & 0xFFFFFFFF)
            if last >= 1 << 31:
                last -= 1 << 32
            prev_last = last
        if first is None:
            flags.add("movablekeys")
            return
        self.first_key = first
        self.last_key = last
        self.key_step = 1

    # -- keys -------------------------------------------------------------------------
    def key_positions(self, argv, with_flags=False, include_not_keys=False):
        """Positions of the key arguments in argv (getKeysFromCommandWithSpecs), or None
        when the arguments do not fit the specs."""
        if self.getkeys is not None:
            # getkeys may give (position, key flags) pairs instead of bare positions
            keys = self.getkeys(argv)
            if keys is None:
                return None
            if with_flags:
                return [k if type(k) is tuple else (k, ["RW"]) for k in keys]
            return [k[0] if type(k) is tuple else k for k in keys]
        out = []
        argc = len(argv)
        for s in self.key_specs:
            if "NOT_KEY" in s["flags"] and not include_not_keys:
                continue
            bs = s["bs"]
            if bs[0] == "index":
                first = bs[1]
            elif bs[0] == "keyword":
                kw = bs[1].encode().lower()
                startfrom = bs[2]
                start = startfrom if startfrom > 0 else argc + startfrom
                end = argc - 1 if startfrom > 0 else 1
                first = 0
                i = start
                while i != end:
                    if i >= argc or i < 1:
                        break
                    if argv[i].lower() == kw:
                        first = i + 1
                        break
                    i = i + 1 if start <= end else i - 1
                if not first:
                    continue
            else:
                return None
            fk = s["fk"]
            if fk[0] == "range":
                step = fk[2]
                if fk[1] >= 0:
                    last = first + fk[1]
                elif not fk[3]:
                    last = argc + fk[1]
                else:
                    last = first + ((argc - first) // fk[3] + fk[1])
            elif fk[0] == "keynum":
                step = fk[3]
                if first + fk[1] >= argc:
                    return None
                numkeys = parse_ll(argv[first + fk[1]])
                if numkeys is None or numkeys < 0:
                    return None
                first += fk[2]
                last = first + numkeys - 1
            else:
                return None
            if last >= argc or last < first or first >= argc:
                return None
            for i in range(first, last + 1, step):
                if i >= argc:
                    continue
                out.append((i, s["flags"]) if with_flags else i)
            if "INCOMPLETE" in s["flags"]:
                return None
        return out

    def keys(self, argv):
        pos = self.key_positions(argv)
        return [argv[i] for i in pos] if pos else []

    # -- introspection replies (COMMAND INFO / DOCS) ------------------------------------
    def info_reply(self, r):
        flags = [f for f in _FLAG_ORDER if f in self.flags]
        cats = [c for c in ACL_CATEGORIES if c in self.acl]
        parts = [b"*10\r\n", bulk(self.fullname.encode()), integer(self.arity),
                 r.set_header(len(flags)), b"".join(b"+%s\r\n" % f.encode() for f in flags),
                 integer(self.first_key), integer(self.last_key), integer(self.key_step),
                 r.set_header(len(cats)), b"".join(b"+@%s\r\n" % c.encode() for c in cats),
                 r.set_header(len(self.tips)), b"".join(bulk(t.encode()) for t in self.tips),
                 self._keyspecs_reply(r)]
        if self.subcommands:
            subs = list(self.subcommands.values())
            parts.append(b"*%d\r\n" % len(subs))
            parts.extend(s.info_reply(r) for s in subs)
        else:
            parts.append(r.set_header(0))
        return b"".join(parts)

    def _keyspecs_reply(self, r):
        out = [r.set_header(len(self.key_specs))]
        for s in self.key_specs:
            out.append(r.map_header(4 if s.get("notes") else 3))
            if s.get("notes"):
                out.append(bulk(b"notes") + bulk(s["notes"].encode()))
            fl = [_KEYFLAG_NAMES[f] for f in _KEYFLAG_ORDER if f in s["flags"]]
            out.append(bulk(b"flags") + r.set_header(len(fl))
                       + b"".join(b"+%s\r\n" % f.encode() for f in fl))
            bs = s["bs"]
            out.append(bulk(b"begin_search") + r.map_header(2) + bulk(b"type"))
            if bs[0] == "index":
                out.append(bulk(b"index") + bulk(b"spec") + r.map_header(1) + bulk(b"index")
                           + integer(bs[1]))
            elif bs[0] == "keyword":
                out.append(bulk(b"keyword") + bulk(b"spec") + r.map_header(2)
                           + bulk(b"keyword") + bulk(bs[1].encode())
                           + bulk(b"startfrom") + integer(bs[2]))
            else:
                out.append(bulk(b"unknown") + bulk(b"spec") + r.map_header(0))
            fk = s["fk"]
            out.append(bulk(b"find_keys") + r.map_header(2) + bulk(b"type"))
            if fk[0] == "range":
                out.append(bulk(b"range") + bulk(b"spec") + r.map_header(3)
                           + bulk(b"lastkey") + integer(fk[1]) + bulk(b"keystep")
                           + integer(fk[2]) + bulk(b"limit") + integer(fk[3]))
            elif fk[0] == "keynum":
                out.append(bulk(b"keynum") + bulk(b"spec") + r.map_header(3)
                           + bulk(b"keynumidx") + integer(fk[1]) + bulk(b"firstkey")
                           + integer(fk[2]) + bulk(b"keystep") + integer(fk[3]))
            else:
                out.append(bulk(b"unknown") + bulk(b"spec") + r.map_header(0))
        return b"".join(out)

    def docs_reply(self, r):
        sp = self.spec
        pairs = []
        for k in ("summary", "since"):
            if sp.get(k):
                pairs.append((bulk(k.encode()), bulk(sp[k].encode())))
        pairs.append((bulk(b"group"), bulk(sp["group"].encode())))
        if sp.get("complexity"):
            pairs.append((bulk(b"complexity"), bulk(sp["complexity"].encode())))
        if sp.get("doc_flags"):
            fl = [f for f in ("deprecated", "syscmd") if f in sp["doc_flags"]]
            pairs.append((bulk(b"doc_flags"), r.set_header(len(fl))
                           + b"".join(b"+%s\r\n" % f.encode() for f in fl)))
        for k in ("deprecated_since", "replaced_by"):
            if sp.get(k):
                pairs.append((bulk(k.encode()), bulk(sp[k].encode())))
        if sp.get("history"):
            h = sp["history"]
            pairs.append((bulk(b"history"), r.set_header(len(h)) + b"".join(
                array([a.encode(), b.encode()]) for a, b in h)))
        if sp.get("arguments"):
            pairs.append((bulk(b"arguments"), _args_reply(r, sp["arguments"])))
        if self.subcommands:
            subs = list(self.subcommands.values())
            pairs.append((bulk(b"subcommands"), r.map_header(len(subs)) + b"".join(
                bulk(s.fullname.encode()) + s.docs_reply(r) for s in subs)))
        return r.map(pairs)


def _args_reply(r, args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        pairs = [(bulk(b"name"), bulk(a["name"].encode())),
                 (bulk(b"type"), bulk(a["type"].encode()))]
        if "key_spec_index" in a:
            pairs.append((bulk(b"key_spec_index"), integer(a["key_spec_index"])))
        for k in ("token", "summary", "since", "deprecated_since"):
            if k in a:
                pairs.append((bulk(k.encode()), bulk(a[k].encode())))
        if a.get("flags"):
            pairs.append((bulk(b"flags"), r.set_header(len(a["flags"])) + b"".join(
                b"+%s\r\n" % f.encode() for f in a["flags"])))
        if a["type"] in ("oneof", "block"):
            pairs.append((bulk(b"arguments"), _args_reply(r, a.get("arguments", []))))
        out.append(r.map(pairs))
    return b"".join(out)


def register(fullname, handler, getkeys=None, spec=None):
    fullname = fullname.lower()
    spec = spec or SPEC[fullname]
    cmd = Command(fullname, spec, handler, getkeys)
    if "|" in fullname:
        parent_name, sub = fullname.split("|", 1)
        parent = COMMANDS.get(parent_name.encode())
        if parent is None:
            parent = Command(parent_name, SPEC[parent_name])
            COMMANDS[parent_name.encode()] = parent
            DISPATCH[parent_name.encode()] = DISPATCH[parent_name.upper().encode()] = parent
        if parent.subcommands is None:
            parent.subcommands = {}
            parent.needs_check = True
        cmd.parent = parent
        parent.subcommands[sub.encode()] = cmd
    else:
        existing = COMMANDS.get(fullname.encode())
        if existing is not None and existing.subcommands is not None:
            existing.handler = handler   # a container that also runs alone (COMMAND)
            return existing
        COMMANDS[fullname.encode()] = cmd
        DISPATCH[fullname.encode()] = DISPATCH[fullname.upper().encode()] = cmd
    return cmd


def renamed_tables(renames):
    """rename-command for one server: copies of COMMANDS and DISPATCH (Redis's
    server.commands) without each old name and, unless the new name is empty, with the
    command under its new name. The shared tables (server.orig_commands: ACL, other servers
    of the process) stay as they are; the Command keeps its fullname, as in Redis."""
    commands = dict(COMMANDS)
    for old, new in renames:
        cmd = commands.pop(old.lower(), None)
        if cmd is not None and new:
            commands[new.lower()] = cmd
    dispatch = {}
    for name, cmd in commands.items():
        dispatch[name] = dispatch[name.upper()] = cmd
    return commands, dispatch


def command(fullname, getkeys=None):
    """Decorator: bind handler(c, argv) -> reply bytes to the spec entry `fullname`."""
    def deco(fn):
        register(fullname, fn, getkeys)
        return fn
    return deco


def lookup(argv):
    """The Command for argv (resolving containers' subcommands), or None."""
    cmd = COMMANDS.get(argv[0].lower())
    if cmd is not None and cmd.subcommands is not None:
        if len(argv) < 2:
            return cmd   # arity check on the container reports the error
        return cmd.subcommands.get(argv[1].lower())
    return cmd


def all_commands():
    """Every command and subcommand (for stats and COMMAND LIST)."""
    for cmd in COMMANDS.values():
        yield cmd
        if cmd.subcommands:
            yield from cmd.subcommands.values()
