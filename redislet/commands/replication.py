"""Replication commands: REPLICAOF / SLAVEOF, ROLE, REPLCONF, PSYNC, SYNC, WAIT
(replication.c). The machinery lives in redislet/replication."""
from .table import command
from .. import replication  # noqa: F401 - installs the per-server replication state
from ..replication.master import replinfo, ONLINE
from ..errors import CommandError, SYNTAX, NOT_INTEGER
from ..resp.encode import OK, bulk, integer
from ..util import parse_ll, split_args

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1


@command("replicaof")
def replicaof(c, argv):
    return _replicaof(c, argv)


@command("slaveof")
def slaveof(c, argv):
    return _replicaof(c, argv)


def _replicaof(c, argv):
    srv = c.server
    repl = srv.repl
    if srv.config.values.get("cluster-enabled"):
        raise CommandError("ERR REPLICAOF not allowed in cluster mode.")
    if repl.failover_state:
        raise CommandError("ERR REPLICAOF not allowed while failing over.")
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        if repl.masterhost is not None:
            repl.unset_master()
            srv.log("notice", "MASTER MODE enabled (user request from '%s')" % c.info_line())
        return OK
    if "S" in c.flags_extra:
        raise CommandError("ERR Command is not valid when client is a replica.")
    port = parse_ll(argv[2])
    if port is None or not 0 <= port <= 65535:
        raise CommandError("ERR Invalid master port")
    host = argv[1].decode("utf-8", "surrogateescape")
    if (repl.masterhost is not None and repl.masterhost.lower() == host.lower()
            and repl.masterport == port):
        srv.log("notice", "REPLICAOF would result into synchronization with the master we are "
                "already connected with. No operation performed.")
        return b"+OK Already connected to specified master\r\n"
    repl.set_master(host, port)
    srv.log("notice", "REPLICAOF %s:%d enabled (user request from '%s')"
            % (host, port, c.info_line()))
    return OK


@command("role")
def role(c, argv):
    repl = c.server.repl
    if repl.masterhost is None:
        items = []
        for r in repl.replicas:
            ri = r.replinfo
            if ri.state != ONLINE:
                continue
            items.append(b"*3\r\n" + bulk(repl.replica_ip(r).encode())
                         + bulk(str(ri.port).encode()) + bulk(str(ri.ack_off).encode()))
        return (b"*3\r\n$6\r\nmaster\r\n" + integer(c.server.master_repl_offset)
                + b"*%d\r\n" % len(items) + b"".join(items))
    m = repl.master
    return (b"*5\r\n$5\r\nslave\r\n" + bulk(repl.masterhost.encode("utf-8", "surrogateescape"))
            + integer(repl.masterport) + bulk(repl.role_state_name().encode())
            + integer(m.reploff if m is not None else -1))


@command("replconf")
def replconf(c, argv):
    srv = c.server
    repl = srv.repl
    if len(argv) % 2 == 0:
        raise CommandError(SYNTAX)
    for j in range(1, len(argv), 2):
        opt = argv[j].lower()
        val = argv[j + 1]
        if opt == b"listening-port":
            port = parse_ll(val)
            if port is None:
                raise CommandError(NOT_INTEGER)
            replinfo(c).port = port
        elif opt == b"ip-address":
            if len(val) < 256:
                replinfo(c).addr = val.decode("utf-8", "surrogateescape")
            else:
                raise CommandError("ERR REPLCONF ip-address provided by replica instance is "
                                   "too long: %d bytes" % len(val))
        elif opt == b"capa":
            v = val.lower()
            if v == b"eof":
                replinfo(c).capa_eof = True
            elif v == b"psync2":
                replinfo(c).capa_psync2 = True
        elif opt == b"ack":
            if "S" not in c.flags_extra:
                return None
            off = parse_ll(val)
            if off is None:
                return None
            repl.ack(c, off)
            return None
        elif opt == b"getack":
            if repl.masterhost is not None and repl.master is not None:
                repl.send_ack()
            return None
        elif opt == b"rdb-only":
            v = parse_ll(val)
            if v is None:
                raise CommandError(NOT_INTEGER)
            if not 0 <= v <= 1:
                raise CommandError("ERR value is out of range, value must between 0 and 1")
            replinfo(c).rdb_only = v == 1
        elif opt == b"rdb-filter-only":
            filters = split_args(val)
            if filters is None:
                raise CommandError("ERR Missing rdb-filter-only values")
            for f in filters:
                if f.lower() != b"functions":
                    raise CommandError("ERR Unsupported rdb-filter-only option: %s"
                                       % f.decode("utf-8", "replace"))
            # slave_req: no filter (rdb-filter-only "") is the same as never asking
            replinfo(c).filter_functions = True if filters else None
        else:
            raise CommandError("ERR Unrecognized REPLCONF option: %s"
                               % argv[j].decode("utf-8", "replace"))
    return OK


@command("sync")
def sync(c, argv):
    return c.server.repl.sync_command(c, argv)


@command("psync")
def psync(c, argv):
    return c.server.repl.sync_command(c, argv)


@command("wait")
def wait(c, argv):
    return c.server.repl.wait_command(c, argv)


@command("failover")
def failover(c, argv):
    return c.server.repl.failover_command(c, argv)   # replication/failover.py
