#!/usr/bin/env python3
"""RDB save and load time of 1,000,000 keys: redislet vs real Redis (issue 8).

    python bench/rdb_bench.py [--keys 1000000] [--mix 10000] [--no-mix] [--rounds 1]

For each server kind (redis-server, redislet) and dataset, in a fresh temp dir of its own
(--save '', --appendonly no, 127.0.0.1, free port):

  1. fill it over a raw pipelined socket: `strings` = N x `SET key:<i> <16 bytes>`;
     `mix` = M keys split evenly over hashes, lists, sets and sorted sets of 100 members
     each (Redis encodes the hashes and zsets as listpacks, lists as a quicklist, sets as
     hashtables);
  2. time SAVE (wall time of the command), note the dump.rdb size and the RSS;
  3. kill the server (SIGKILL, so the file stays exactly as SAVE wrote it) and start it
     again on the same dir: load time = process start -> first +PONG, and the
     "DB loaded from disk: X seconds" line of its log; check DBSIZE (and DEBUG DIGEST).

Then cross-loads each dump: redis-server on redislet's dump.rdb and redislet on Redis's,
reporting success, key count and whether DEBUG DIGEST matches the original dataset.
One server runs at a time. The machine is shared and noisy: compare ratios.
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


def mix_cmds(nkeys, members=100):
    cmds = []
    per = nkeys // 4
    for i in range(per):
        h = ["HSET", "hash:%d" % i]
        for j in range(members):
            h += ["field:%d" % j, "value:%d" % (i + j)]
        cmds.append(enc(*h))
        cmds.append(enc("RPUSH", "list:%d" % i, *("item:%d:%d" % (i, j) for j in range(members))))
        cmds.append(enc("SADD", "set:%d" % i, *("member:%d:%d" % (i, j) for j in range(members))))
        z = ["ZADD", "zset:%d" % i]
        for j in range(members):
            z += [str(j * 1.5), "m:%d:%d" % (i, j)]
        cmds.append(enc(*z))
    return cmds


def sample_keys(name, nkeys):
    if name == "strings":
        return [b"key:%d" % i for i in range(0, nkeys, max(1, nkeys // 500))]
    per = nkeys // 4
    return [b"%s:%d" % (t, i) for i in range(0, per, max(1, per // 100))
            for t in (b"hash", b"list", b"set", b"zset")]


def fingerprint(c, keys):
    """Contents of the sampled keys, read per type (sets sorted): compares datasets
    across servers, as redislet has no DEBUG DIGEST."""
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
        else:
            v = None
        out.append((k, t, v, c.cmd("PTTL", k)))
    return out


def digest(c):
    try:
        r = c.cmd("DEBUG", "DIGEST")
        return r if isinstance(r, bytes) and r[:1] != b"-" else None
    except Exception:
        return None


# -- the measurements -------------------------------------------------------------------------

def run_kind(kind, cmds, sample, base):
    res = {"kind": kind}
    work = tempfile.mkdtemp(prefix="rdbbench-%s-" % kind, dir=base)
    res["dir"] = work
    srv = Server(kind, work)
    try:
        res["empty_ping_s"], err = srv.start()
        if err:
            sys.exit("%s did not start: %s %s" % (kind, err, srv.log_tail()))
        rss0 = rss_mb(srv.proc.pid)
        c = Conn(srv.port)
        t = time.perf_counter()
        errors = c.pipeline(cmds)
        res["fill_s"] = time.perf_counter() - t
        if errors:
            sys.exit("%s: %d errors while filling, first %r" % (kind, len(errors), errors[0]))
        res["keys"] = int(c.cmd("DBSIZE")[1:])
        res["rss_mb"] = rss_mb(srv.proc.pid) - rss0
        res["digest"] = digest(c)
        res["sample"] = fingerprint(c, sample)
        res["digest_ref"] = res["digest"]
        t = time.perf_counter()
        r = c.cmd("SAVE")
        res["save_s"] = time.perf_counter() - t
        if r != b"+OK":
            sys.exit("%s: SAVE replied %r" % (kind, r))
        c.close()
        res["size"] = os.path.getsize(os.path.join(work, "dump.rdb"))
        srv.stop(hard=True)
        os.rename(srv.logfile, srv.logfile + ".1")
        # restart on the same dir: time the load
        ping_s, err = srv.start(expect_keys=res["keys"])
        if err:
            sys.exit("%s did not reload its own dump: %s %s" % (kind, err, srv.log_tail()))
        res["load_ping_s"] = ping_s
        res["load_log_s"] = srv.log_loaded_seconds()
        res["rss_loaded_mb"] = rss_mb(srv.proc.pid)
        c = Conn(srv.port)
        res["reload"] = verify(c, res, sample)
        c.close()
    finally:
        srv.stop(hard=True)
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


def report(name, res):
    a, b = res["redislet"], res["redis"]
    print()
    print("dataset %s: %d keys (fill over one pipelined connection: redislet %.1fs, "
          "redis %.1fs)" % (name, b["keys"], a["fill_s"], b["fill_s"]))
    print("%-32s %10s %10s %8s" % ("", "redislet", "redis", "ratio"))
    rows = [
        ("SAVE wall time (s)", a["save_s"], b["save_s"]),
        ("dump.rdb size (MB)", a["size"] / 1e6, b["size"] / 1e6),
        ("start, empty dir -> PONG (s)", a["empty_ping_s"], b["empty_ping_s"]),
        ("load: start -> PONG+DBSIZE (s)", a["load_ping_s"], b["load_ping_s"]),
        ("load: log 'DB loaded from disk'", a["load_log_s"], b["load_log_s"]),
        ("RSS growth from the fill (MB)", a["rss_mb"], b["rss_mb"]),
        ("RSS after the load (MB)", a["rss_loaded_mb"], b["rss_loaded_mb"]),
    ]
    for label, x, y in rows:
        print("%-32s %10s %10s %8s" % (label, fmt_s(x), fmt_s(y), ratio(x, y)))
    print("%-32s %s" % ("sampled contents redislet/redis",
                        "same" if a["sample"] == b["sample"] else "DIFFERENT"))
    for kind in KINDS:
        print("%-32s %s" % ("%s reloads its own dump" % kind,
                            describe(res[kind]["reload"], res[kind]["keys"])))
    for loader, src in (("redis", "redislet"), ("redislet", "redis")):
        x = res["cross_" + loader]
        txt = describe(x, res[src]["keys"])
        if "load_ping_s" in x:
            txt += ", load %ss (log %ss)" % (fmt_s(x["load_ping_s"]), fmt_s(x["load_log_s"]))
        print("%-32s %s" % ("%s loads %s's dump" % (loader, src), txt))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=1000000, help="string keys (default 1e6)")
    ap.add_argument("--mix", type=int, default=10000,
                    help="keys of the hash/list/set/zset dataset, 100 members each")
    ap.add_argument("--no-mix", action="store_true", help="skip the mixed dataset")
    args = ap.parse_args()
    if not os.path.exists(REDIS):
        sys.exit("needs redis-server (Debian redis-server)")
    datasets = [("strings", args.keys, strings_cmds)]
    if not args.no_mix and args.mix > 0:
        datasets.append(("mix", args.mix, mix_cmds))
    base = tempfile.mkdtemp(prefix="rdbbench-")
    t0 = time.time()
    try:
        for name, n, make in datasets:
            cmds = make(n)
            sample = sample_keys(name, n)
            res = {}
            for kind in KINDS:
                print("[%5.1fs] %s: %s ..." % (time.time() - t0, name, kind), file=sys.stderr)
                res[kind] = run_kind(kind, cmds, sample, base)
            del cmds
            # same generated data: Redis's DEBUG DIGEST stands for redislet's (it has none)
            if res["redislet"]["sample"] == res["redis"]["sample"]:
                res["redislet"]["digest_ref"] = res["redis"]["digest"]
            for loader, src in (("redis", "redislet"), ("redislet", "redis")):
                print("[%5.1fs] %s: %s loads %s's dump ..." % (time.time() - t0, name, loader,
                                                               src), file=sys.stderr)
                res["cross_" + loader] = cross_load(loader, res[src], sample, base)
            for kind in KINDS:
                shutil.rmtree(res[kind]["dir"], ignore_errors=True)
            report(name, res)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("\ntotal %.1fs" % (time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
