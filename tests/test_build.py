"""The compiled build (redislet/_build.py): the modules Cython compiles from their .py
must behave exactly as the .py does. Each compiled function is run side by side with
the same function of the .py, imported under another name, on valid and corrupt input;
INFO server reports which modules run compiled, and REDISLET_PURE=1 switches to the .py."""
import importlib.machinery
import importlib.util
import os
import random
import struct
import subprocess
import sys

import pytest

from redislet import _build, scan
from redislet.persistence import encodings


def _extension(mod):
    """The compiled extension of mod (whichever of the two this process imported), or
    None where the build did not compile it."""
    base = os.path.join(os.path.dirname(mod.__file__), mod.__name__.rpartition(".")[2])
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if os.path.exists(base + suffix):
            spec = importlib.util.spec_from_file_location(mod.__name__, base + suffix)
            m = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(m)
            return m
    return None


def _source(mod):
    """mod imported from its .py, under another name."""
    src = os.path.join(os.path.dirname(mod.__file__),
                       mod.__name__.rpartition(".")[2] + ".py")
    spec = importlib.util.spec_from_file_location(mod.__name__ + "_source_for_test", src)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


compiled_mod = _extension(encodings)
pure_enc = _source(encodings)
compiled_scan = _extension(scan)
pure_scan = _source(scan)
COMPILED_BUILD = compiled_mod is not None
needs_build = pytest.mark.skipif(
    not COMPILED_BUILD, reason="no compiled build here (Cython or a C compiler was missing "
                               "at install): the .py runs, there is nothing to compare")


def _outcome(fn, *args):
    """fn's result, or the type and message of what it raised (and the list arguments as
    they were left: the readers append to them)."""
    lists = [a for a in args if isinstance(a, list)]
    try:
        r = fn(*args)
    except Exception as e:       # noqa: BLE001 - compared, not handled
        return ("raised", type(e).__name__, str(e), lists)
    return ("ok", r, lists)


def _same(name, *args):
    a = _outcome(getattr(compiled_mod, name), *[list(x) if isinstance(x, list) else x
                                                 for x in args])
    b = _outcome(getattr(pure_enc, name), *[list(x) if isinstance(x, list) else x
                                             for x in args])
    if a[0] == "raised" and b[0] == "raised":
        # the same exception type; EncodingError's class differs between the two modules
        assert a[1] == b[1] and a[2] == b[2], (name, args, a, b)
    else:
        assert repr(a) == repr(b), (name, args, a, b)      # (repr: NaN scores)
    return b


def _elements(rng, n):
    out = []
    for _ in range(n):
        k = rng.randrange(10)
        if k < 3:
            out.append(rng.randrange(-(1 << 63), 1 << 63) >> rng.randrange(64))
        elif k < 5:
            out.append(str(rng.randrange(-10 ** 6, 10 ** 6)).encode())
        elif k < 6:
            out.append(rng.choice([b"", b"-", b"-0", b"007", b"1.5", b"9" * 20, b"9" * 21,
                                   b"-9223372036854775808", b"9223372036854775808"]))
        else:
            out.append(bytes(rng.randrange(256) for _ in range(
                rng.choice([1, 5, 20, 63, 64, 100, 300, 5000]))))
    return out


@needs_build
def test_listpacks_alike():
    rng = random.Random(7)
    for case in range(400):
        els = _elements(rng, rng.randrange(0, 40))
        parts_c, parts_p = [], []
        compiled_mod.lp_entries(els, parts_c)
        pure_enc.lp_entries(els, parts_p)
        assert parts_c == parts_p
        lp = pure_enc.lp_build(els)
        assert _same("lp_decode", lp, True, True)[0] == "ok"
        # corrupt copies: truncated, a byte changed, a wrong header
        for _ in range(6):
            b = bytearray(lp)
            how = rng.randrange(3)
            if how == 0 and len(b) > 7:
                b = b[:rng.randrange(7, len(b))]
            elif how == 1:
                b[rng.randrange(len(b))] = rng.randrange(256)
            else:
                b[0:4] = struct.pack("<I", rng.randrange(len(b) + 3))
            for cc, se in ((True, True), (False, False)):
                _same("lp_decode", bytes(b), cc, se)


def _records(rng, n):
    """RDB string records of every kind read_string_run meets; returns the bytes, the
    number of records and the value of each record up to the first one a run stops at."""
    recs = []
    values = []
    stopped = False

    def add(rec, value):
        recs.append(rec)
        if value is None:
            nonlocal stopped
            stopped = True
        elif not stopped:
            values.append(value)
    for _ in range(n):
        k = rng.randrange(8)
        if k < 3:
            s = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
            add(bytes((len(s),)) + s, s)
        elif k < 6 or k == 6:
            # one integer (k 3-5), or a run of integers of one width (k 6); every width
            # from its most negative value to its largest
            w, fmt, tag = [(1, "<b", b"\xc0"), (2, "<h", b"\xc1"), (4, "<i", b"\xc2")][
                k - 3 if k < 6 else rng.randrange(3)]
            lo, hi = -(1 << (8 * w - 1)), 1 << (8 * w - 1)
            for _ in range(1 if k < 6 else rng.randrange(2, 1500 if k == 6 and
                                                          rng.randrange(8) == 0 else 80)):
                v = rng.choice([lo, hi - 1, 0, -1, rng.randrange(lo, hi)])
                add(tag + struct.pack(fmt, v), b"%d" % v)
        else:
            # a record the run stops at: a longer string, LZF, a 64-bit length
            add(rng.choice([b"\x40\x50" + b"x" * 80, b"\xc3\x01\x02",
                            b"\x80\x00\x00\x00\x01z", b"\xc4"]), None)
    return b"".join(recs), len(recs), values


def test_string_runs_read_the_values():
    """read_string_run (whichever runs here) against the values the records were made
    of: strings, integers alone and in runs of every width and sign, up to 1500 long."""
    rng = random.Random(23)
    for case in range(300):
        data, n, values = _records(rng, rng.randrange(1, 30))
        out = [b"before"]
        p = encodings.read_string_run(data, 0, len(data), n, out)
        assert out[1:] == values
        assert (p == len(data)) == (len(values) == n)


@needs_build
def test_string_runs_alike():
    rng = random.Random(11)
    for case in range(600):
        data, n, _values = _records(rng, rng.randrange(1, 30))
        pad = b"\x07" * rng.randrange(3)         # the run must stop at `end`, not len
        d = pad + data + b"\x05abcde"
        end = len(pad) + rng.choice([len(data), len(data) - 1, len(data) // 2, 0])
        for want in (n, n + 3, max(n // 2, 0), 0):
            _same("read_string_run", d, len(pad), max(end, len(pad)), want, [b"before"])
        # a bad position: past the end, or within a record
        _same("read_string_run", d, len(d) + 2, len(d), n, [])


@needs_build
def test_scored_runs_alike():
    rng = random.Random(13)
    for case in range(400):
        recs = []
        n = rng.randrange(1, 20)
        for _ in range(n):
            m = bytes(rng.randrange(256) for _ in range(rng.choice([0, 3, 63, 64, 70])))
            if len(m) < 64:
                recs.append(bytes((len(m),)) + m)
            else:
                recs.append(b"\x40" + bytes((len(m),)) + m)
            recs.append(struct.pack("<d", rng.choice([0.0, -0.0, 1.5, float("inf"),
                                                       float("nan"), -3e300])))
        d = b"".join(recs)
        for end in (len(d), len(d) - 1, len(d) // 2):
            for want in (n, n + 1, 1):
                _same("read_scored_run", d, 0, end, want, [], [])


def _strings(rng, n):
    """Strings as set members and hash fields come: numbers of every width and form,
    short and long text (LZF-compressible or not)."""
    out = []
    for _ in range(n):
        k = rng.randrange(9)
        if k < 3:
            out.append(str(rng.randrange(-(1 << 40), 1 << 40) >> rng.randrange(41)).encode())
        elif k == 3:
            out.append(rng.choice([b"0", b"-0", b"00", b"01", b"-", b"2147483647",
                                   b"2147483648", b"-2147483648", b"-2147483649", b"1e3",
                                   b"12345678901", b"99999999999999999999", b"", b"+5"]))
        elif k < 6:
            out.append(b"member:%d" % rng.randrange(10 ** 6))
        elif k < 8:
            out.append(bytes(rng.randrange(256) for _ in range(rng.choice([1, 11, 12, 20,
                                                                           21, 63, 64]))))
        else:
            out.append(b"abc" * rng.randrange(7, 200))      # compressible
    return out


@needs_build
def test_string_records_alike():
    rng = random.Random(17)
    for case in range(500):
        strings = _strings(rng, rng.randrange(0, 40))
        if case % 5 == 0:       # integers of one width, as enc_ints_one_width takes them
            lo = rng.choice([1, 200, 40000, 1 << 30])
            strings = [b"%d" % (lo + rng.randrange(100)) for _ in range(rng.randrange(1, 60))]
        after = [b"<%d>" % i for i in range(len(strings))]
        for compress in (True, False):
            _same("enc_strings", strings, compress)
            _same("enc_strings", strings, compress, after)
            for x in strings[:5]:
                _same("enc_string", x, compress)
        _same("enc_ints_one_width", strings)
        for n in (0, 63, 64, 16383, 16384, (1 << 32) - 1, 1 << 32, (1 << 64) - 1):
            _same("enc_len", n)


@needs_build
def test_string_pairs_alike():
    rng = random.Random(19)
    for case in range(400):
        recs = []
        for _ in range(rng.randrange(1, 30)):
            k = bytes(rng.randrange(97, 100) for _ in range(rng.randrange(0, 3)))
            # (values of 0 and 1 bytes are shared objects: duplicates of them take a
            # branch of their own)
            v = rng.choice([b"", b"x", b"y", b"ab",
                            bytes(rng.randrange(256) for _ in range(rng.choice([30, 63])))])
            t = rng.choice([0, 0, 0, 0, 1])          # now and then not a string key
            if rng.randrange(12) == 0:
                recs.append(b"\x00\x40\x41" + b"k" * 65 + b"\x01v")     # a long key
            recs.append(bytes((t, len(k))) + k + bytes((len(v),)) + v)
        data = b"REDIS" + b"".join(recs) + b"\xff"
        for stop in (len(data), len(data) - 1, len(data) // 2):
            for start in ({}, {b"a": b"x"}, {b"": b"y"}):
                a = _outcome(compiled_mod.read_string_pairs, data, 5, stop, dict(start))
                b = _outcome(pure_enc.read_string_pairs, data, 5, stop, dict(start))
                assert repr(a) == repr(b)
                d1, d2 = dict(start), dict(start)
                compiled_mod.read_string_pairs(data, 5, stop, d1)
                pure_enc.read_string_pairs(data, 5, stop, d2)
                assert d1 == d2


@needs_build
def test_scan_deal_alike():
    """SCAN's snapshot buckets: the compiled hash arithmetic (unsigned C integers) puts
    every element where the .py's exact integers do."""
    assert compiled_scan is not None
    rng = random.Random(11)
    for n in (0, 1, 7, 300, 5000):
        keys = [rng.randbytes(rng.randrange(0, 20)) for _ in range(n)]
        keys += [rng.randrange(-(1 << 70), 1 << 70) for _ in range(n // 4)] + [-1, -2, 0]
        for coll in (dict.fromkeys(keys), set(keys), keys):
            for bits in (1, 4, 10, 13):
                sh = 63 - bits + 1
                got = compiled_scan.deal(coll, sh, 1 << bits)
                assert got == pure_scan.deal(coll, sh, 1 << bits)
                assert sum(map(len, got)) == len(coll)
                assert all(((hash(k) + (1 << 63)) >> sh) == b
                           for b, bucket in enumerate(got) for k in bucket)


def test_info_reports_the_build(tmp_path):
    """INFO server names the modules running compiled ("none" for pure Python), and
    REDISLET_PURE=1 runs the .py of each."""
    def info_compiled(env):
        code = ("from redislet._build import compiled_in_use; "
                "print(','.join(compiled_in_use()) or 'none')")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()
    env = dict(os.environ)
    env.pop("REDISLET_PURE", None)
    expected = ",".join(n.partition(".")[2] for n in _build.COMPILED) \
        if COMPILED_BUILD else "none"
    assert info_compiled(env) == expected
    env["REDISLET_PURE"] = "1"
    assert info_compiled(env) == "none"


def test_info_server_field(raw):
    v = dict(line.split(":", 1) for line in
             raw().cmd("INFO", "server").decode().split("\r\n") if ":" in line)
    expected = ",".join(n.partition(".")[2] for n in _build.COMPILED) \
        if COMPILED_BUILD and not os.environ.get("REDISLET_PURE") else "none"
    assert v["redislet_compiled"] == expected
    assert encodings.__file__.endswith(".py") == (expected == "none")


@pytest.mark.skipif(os.environ.get("REDISLET_REQUIRE_COMPILED") != "1",
                    reason="set REDISLET_REQUIRE_COMPILED=1 where the build must compile "
                           "(CI does)")
def test_the_build_compiled():
    assert COMPILED_BUILD, "redislet.persistence.encodings was not compiled"
    assert compiled_mod.__file__ != pure_enc.__file__
    assert compiled_scan is not None, "redislet.scan was not compiled"
    # every module of the list, all at once (they share extension types)
    assert _build.compiled_in_use() == [n.partition(".")[2] for n in _build.COMPILED]
