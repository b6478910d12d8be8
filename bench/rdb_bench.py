#!/usr/bin/env python3
"""RDB save and load time: redislet vs real Redis 7.0 (issue 8, and the RDB targets of the
performance issue).

    python bench/rdb_bench.py [--keys 1000000] [--mix 10000] [--no-mix] [--rounds 3]

Datasets: `strings` = N x `SET key:<i> <16 bytes>`; `mix` = M containers of ten kinds in
equal numbers, small ones in Redis's compact encodings and big ones past their limits:
lists of 16 short items (one listpack node) and of 200 items of mixed sizes (several
nodes, some entries 100-300 bytes), hashes of 16 fields (listpack) and 151 fields, one
of them with a 100-byte value (hashtable), sets of 32 integers (intset), 520 integers and 200 strings (hashtable),
zsets of 16 (listpack) and 150 members (skiplist, integer and fractional scores), and
streams of 60 entries (listpack nodes) with a consumer group and pending entries.

Both servers (--save '', --appendonly no, 127.0.0.1, free ports, own temp dirs) are
filled over raw pipelined sockets, then, round after round with the order flipped each
round:
  1. SAVE on each: wall time of the command and the server's CPU time for it;
  2. load: each is killed (SIGKILL: the file stays as SAVE wrote it) and started again on
     its dir: wall time from spawn to a PING+DBSIZE reply with every key (start-up with
     the file, as the target counts it), the "DB loaded from disk: X seconds" of its log,
     and the process's CPU time until then (redislet's includes starting the
     interpreter: see the "start, empty dir" row).
The ratio of a round is redislet/Redis; the table shows the median over rounds. Then each
server loads the other's dump (cross-loading) and the contents are compared (sampled keys
per type, DEBUG DIGEST). The machine is shared and noisy: compare ratios, and look at the
CPU columns, which depend much less on the load.

Targets (redislet/Redis, median ratio of the wall times): strings SAVE and load <= 1.5,
mix SAVE and load <= 3.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
KINDS = ("redis", "redislet")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    t = line[:1]
    if t in b"+-:":
        return line[:-2]
    if t == b"$":
        n = int(line[1:-2])
        if n < 0:
            return None
        return f.read(n + 2)[:-2]
    if t == b"*":
        n = int(line[1:-2])
        return [read_reply(f) for _ in range(max(n, 0))]
    raise ValueError("bad reply %r" % line)


class Conn:
    def __init__(self, port, timeout=300):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.s.makefile("rb", buffering=1 << 16)

    def cmd(self, *args):
        self.s.sendall(enc(*args))
        return read_reply(self.f)

    def pipeline(self, cmds, batch=5000):
        """Send encoded commands in batches, read every reply; return the error replies."""
        errors = []
        for i in range(0, len(cmds), batch):
            chunk = cmds[i:i + batch]
            self.s.sendall(b"".join(chunk))
            for _ in chunk:
                r = read_reply(self.f)
                if isinstance(r, bytes) and r[:1] == b"-":
                    errors.append(r)
        return errors

    def close(self):
        self.f.close()
        self.s.close()


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Server:
    def __init__(self, kind, workdir):
        self.kind, self.dir = kind, workdir
        self.logfile = os.path.join(workdir, "server.log")
        self.proc = None
        self.port = None

    def start(self, timeout=120, expect_keys=None):
        """Start; return (seconds from spawn to the first +PONG, None) or (None, reason).

        With expect_keys, a probe is PING + DBSIZE and counts only when DBSIZE is
        expect_keys: redislet answers commands for a moment before it loads the dump
        (while its listeners are set up), so a bare PONG does not mean "loaded" there."""
        self.port = free_port()
        common = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", self.dir, "--dbfilename", "dump.rdb",
                  "--logfile", self.logfile, "--enable-debug-command", "yes"]
        if self.kind == "redis":
            argv = [REDIS] + common
        else:
            argv = [sys.executable, "-m", "redislet"] + common
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        probe = enc("PING")
        want = b"+PONG\r\n"
        if expect_keys is not None:
            probe += enc("DBSIZE")
            want += b":%d\r\n" % expect_keys
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                return None, "exited with code %s" % self.proc.returncode
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    s.sendall(probe)
                    data = s.recv(256)
                    if data.startswith(b"+PONG") and expect_keys is not None \
                            and len(data) < len(want):
                        s.settimeout(0.05)      # see the docstring: may never come
                        try:
                            data += s.recv(256)
                        except socket.timeout:
                            pass
                    if data == want:
                        return time.perf_counter() - t0, None
                    if data.startswith(b"+PONG") and expect_keys is not None \
                            and self.ready_logged():
                        return None, "loaded, but PING+DBSIZE replied %r" % data
            except OSError:
                pass
            time.sleep(0.002)
        self.stop()
        return None, "no PONG within %ds" % timeout

    def stop(self, hard=True):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def ready_logged(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return "Ready to accept connections" in f.read()
        except OSError:
            return False

    def log_loaded_seconds(self):
        """The last "DB loaded from disk: X seconds" of the log, or None."""
        try:
            with open(self.logfile, errors="replace") as f:
                text = f.read()
        except OSError:
            return None
        m = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", text)
        return float(m[-1]) if m else None

    def log_tail(self, n=3):
        try:
            with open(self.logfile, errors="replace") as f:
                lines = [l.rstrip() for l in f if l.strip()]
        except OSError:
            return ""
        return " | ".join(l[-150:] for l in lines[-n:])


# -- datasets ---------------------------------------------------------------------------------

def strings_cmds(nkeys):
    val = b"v" * 16
    return [b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n" % (len(k), k, val)
            for k in (b"key:%d" % i for i in range(nkeys))]


MIX_KINDS = (b"list_s", b"list_b", b"hash_s", b"hash_b", b"set_int", b"set_intbig",
             b"set_str", b"zset_s", b"zset_b", b"stream")


def mix_cmds(nkeys):
    """nkeys containers, nkeys // 10 of each MIX_KINDS kind (see the module doc)."""
    cmds = []
    for i in range(nkeys // len(MIX_KINDS)):
        cmds.append(enc("RPUSH", "list_s:%d" % i, *("item:%d:%d" % (i, j) for j in range(16))))
        # mixed sizes: short strings, integers, and every 10th item 100-300 bytes
        cmds.append(enc("RPUSH", "list_b:%d" % i, *(
            ("payload-%d-" % j) * (10 + j % 20) if j % 10 == 0 else
            str(i * 1000 + j) if j % 3 == 0 else "item:%d:%d" % (i, j) for j in range(200))))
        h = ["HSET", "hash_s:%d" % i]
        for j in range(16):
            h += ["field:%d" % j, "value:%d" % (i + j)]
        cmds.append(enc(*h))
        # a value over hash-max-listpack-value (64) makes it a hashtable (a hash needs
        # 513 fields for that otherwise: Redis 7.0's built-in default is 512)
        h = ["HSET", "hash_b:%d" % i, "description", "text %d " % i * 12]
        for j in range(150):
            h += ["field:%d" % j, "value:%d" % (i + j) if j % 2 else str(i * j)]
        cmds.append(enc(*h))
        cmds.append(enc("SADD", "set_int:%d" % i, *(str(i * 100 + j * 7) for j in range(32))))
        cmds.append(enc("SADD", "set_intbig:%d" % i, *(str(i * 1000 + j) for j in range(520))))
        cmds.append(enc("SADD", "set_str:%d" % i, *("member:%d:%d" % (i, j)
                                                     for j in range(200))))
        z = ["ZADD", "zset_s:%d" % i]
        for j in range(16):
            z += [str(j), "m:%d:%d" % (i, j)]
        cmds.append(enc(*z))
        z = ["ZADD", "zset_b:%d" % i]
        for j in range(150):
            z += [str(j * 1.5), "m:%d:%d" % (i, j)]
        cmds.append(enc(*z))
        key = "stream:%d" % i
        for j in range(60):
            cmds.append(enc("XADD", key, "%d-%d" % (1700000000000 + j, j % 3),
                            "sensor", "s%d" % (j % 5), "reading", str(i + j * 0.25)))
        cmds.append(enc("XGROUP", "CREATE", key, "g1", "0"))
        cmds.append(enc("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5",
                        "STREAMS", key, ">"))
    return cmds


def sample_keys(name, nkeys):
    if name == "strings":
        return [b"key:%d" % i for i in range(0, nkeys, max(1, nkeys // 500))]
    per = nkeys // len(MIX_KINDS)
    return [b"%s:%d" % (t, i) for i in range(0, per, max(1, per // 50)) for t in MIX_KINDS]


def fingerprint(c, keys):
    """Contents of the sampled keys, read per type (sets sorted): compares datasets
    across servers without relying on DEBUG DIGEST alone."""
    out = []
    for k in keys:
        t = c.cmd("TYPE", k)
        if t == b"+string":
            v = c.cmd("GET", k)
        elif t == b"+hash":
            v = sorted(c.cmd("HGETALL", k))
        elif t == b"+list":
            v = c.cmd("LRANGE", k, 0, -1)
        elif t == b"+set":
            v = sorted(c.cmd("SMEMBERS", k))
        elif t == b"+zset":
            v = c.cmd("ZRANGE", k, 0, -1, "WITHSCORES")
        elif t == b"+stream":
            v = [c.cmd("XRANGE", k, "-", "+"), c.cmd("XPENDING", k, "g1")]
        else:
            v = None
        out.append((k, t, v, c.cmd("PTTL", k), c.cmd("OBJECT", "ENCODING", k)))
    return out


def digest(c):
    try:
        r = c.cmd("DEBUG", "DIGEST")
        return r if isinstance(r, bytes) and r[:1] != b"-" else None
    except Exception:
        return None


# -- the measurements -------------------------------------------------------------------------

def cpu_s(pid):
    """CPU time of every thread of a process so far (ns-exact, /proc/PID/task/*/schedstat)."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
    except OSError:
        pass
    return total / 1e9


def fill(kind, cmds, sample, base):
    """A started server of `kind` in its own dir, filled with cmds; its facts in a dict."""
    work = tempfile.mkdtemp(prefix="rdbbench-%s-" % kind, dir=base)
    srv = Server(kind, work)
    res = {"kind": kind, "dir": work, "srv": srv, "save_s": [], "save_cpu_s": [],
           "load_ping_s": [], "load_log_s": [], "load_cpu_s": []}
    res["empty_ping_s"], err = srv.start()
    if err:
        sys.exit("%s did not start: %s %s" % (kind, err, srv.log_tail()))
    res["empty_cpu_s"] = cpu_s(srv.proc.pid)
    rss0 = rss_mb(srv.proc.pid)
    c = Conn(srv.port)
    t = time.perf_counter()
    errors = c.pipeline(cmds)
    res["fill_s"] = time.perf_counter() - t
    if errors:
        sys.exit("%s: %d errors while filling, first %r" % (kind, len(errors), errors[0]))
    res["keys"] = int(c.cmd("DBSIZE")[1:])
    res["rss_mb"] = rss_mb(srv.proc.pid) - rss0
    res["digest"] = res["digest_ref"] = digest(c)
    res["sample"] = fingerprint(c, sample)
    c.close()
    return res


def timed_save(res):
    """One SAVE on the running server: wall time and the server's CPU time for it."""
    srv = res["srv"]
    c = Conn(srv.port)
    cpu0 = cpu_s(srv.proc.pid)
    t = time.perf_counter()
    r = c.cmd("SAVE")
    res["save_s"].append(time.perf_counter() - t)
    res["save_cpu_s"].append(cpu_s(srv.proc.pid) - cpu0)
    c.close()
    if r != b"+OK":
        sys.exit("%s: SAVE replied %r" % (res["kind"], r))
    res["size"] = os.path.getsize(os.path.join(res["dir"], "dump.rdb"))


def timed_load(res, sample, verify_it):
    """Start the server on its dump.rdb: time to a reply with every key, its log's load
    time, its CPU time until then; verify_it: also check the contents. Stops it again."""
    srv = res["srv"]
    if os.path.exists(srv.logfile):
        os.replace(srv.logfile, srv.logfile + ".prev")
    ping_s, err = srv.start(expect_keys=res["keys"])
    if err:
        sys.exit("%s did not reload its own dump: %s %s" % (res["kind"], err, srv.log_tail()))
    res["load_cpu_s"].append(cpu_s(srv.proc.pid))
    res["load_ping_s"].append(ping_s)
    res["load_log_s"].append(srv.log_loaded_seconds())
    if verify_it:
        res["rss_loaded_mb"] = rss_mb(srv.proc.pid)
        c = Conn(srv.port)
        res["reload"] = verify(c, res, sample)
        c.close()
    srv.stop(hard=True)


def run_dataset(name, cmds, sample, base, rounds, t0):
    """Fill both servers, then `rounds` rounds of SAVE, then `rounds` of load, the
    order of the two servers flipped every round."""
    res = {}
    for kind in KINDS:
        print("[%5.1fs] %s: filling %s ..." % (time.time() - t0, name, kind), file=sys.stderr)
        res[kind] = fill(kind, cmds, sample, base)
    # the same generated data: Redis's DEBUG DIGEST is the reference for both
    if res["redislet"]["sample"] == res["redis"]["sample"]:
        res["redislet"]["digest_ref"] = res["redis"]["digest"]
    orders = [KINDS if r % 2 == 0 else KINDS[::-1] for r in range(rounds)]
    print("[%5.1fs] %s: %d rounds of SAVE ..." % (time.time() - t0, name, rounds),
          file=sys.stderr)
    for order in orders:
        for kind in order:
            timed_save(res[kind])
    for kind in KINDS:
        res[kind]["srv"].stop(hard=True)
    print("[%5.1fs] %s: %d rounds of load ..." % (time.time() - t0, name, rounds),
          file=sys.stderr)
    for r, order in enumerate(orders):
        for kind in order:
            timed_load(res[kind], sample, r == rounds - 1)
    for loader, src in (("redis", "redislet"), ("redislet", "redis")):
        print("[%5.1fs] %s: %s loads %s's dump ..." % (time.time() - t0, name, loader, src),
              file=sys.stderr)
        res["cross_" + loader] = cross_load(loader, res[src], sample, base)
    return res


def verify(c, src, sample):
    """Compare a loaded server with the dataset `src` saved: key count, sampled
    contents, DEBUG DIGEST where both sides have it."""
    keys = int(c.cmd("DBSIZE")[1:])
    d = digest(c)
    out = {"keys": keys,
           "sample_ok": fingerprint(c, sample) == src["sample"],
           "digest_ok": (d == src["digest_ref"]) if d and src.get("digest_ref") else None}
    out["ok"] = keys == src["keys"] and out["sample_ok"] and out["digest_ok"] is not False
    return out


def cross_load(kind, src, sample, base):
    """Start `kind` on a copy of src's dump.rdb and verify it against src's dataset."""
    work = tempfile.mkdtemp(prefix="rdbcross-%s-" % kind, dir=base)
    shutil.copy(os.path.join(src["dir"], "dump.rdb"), os.path.join(work, "dump.rdb"))
    srv = Server(kind, work)
    try:
        ping_s, err = srv.start(expect_keys=src["keys"], timeout=60)
        if err:
            return {"ok": False, "err": "%s: %s" % (err, srv.log_tail())}
        c = Conn(srv.port)
        out = verify(c, src, sample)
        c.close()
        out.update(load_ping_s=ping_s, load_log_s=srv.log_loaded_seconds())
        return out
    finally:
        srv.stop(hard=True)
        shutil.rmtree(work, ignore_errors=True)


def fmt_s(x):
    return "-" if x is None else "%.3f" % x


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def ratio_of(a, b, field):
    """The median over rounds of redislet/Redis for a per-round list field."""
    return median([x / y for x, y in zip(a[field], b[field]) if x is not None and y])


def ratio(a, b):
    if a is None or b is None or not b:
        return "-"
    return "%.2f" % (a / b)


def describe(v, expect_keys):
    if not v.get("ok") and "err" in v:
        return "FAILED: %s" % v["err"]
    return "%s: keys %d/%d, sampled contents %s, DEBUG DIGEST %s" % (
        "OK" if v["ok"] else "MISMATCH", v["keys"], expect_keys,
        "same" if v["sample_ok"] else "DIFFERENT",
        {True: "same", False: "DIFFERENT", None: "n/a"}[v["digest_ok"]])


PER_ROUND = [("SAVE wall time (s)", "save_s"), ("SAVE server CPU (s)", "save_cpu_s"),
             ("load: start -> all keys (s)", "load_ping_s"),
             ("load: log 'DB loaded from disk'", "load_log_s"),
             ("load: CPU until loaded (s)", "load_cpu_s")]


def report(name, res, rounds):
    a, b = res["redislet"], res["redis"]
    print()
    print("dataset %s: %d keys (fill over one pipelined connection: redislet %.1fs, "
          "redis %.1fs); medians of %d rounds" % (name, b["keys"], a["fill_s"], b["fill_s"],
                                                  rounds))
    print("%-34s %10s %10s %8s" % ("", "redislet", "redis", "ratio"))
    for label, field in PER_ROUND:
        r = ratio_of(a, b, field)
        print("%-34s %10s %10s %8s" % (label, fmt_s(median(a[field])),
                                       fmt_s(median(b[field])),
                                       "-" if r is None else "%.2f" % r))
    rows = [
        ("dump.rdb size (MB)", a["size"] / 1e6, b["size"] / 1e6),
        ("start, empty dir -> PONG (s)", a["empty_ping_s"], b["empty_ping_s"]),
        ("start, empty dir: CPU (s)", a["empty_cpu_s"], b["empty_cpu_s"]),
        ("RSS growth from the fill (MB)", a["rss_mb"], b["rss_mb"]),
        ("RSS after the load (MB)", a["rss_loaded_mb"], b["rss_loaded_mb"]),
    ]
    for label, x, y in rows:
        print("%-34s %10s %10s %8s" % (label, fmt_s(x), fmt_s(y), ratio(x, y)))
    print("%-34s %s" % ("sampled contents redislet/redis",
                        "same" if a["sample"] == b["sample"] else "DIFFERENT"))
    for kind in KINDS:
        print("%-34s %s" % ("%s reloads its own dump" % kind,
                            describe(res[kind]["reload"], res[kind]["keys"])))
    for loader, src in (("redis", "redislet"), ("redislet", "redis")):
        x = res["cross_" + loader]
        txt = describe(x, res[src]["keys"])
        if "load_ping_s" in x:
            txt += ", load %ss (log %ss)" % (fmt_s(x["load_ping_s"]), fmt_s(x["load_log_s"]))
        print("%-34s %s" % ("%s loads %s's dump" % (loader, src), txt))
    sys.stdout.flush()


TARGETS = [("strings", "SAVE", "save_s", "save_cpu_s", 1.5),
           ("strings", "load", "load_ping_s", "load_cpu_s", 1.5),
           ("mix", "SAVE", "save_s", "save_cpu_s", 3.0),
           ("mix", "load", "load_ping_s", "load_cpu_s", 3.0)]


def report_targets(results):
    """One line per target: median wall times (load: spawn to a reply with every key),
    the median ratio, met or not; the same comparison made with CPU time; and, for the
    loads, the ratio of the logged load times (the load alone, without the interpreter's
    start)."""
    print()
    print("%-22s %9s %9s %7s %7s %5s %9s %9s" % ("target", "redislet", "redis", "ratio",
                                                 "target", "met", "cpu ratio",
                                                 "log ratio"))
    for name, what, field, cpu_field, limit in TARGETS:
        res = results.get(name)
        if res is None:
            continue
        a, b = res["redislet"], res["redis"]
        r = ratio_of(a, b, field)
        rc = ratio_of(a, b, cpu_field)
        rl = ratio_of(a, b, "load_log_s") if what == "load" else None
        print("%-22s %9s %9s %7s %7s %5s %9s %9s" % (
            "%s %s" % (name, what), fmt_s(median(a[field])), fmt_s(median(b[field])),
            "-" if r is None else "%.2f" % r, "<= %.1f" % limit,
            "-" if r is None else ("yes" if r <= limit else "no"),
            "-" if rc is None else "%.2f" % rc, "-" if rl is None else "%.2f" % rl))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1000000, help="string keys (default 1e6)")
    ap.add_argument("--mix", type=int, default=10000,
                    help="containers of the mixed dataset (default 10000, ten kinds)")
    ap.add_argument("--no-mix", action="store_true", help="skip the mixed dataset")
    ap.add_argument("--no-strings", action="store_true", help="skip the strings dataset")
    ap.add_argument("--rounds", type=int, default=3,
                    help="SAVE and load rounds per server (default 3)")
    args = ap.parse_args()
    if not os.path.exists(REDIS):
        sys.exit("needs redis-server (Debian redis-server)")
    datasets = []
    if not args.no_strings and args.keys > 0:
        datasets.append(("strings", args.keys, strings_cmds))
    if not args.no_mix and args.mix > 0:
        datasets.append(("mix", args.mix, mix_cmds))
    base = tempfile.mkdtemp(prefix="rdbbench-")
    t0 = time.time()
    results = {}
    try:
        for name, n, make in datasets:
            cmds = make(n)
            sample = sample_keys(name, n)
            res = run_dataset(name, cmds, sample, base, max(args.rounds, 1), t0)
            del cmds
            for kind in KINDS:
                shutil.rmtree(res[kind]["dir"], ignore_errors=True)
            report(name, res, max(args.rounds, 1))
            results[name] = res
        report_targets(results)
    finally:
        for res in results.values():
            for kind in KINDS:
                res[kind]["srv"].stop(hard=True)
        shutil.rmtree(base, ignore_errors=True)
    print("\ntotal %.1fs" % (time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
