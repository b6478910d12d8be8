"""Cluster bus codec (redislet/cluster/proto.py): layout, round trips, Redis 7.0.15's
validation verdicts and log lines, a fuzz run, and a differential test where this
codec plays fake nodes against a real redis-server in cluster mode."""
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from redislet.cluster import proto as P

REDIS_SRC_H = "/tmp/redis-src/src/cluster.h"


def name40(tag=None):
    return os.urandom(20).hex().encode() if tag is None else (tag * 40)[:40].encode()


def header(mtype, **kw):
    kw.setdefault("myip", "127.0.0.1")
    kw.setdefault("port", 7000)
    kw.setdefault("cport", 17000)
    kw.setdefault("flags", P.NODE_MASTER)
    return P.Header(mtype, name40("a"), **kw)


def patch(buf, fmt, off, *vals):
    b = bytearray(buf)
    struct.pack_into(fmt, b, off, *vals)
    return bytes(b)


# ----------------------------------------------------------------------------- layout

def test_sizes():
    assert (P.HEADER_LEN, P.MIN_LEN, P.GOSSIP_LEN, P.MSG_SIZE) == (2256, 2256, 104, 4352)
    assert (P.FAIL_LEN, P.UPDATE_LEN, P.PUBLISH_FIXED, P.MODULE_FIXED) == \
        (2296, 4352, 2264, 2269)
    assert P.TYPE_COUNT == len(P.TYPE_NAMES) == 11
    assert [P.type_name(t) for t in (P.FAILOVER_AUTH_REQUEST, P.PUBLISHSHARD, 11, 999)] \
        == ["auth-req", "publishshard", "unknown", "unknown"]
    assert P.NODE_NOFAILOVER == 512 and P.MFLAG0_EXT_DATA == 4


def test_header_offsets_match_cluster_h_static_asserts():
    h = P.Header(P.UPDATE, b"S" * 40, ver=0x0102, totlen=0x03040506, count=0x0708,
                 current_epoch=0x1112131415161718, config_epoch=0x2122232425262728,
                 offset=0x3132333435363738, myslots=bytes(range(256)) * 8,
                 slaveof=b"M" * 40, myip="1.2.3.4", extensions=0x4142, port=0x5152,
                 pport=0x6162, cport=0x7172, flags=0x8182, state=0x91, mflags=0xA1,
                 mflags_rest=b"\xa2\xa3")
    b = P.pack_header(h)
    assert isinstance(b, bytearray) and len(b) == 2256
    expect = [  # (offset, format, value): cluster.h's static_assert list
        (0, "4s", b"RCmb"), (4, "!I", 0x03040506), (8, "!H", 0x0102),
        (10, "!H", 0x5152), (12, "!H", P.UPDATE), (14, "!H", 0x0708),
        (16, "!Q", 0x1112131415161718), (24, "!Q", 0x2122232425262728),
        (32, "!Q", 0x3132333435363738), (40, "40s", b"S" * 40),
        (80, "2048s", bytes(range(256)) * 8), (2128, "40s", b"M" * 40),
        (2168, "46s", b"1.2.3.4".ljust(46, b"\0")), (2214, "!H", 0x4142),
        (2216, "30s", bytes(30)), (2246, "!H", 0x6162), (2248, "!H", 0x7172),
        (2250, "!H", 0x8182), (2252, "B", 0x91), (2253, "3s", b"\xa1\xa2\xa3")]
    for off, fmt, val in expect:
        assert struct.unpack_from(fmt, b, off)[0] == val, off
    back = P.unpack_header(b)
    assert back == h


def test_gossip_and_data_offsets():
    g = P.Gossip(b"N" * 40, 0x01020304, 0x05060708, "10.0.0.1", 0x1112, 0x2122, 0x3132,
                 0x4142)
    b = P.pack_gossip(g)
    assert len(b) == 104
    for off, fmt, val in [(0, "40s", b"N" * 40), (40, "!I", 0x01020304),
                          (44, "!I", 0x05060708), (48, "46s", b"10.0.0.1".ljust(46, b"\0")),
                          (94, "!H", 0x1112), (96, "!H", 0x2122), (98, "!H", 0x3132),
                          (100, "!H", 0x4142), (102, "!H", 0)]:
        assert struct.unpack_from(fmt, b, off)[0] == val, off
    # UPDATE: configEpoch @0, nodename @8, slots @48 of the data union.
    m = P.build_update(header(P.PING), 0x0102030405060708, b"U" * 40, P.slots_bitmap([7]))
    assert struct.unpack_from("!Q40s", m, 2256) == (0x0102030405060708, b"U" * 40)
    assert m[2256 + 48] == 0x80 and len(m) == 4352
    # MODULE: module_id @0 in host (little-endian) order, len @8, type @12, data @13.
    m = P.build_module(header(P.PING), 0x0102030405060708, 0xAB, b"xyz")
    assert m[2256:2264] == bytes.fromhex("0807060504030201")
    assert struct.unpack_from("!IB", m, 2264) == (3, 0xAB) and m[2269:] == b"xyz"


@pytest.mark.skipif(not (shutil.which("gcc") and os.path.exists(REDIS_SRC_H)),
                    reason="needs gcc and the Redis 7.0.15 source at /tmp/redis-src")
def test_sizes_against_compiled_cluster_h(tmp_path):
    """Compile cluster.h itself and compare C's sizeof/offsetof with the codec."""
    src = tmp_path / "chk.c"
    src.write_text(r"""
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <assert.h>
typedef long long mstime_t; typedef struct connection connection; typedef char *sds;
typedef struct dictEntry dictEntry; typedef struct dict dict; typedef struct rax rax;
typedef struct list list; typedef struct client client; typedef struct robj robj;
typedef struct redisDb redisDb; struct redisCommand;
#define NET_IP_STR_LEN 46
#include "%s"
#define HDR (sizeof(clusterMsg) - sizeof(union clusterMsgData))
int main(void) {
    printf("%%zu %%zu %%zu %%zu %%zu %%zu %%zu %%zu %%zu %%zu\n", sizeof(clusterMsg),
        (size_t)CLUSTERMSG_MIN_LEN, sizeof(clusterMsgDataGossip),
        HDR + sizeof(clusterMsgDataFail), HDR + sizeof(clusterMsgDataUpdate),
        HDR + sizeof(clusterMsgDataPublish) - 8, HDR + sizeof(clusterMsgModule) - 3,
        sizeof(clusterMsgPingExt), offsetof(clusterMsgDataGossip, pport),
        offsetof(clusterMsgModule, type));
    return 0;
}
""" % REDIS_SRC_H)
    exe = tmp_path / "chk"
    subprocess.run(["gcc", "-o", str(exe), str(src)], check=True, timeout=60)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=10).stdout
    assert [int(x) for x in out.split()] == [
        P.MSG_SIZE, P.MIN_LEN, P.GOSSIP_LEN, P.FAIL_LEN, P.UPDATE_LEN, P.PUBLISH_FIXED,
        P.MODULE_FIXED, P.EXT_HDR_LEN, 100, 12]


# ----------------------------------------------------------------------------- round trips

def test_ping_round_trip_with_gossip_and_hostname():
    h = header(P.MEET, current_epoch=9, config_epoch=4, offset=1234,
               myslots=P.slots_bitmap(range(100, 200)), mflags=P.MFLAG0_PAUSED)
    gs = [P.Gossip(name40(), 1700000000, 1700000001, "10.1.2.3", 6379, 16379,
                   P.NODE_MASTER | P.NODE_PFAIL, 0),
          P.Gossip(name40(), 0, 0, "::1", 1, 2, P.NODE_SLAVE, 3)]
    before = h.copy()
    b = P.build_ping(h, gs, hostname="rnode.test")
    assert h == before                       # builders do not touch the caller's header
    # 10 chars + NUL -> 16 bytes of data + the 8-byte extension header.
    assert len(b) == 2256 + 2 * 104 + 24
    assert b[-24:] == struct.pack("!IHH", 24, P.EXT_HOSTNAME, 0) + b"rnode.test" + bytes(6)
    m, why = P.parse_ex(b)
    assert why is None and m.type == P.MEET and m.counted
    assert m.gossip == gs and m.hostname == "rnode.test"
    assert m.exts == [(0, b"rnode.test" + bytes(6))]
    exp = before.copy()
    exp.totlen, exp.count, exp.extensions = len(b), 2, 1
    exp.mflags = P.MFLAG0_PAUSED | P.MFLAG0_EXT_DATA
    assert m.header == exp
    assert P.bitmap_slots(m.header.myslots) == list(range(100, 200))


@pytest.mark.parametrize("hostname,extlen", [("abcdefg", 16), ("abcdefgh", 24), ("a", 16)])
def test_hostname_padding(hostname, extlen):
    b = P.build_ping(header(P.PING), [], hostname=hostname)
    assert len(b) == 2256 + extlen and struct.unpack_from("!I", b, 2256)[0] == extlen
    assert P.parse(b).hostname == hostname


def test_no_hostname_means_no_ext_data_flag():
    # 7.0.15 sets CLUSTERMSG_FLAG0_EXT_DATA only when it writes the hostname extension.
    for hn in (None, ""):
        b = P.build_ping(header(P.PONG), [], hostname=hn)
        assert len(b) == 2256 and b[2253] == 0 and struct.unpack_from("!H", b, 2214)[0] == 0
        m = P.parse(b)
        assert m.exts == [] and m.hostname is None and m.gossip == []


def test_extra_extensions_round_trip():
    b = P.build_ping(header(P.PING), [], hostname="h", exts=[(1, b"human"), (3, b"")])
    m = P.parse(b)
    assert m.header.extensions == 3 and m.hostname == "h"
    assert m.exts == [(0, b"h\0" + bytes(6)), (1, b"human" + bytes(3)), (3, b"")]


def test_other_types_round_trip():
    h = header(P.PING, slaveof=name40("m"), flags=P.NODE_SLAVE, count=5, extensions=3)
    fb = P.build_fail(h, name40("f"))
    m = P.parse(fb)
    assert len(fb) == 2296 and m.type == P.FAIL and m.fail_nodename == name40("f")
    assert m.header.count == 0 and m.header.extensions == 0 and m.header.slaveof == name40("m")

    for t in (P.PUBLISH, P.PUBLISHSHARD):
        b = P.build_publish(header(t), b"chan", b"m\0\xffsg")
        m = P.parse(b)
        assert len(b) == 2264 + 4 + 5 and m.type == t
        assert (m.channel, m.message) == (b"chan", b"m\0\xffsg")
    assert P.parse(P.build_publish(header(P.PUBLISH), "", "")).channel == b""

    b = P.build_update(h, 77, name40("u"), P.slots_bitmap([0, 16383]))
    m = P.parse(b)
    assert (m.type, m.update_config_epoch, m.update_nodename) == (P.UPDATE, 77, name40("u"))
    assert P.bitmap_slots(m.update_slots) == [0, 16383]

    b = P.build_module(h, 2**64 - 2, 255, b"\0" * 1000)
    m = P.parse(b)
    assert len(b) == 2269 + 1000 and m.type == P.MODULE
    assert (m.module_id, m.module_type, m.module_payload) == (2**64 - 2, 255, b"\0" * 1000)

    for t in (P.FAILOVER_AUTH_REQUEST, P.FAILOVER_AUTH_ACK, P.MFSTART):
        b = P.build_simple(header(t, mflags=P.MFLAG0_FORCEACK))
        m = P.parse(b)
        assert len(b) == 2256 and m.type == t and m.header.mflags == P.MFLAG0_FORCEACK

    with pytest.raises(ValueError):
        P.build_simple(header(P.PING))
    with pytest.raises(ValueError):
        P.build_ping(header(P.FAIL), [])
    with pytest.raises(ValueError):
        P.build_fail(h, b"short")


def test_header_string_fields():
    # strncpy(myip, announce_ip, 45): at most 45 bytes, always NUL-terminated.
    b = P.build_simple(header(P.MFSTART, myip="x" * 60))
    assert b[2168:2214] == b"x" * 45 + b"\0"
    assert P.parse(b).header.myip == "x" * 45
    assert P.parse(P.build_simple(header(P.MFSTART, myip=""))).header.myip == ""
    # Bytes after the NUL (Redis may leave garbage there) are ignored.
    raw = patch(b, "46s", 2168, b"1.2.3.4\0junk")
    assert P.parse(raw).header.myip == "1.2.3.4"


# ----------------------------------------------------------------------------- validation

def test_frame_length():
    b = P.build_simple(header(P.MFSTART))
    assert P.frame_length(b[:8]) == 2256
    assert P.frame_length(b"RCmb" + struct.pack("!I", 2255)) is None
    assert P.frame_length(b"RCmc" + struct.pack("!I", 3000)) is None
    assert P.frame_length(b"RCmb") is None
    assert P.frame_length(b"RCmb" + struct.pack("!I", 2**32 - 1)) == 2**32 - 1
    assert P.BAD_FRAME_LOG == "Bad message length or signature received from Cluster bus."


def test_verdicts_and_log_lines():
    ping = P.build_ping(header(P.PING), [], hostname="host")
    ok = P.build_publish(header(P.PUBLISH), b"c", b"m")
    cases = [
        (b"XXXX" + ok[4:], P.BAD_FRAME_LOG),
        (patch(ok, "!I", 4, 100), P.BAD_FRAME_LOG),
        (ok[:-1], None),                                    # truncated: silent
        (patch(ok, "!H", 8, 2), None),                      # other version: ignored
        (patch(ok, "!I", 2256, 2),
         "Received invalid publish packet of length 2266 but expected length 2267"),
        (patch(ping, "!H", 14, 1),
         "Received invalid ping packet with gossip count 1 that exceeds total packet "
         "length (2272)"),
        (patch(ping[:2256], "!I", 4, 2256),                 # flag and count kept, no ext
         "Received invalid ping packet with extension data that exceeds total packet "
         "length (2256)"),
        (patch(ping, "!I", 2256, 12),
         "Received a ping packet without proper padding (12 bytes)"),
        (patch(ping, "!I", 2256, 0),
         "Received a ping packet without proper padding (0 bytes)"),
        (patch(ping, "!I", 2256, 24),
         "Received invalid ping packet with extension data that exceeds total packet "
         "length (2272)"),
        (patch(ping, "!H", 2214, 2),                        # no room for a 2nd header
         "Received invalid ping packet with extension data that exceeds total packet "
         "length (2272)"),
        (patch(ping, "B", 2271, ord("x")),                  # hostname not NUL-ended
         "Received ping packet with missing null terminator in extension type 0"),
        (P.build_ping(header(P.MEET), [], exts=[(0, b"")]),  # empty hostname extension
         "Received meet packet with missing null terminator in extension type 0"),
        (patch(P.build_ping(header(P.PING), [], hostname="host") + bytes(8), "!I", 4, 2280),
         "Received invalid ping packet of length 2280 but expected length 2272"),
        (patch(P.build_simple(header(P.MFSTART)) + b"x", "!I", 4, 2257),
         "Received invalid mfstart packet of length 2257 but expected length 2256"),
    ]
    for buf, why in cases:
        assert P.parse_ex(buf) == (None, why), why
        assert P.parse(buf) is None


def test_redis_quirks_accepted():
    ping = P.build_ping(header(P.PONG), [], hostname="host")
    # The u32 extension length is read into a u16 by the check: 0x10010 counts as 16.
    m = P.parse(patch(ping, "!I", 2256, 0x10010))
    assert m is not None and m.hostname == "host"
    # Without MFLAG0_EXT_DATA the extensions field is not followed (nothing was sent).
    bare = patch(patch(patch(ping[:2256], "!I", 4, 2256), "B", 2253, 0), "!H", 2214, 5)
    m = P.parse(bare)
    assert m.exts == [] and m.hostname is None and m.header.extensions == 5
    # Unknown types are assumed well formed; Redis only counts types < TYPE_COUNT.
    raw = bytearray(P.build_simple(header(P.MFSTART)) + b"anything")
    struct.pack_into("!I", raw, 4, len(raw))
    struct.pack_into("!H", raw, 12, 42)
    m = P.parse(bytes(raw))
    assert m.type == 42 and not m.counted and m.gossip is None
    # A hostname followed by an extension type 7.0.15 does not know.
    b = P.build_ping(header(P.PING), [], exts=[(0, b"1234567\0"), (9, b"x")])
    m = P.parse(b)
    assert m.hostname == "1234567" and m.exts[1] == (9, b"x" + bytes(7))
    # The cursor moves by the whole u32: a >64 KB first length sends it past the end.
    two = P.build_ping(header(P.PING), [], hostname="host", exts=[(9, b"x")])
    assert P.parse_ex(patch(two, "!I", 2256, 0x10010)) == (None, None)


def test_length_wraparound_is_dropped():
    # channel_len + message_len wrap the u32 explen back to totlen: Redis's check passes
    # but it would then read 4 GB past the packet.
    b = P.build_publish(header(P.PUBLISH), b"ab", b"")
    wrapped = patch(b, "!II", 2256, 2, 2**32 - 1)     # 2264 + 2 + (2**32-1) == 2265 mod 2**32
    wrapped = patch(wrapped[:-1], "!I", 4, 2265)
    assert P.parse_ex(wrapped) == (None, None)
    # Module: 2269 + (2**32 - 1) == 2268 mod 2**32.
    m = P.build_module(header(P.PING), 1, 1, b"")[:2268]
    m = patch(patch(m, "!I", 4, 2268), "!I", 2264, 2**32 - 1)
    assert P.parse_ex(m) == (None, None)


def test_parse_accepts_bytearray_and_memoryview():
    b = P.build_fail(header(P.PING), name40("z"))
    assert P.parse(bytearray(b)).fail_nodename == name40("z")
    assert P.parse(memoryview(b)).fail_nodename == name40("z")
    assert P.parse_ex("not bytes") == (None, None)


# ----------------------------------------------------------------------------- fuzz

def _samples():
    h = header(P.PING, myslots=P.slots_bitmap(range(50)))
    gs = [P.Gossip(name40(), 1, 2, "1.1.1.1", 1, 2, 1, 0) for _ in range(3)]
    out = [P.build_ping(h, gs, hostname="fuzz.host"), P.build_ping(h, []),
           P.build_ping(h, gs[:1], hostname="a", exts=[(1, b"b"), (2, b"c" * 20)]),
           P.build_fail(h, name40()), P.build_update(h, 1, name40(), P.slots_bitmap([1])),
           P.build_module(h, 5, 6, b"payload"), P.build_simple(header(P.MFSTART))]
    for t in (P.PUBLISH, P.PUBLISHSHARD):
        out.append(P.build_publish(header(t), b"ch", b"msg"))
    return out


def test_fuzz_never_raises():
    rnd = random.Random(20240607)
    samples = _samples()
    # Fields whose corruption exercises the length logic.
    hot = [(4, "!I"), (8, "!H"), (12, "!H"), (14, "!H"), (2214, "!H"), (2253, "B"),
           (2256, "!I"), (2260, "!I"), (2264, "!I")]
    outcomes = {"ok": 0, "silent": 0, "logged": 0}
    templates = [P.BAD_FRAME_LOG, P.GOSSIP_COUNT_LOG, P.MISSING_NUL_LOG, P.BAD_PADDING_LOG,
                 P.EXT_OVERFLOW_LOG, P.BAD_LENGTH_LOG]
    known = re.compile("|".join(
        re.escape(t).replace("%s", "[a-z-]+").replace("%d", "[0-9]+") for t in templates)
        + "$")
    deadline = time.monotonic() + 2.5
    n = 0
    while n < 50000 and time.monotonic() < deadline:
        n += 1
        kind = n % 5
        base = rnd.choice(samples)
        if kind == 0:       # random bytes, sometimes with a valid-looking frame start
            buf = rnd.randbytes(rnd.randrange(0, 3000))
            if rnd.random() < 0.5 and len(buf) >= 8:
                buf = b"RCmb" + struct.pack("!I", len(buf)) + buf[8:]
        elif kind == 1:     # truncated
            buf = base[:rnd.randrange(0, len(base))]
        elif kind == 2:     # random byte flips, totlen kept consistent
            b = bytearray(base)
            for _ in range(rnd.randrange(1, 8)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            struct.pack_into("!I", b, 4, len(b))
            buf = bytes(b)
        elif kind == 3:     # hostile values in the length/count fields
            b = bytearray(base)
            off, fmt = rnd.choice(hot)
            if off + struct.calcsize(fmt) <= len(b):
                lim = 2 ** (8 * struct.calcsize(fmt))
                struct.pack_into(fmt, b, off, rnd.choice([0, 1, 8, 16, 24, lim - 1,
                                                          lim // 2, rnd.randrange(lim)]))
            if rnd.random() < 0.5:
                b[2253] |= P.MFLAG0_EXT_DATA
            buf = bytes(b)
        else:               # extra or missing tail with a matching totlen
            b = bytearray(base[:rnd.randrange(2256, len(base) + 1)] +
                          rnd.randbytes(rnd.randrange(0, 64)))
            struct.pack_into("!I", b, 4, len(b))
            buf = bytes(b)
        msg, why = P._parse(memoryview(buf))     # unguarded: a bug must show up here
        assert msg is None or why is None
        assert why is None or known.match(why), why
        outcomes["ok" if msg else "logged" if why else "silent"] += 1
    assert n >= 2000, "only %d fuzz cases ran" % n
    assert all(outcomes.values()), outcomes


def test_huge_counts_are_cheap():
    t0 = time.monotonic()
    ping = P.build_ping(header(P.PING), [])
    assert P.parse_ex(patch(ping, "!H", 14, 65535))[1].startswith(
        "Received invalid ping packet with gossip count 65535")
    # 65535 valid 8-byte extensions (1/2 MB) are walked once each.
    many = P.build_ping(header(P.PING), [], exts=[(9, b"")] * 65535)
    m = P.parse(many)
    assert len(m.exts) == 65535 and m.hostname is None
    assert P.parse_ex(patch(many, "!I", 4, len(many) - 8))[0] is None
    # A frame claiming 4 GB is just "not complete yet" to parse.
    assert P.parse_ex(patch(ping, "!I", 4, 2**32 - 1)) == (None, None)
    assert time.monotonic() - t0 < 3


# ----------------------------------------------------------------------------- real Redis

def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


class FakeNode:
    """A fake cluster node speaking through the codec: a bus listener, and links whose
    incoming frames are parsed in reader threads (PING/MEET answered with a PONG)."""

    def __init__(self, slots=(), config_epoch=0, hostname=None):
        from conftest import free_port
        self.name = name40()
        self.port = free_port()                 # never listened on: Redis doesn't use it
        self.slots = P.slots_bitmap(slots)
        self.config_epoch = config_epoch
        self.current_epoch = config_epoch
        self.hostname = hostname
        self.answer = True                      # reply PONG to PING/MEET
        self.inbox = []                         # (origin, Message or None, reason, raw)
        self.cond = threading.Condition()
        self.send_lock = threading.Lock()
        self.socks = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.cport = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def header(self, mtype):
        return P.Header(mtype, self.name, myip="127.0.0.1", port=self.port, cport=self.cport,
                        flags=P.NODE_MASTER, myslots=self.slots,
                        config_epoch=self.config_epoch, current_epoch=self.current_epoch)

    def ping(self, mtype=P.PING, gossip=()):
        return P.build_ping(self.header(mtype), list(gossip), hostname=self.hostname)

    def connect(self, cport):
        s = socket.create_connection(("127.0.0.1", cport), timeout=5)
        s.settimeout(None)
        self._start(s, "dialed")
        return s

    def send(self, sock, data):
        with self.send_lock:
            sock.sendall(data)

    def mark(self):
        with self.cond:
            return len(self.inbox)

    def wait(self, pred, since=0, timeout=10):
        """The first (origin, msg, raw bytes) after index `since` matching pred."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for origin, msg, _, raw in self.inbox[since:]:
                    if msg is not None and pred(origin, msg):
                        return origin, msg, raw
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no matching message; got %r" % self.inbox[since:])
                self.cond.wait(left)

    def _accept(self):
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            self._start(s, "accepted")

    def _start(self, s, origin):
        self.socks.append(s)
        threading.Thread(target=self._read, args=(s, origin), daemon=True).start()

    def _read(self, s, origin):
        try:
            while True:
                first = recv_exact(s, 8)
                n = P.frame_length(first)
                if n is None:
                    raise AssertionError("bad frame from Redis: %r" % first)
                raw = first + recv_exact(s, n - 8)
                msg, why = P.parse_ex(raw)
                with self.cond:
                    self.inbox.append((origin, msg, why, raw))
                    self.cond.notify_all()
                if msg is not None and msg.type in (P.PING, P.MEET) and self.answer:
                    self.send(s, self.ping(P.PONG))
        except (OSError, ConnectionError, AssertionError) as e:
            with self.cond:
                self.inbox.append((origin, None, "reader stopped: %r" % e, b""))
                self.cond.notify_all()

    def close(self):
        self.listener.close()
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def cluster_nodes(raw):
    """CLUSTER NODES as {node id: fields}."""
    reply = raw.cmd("CLUSTER", "NODES")
    body = reply.split(b"\r\n", 1)[1][:-2].decode()
    return {line.split()[0]: line.split() for line in body.splitlines()}


def wait_for(fn, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out; last value %r" % (v,))
        time.sleep(0.05)


class RealCluster:
    def __init__(self, tmp):
        from conftest import Raw, free_port, start_real_redis
        self.bus = free_port()
        self.srv = start_real_redis(
            tmp, "--cluster-enabled", "yes",
            "--cluster-config-file", os.path.join(str(tmp), "nodes.conf"),
            "--cluster-port", str(self.bus), "--cluster-announce-hostname", "rnode.test")
        self.log_path = os.path.join(str(tmp), "server.log")
        self.fakes = []
        try:
            self.raw = Raw(self.srv.port)
            self.myid = self.raw.cmd("CLUSTER", "MYID").split(b"\r\n")[1]
        except BaseException:
            self.srv.stop()
            raise

    def fake(self, **kw):
        f = FakeNode(**kw)
        self.fakes.append(f)
        return f

    def nodes(self):
        return cluster_nodes(self.raw)

    def info(self):
        body = self.raw.cmd("CLUSTER", "INFO").decode()
        return dict(line.split(":", 1) for line in body.split("\r\n")[1:] if ":" in line)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=10):
        # Warnings look like "pid:M 06 Dec 2026 03:18:56.129 # <text>".
        wait_for(lambda: "# " + text + "\n" in self.log(), timeout)

    def close(self):
        for f in self.fakes:
            f.close()
        self.raw.close()
        self.srv.stop()


@pytest.fixture(scope="module")
def rc(tmp_path_factory):
    """A real redis-server in cluster mode that has met fake node F (slots 0-99,
    configEpoch 5, hostname fake-f.test) through a MEET built by the codec."""
    from conftest import REDIS_SERVER
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: the differential cluster bus test "
                    "needs Debian's redis-server 7.0.15")
    c = RealCluster(tmp_path_factory.mktemp("cluster-proto"))
    try:
        f = c.F = c.fake(slots=range(100), config_epoch=5, hostname="fake-f.test")
        c.link = f.connect(c.bus)           # F -> R: R sees an inbound link
        f.send(c.link, f.ping(P.MEET))
        _, c.meet_pong, c.meet_pong_raw = f.wait(lambda o, m: o == "dialed" and m.type == P.PONG)
        # R creates a handshake node for F and connects to F's bus port with a PING;
        # F's reader answers with a PONG carrying F's real name, ending the handshake.
        _, c.hs_ping, _ = f.wait(lambda o, m: o == "accepted" and m.type == P.PING)
        wait_for(lambda: f.name.decode() in c.nodes())
        yield c
    finally:
        c.close()


def test_real_pong_to_meet(rc):
    m, h = rc.meet_pong, rc.meet_pong.header
    assert h.sender == rc.myid
    assert h.flags == P.NODE_MYSELF | P.NODE_MASTER      # myself->flags, as is
    assert h.myslots == bytes(2048) and h.slaveof == P.NULL_NAME
    assert (h.port, h.cport, h.pport) == (rc.srv.port, rc.bus, 0)
    assert h.myip == "" and h.state == 1                  # no announce-ip; CLUSTER_FAIL
    assert (h.current_epoch, h.config_epoch, h.offset) == (0, 0, 0)
    # Only two nodes known: nothing to gossip. The announced hostname travels as the
    # one extension, flagged with EXT_DATA.
    assert h.count == 0 and m.gossip == []
    assert h.mflags == P.MFLAG0_EXT_DATA and h.extensions == 1
    assert m.exts == [(P.EXT_HOSTNAME, b"rnode.test" + bytes(6))] and m.hostname == "rnode.test"
    assert h.totlen == 2256 + 24
    # Re-encoding the parsed fields reproduces Redis's bytes exactly.
    assert reencode(m) == rc.meet_pong_raw


def reencode(m):
    return P.build_ping(m.header, m.gossip, hostname=m.hostname,
                        exts=[e for e in m.exts if e[0] != P.EXT_HOSTNAME])


def test_real_handshake(rc):
    h = rc.hs_ping.header
    assert rc.hs_ping.type == P.PING and h.sender == rc.myid
    assert h.flags == P.NODE_MYSELF | P.NODE_MASTER and rc.hs_ping.hostname == "rnode.test"
    line = rc.nodes()[rc.F.name.decode()]
    assert line[1].startswith("127.0.0.1:%d@%d" % (rc.F.port, rc.F.cport))
    assert line[2] == "master"


def test_real_learns_slots_epoch_hostname(rc):
    f = rc.F
    since = f.mark()
    f.send(rc.link, f.ping())
    _, pong, _ = f.wait(lambda o, m: o == "dialed" and m.type == P.PONG, since)
    assert pong.header.sender == rc.myid
    name = f.name.decode()
    line = wait_for(lambda: (lambda l: l if l[-1] == "0-99" else None)(rc.nodes()[name]))
    assert line[1] == "127.0.0.1:%d@%d,fake-f.test" % (f.port, f.cport)
    assert line[6] == "5"                                   # configEpoch
    slots = rc.raw.cmd("CLUSTER", "SLOTS")
    assert b":0\r\n:99\r\n" in slots and f.name in slots
    assert int(rc.info()["cluster_current_epoch"]) >= 5


def test_real_hostname_extension_only_when_set(rc):
    f = rc.F
    try:
        rc.raw.cmd("CONFIG", "SET", "cluster-announce-hostname", "")
        since = f.mark()
        f.send(rc.link, f.ping())
        _, pong, _ = f.wait(lambda o, m: o == "dialed" and m.type == P.PONG, since)
        h = pong.header
        assert h.mflags & P.MFLAG0_EXT_DATA == 0 and h.extensions == 0
        assert pong.exts == [] and h.totlen == 2256 + 104 * h.count
    finally:
        rc.raw.cmd("CONFIG", "SET", "cluster-announce-hostname", "rnode.test")
    # An extension type 7.0.15 does not know (7.2's human-nodename) is logged and
    # skipped; the hostname next to it is still taken.
    f.hostname = "other-f.test"
    f.send(rc.link, P.build_ping(f.header(P.PING), [], hostname=f.hostname,
                                 exts=[(1, b"human")]))
    rc.wait_log(P.UNKNOWN_EXT_LOG % 1)
    wait_for(lambda: rc.nodes()[f.name.decode()][1].endswith(",other-f.test"))
    # The length check keeps 16 bits of the u32: 0x10000 + 24 passes as 24. (F's
    # automatic PONGs, which carry its usual hostname, pause meanwhile.)
    quirk = P.build_ping(f.header(P.PING), [], hostname="quirk-f.test")
    quirk = patch(quirk, "!I", 2256, 0x10000 + 24)
    assert P.parse(quirk).hostname == "quirk-f.test"
    f.answer = False
    try:
        since = f.mark()
        f.send(rc.link, quirk)
        f.wait(lambda o, m: o == "dialed" and m.type == P.PONG, since)
        assert rc.nodes()[f.name.decode()][1].endswith(",quirk-f.test")
    finally:
        f.answer = True


def test_real_learns_gossip_and_gossips_back(rc):
    f = rc.F
    g = rc.fake(config_epoch=3)
    since_g = g.mark()
    entry = P.Gossip(g.name, 0, int(time.time()), "127.0.0.1", g.port, g.cport,
                     P.NODE_MASTER)
    f.send(rc.link, f.ping(gossip=[entry]))
    # A gossiped node is trusted as is (not a handshake): exact name, flags, address.
    line = wait_for(lambda: rc.nodes().get(g.name.decode()))
    assert line[1] == "127.0.0.1:%d@%d" % (g.port, g.cport) and line[2] == "master"
    # R now dials G; G's reader parses R's PING and answers.
    _, ping, _ = g.wait(lambda o, m: o == "accepted" and m.type == P.PING, since_g)
    assert ping.header.sender == rc.myid
    # R's gossip sections pick random nodes; ask until G shows up in one.
    seen = {}
    deadline = time.monotonic() + 10
    while g.name not in seen and time.monotonic() < deadline:
        since = f.mark()
        f.send(rc.link, f.ping())
        _, pong, _ = f.wait(lambda o, m: o == "dialed" and m.type == P.PONG, since)
        assert pong.header.count == len(pong.gossip)
        seen.update((e.nodename, e) for e in pong.gossip)
    e = seen[g.name]
    assert (e.ip, e.port, e.cport, e.pport) == ("127.0.0.1", g.port, g.cport, 0)
    assert e.flags & ~P.NODE_PFAIL == P.NODE_MASTER
    now = time.time()
    for t in (e.ping_sent, e.pong_received):                # unix seconds (or 0)
        assert t == 0 or abs(t - now) < 120
    if f.name in seen:
        fe = seen[f.name]
        assert (fe.port, fe.cport, fe.flags & ~P.NODE_PFAIL) == (f.port, f.cport,
                                                                 P.NODE_MASTER)
    rc.G = g


def test_real_update(rc):
    g = getattr(rc, "G", None)
    if g is None:
        pytest.skip("needs test_real_learns_gossip_and_gossips_back")
    f = rc.F
    f.send(rc.link, P.build_update(f.header(P.PING), 9, g.name,
                                   P.slots_bitmap(range(100, 200))))
    g.slots, g.config_epoch = P.slots_bitmap(range(100, 200)), 9   # keep G's PONGs in line
    line = wait_for(lambda: (lambda l: l if l[-1] == "100-199" else None)(
        rc.nodes()[g.name.decode()]))
    assert line[6] == "9"


def test_real_fail(rc):
    f = rc.F
    hname = name40()
    f.send(rc.link, f.ping(gossip=[P.Gossip(hname, 0, 0, "127.0.0.1", 1, 2,
                                            P.NODE_MASTER)]))
    wait_for(lambda: hname.decode() in rc.nodes())
    f.send(rc.link, P.build_fail(f.header(P.PING), hname))
    wait_for(lambda: "fail" in rc.nodes()[hname.decode()][2].split(","))


def test_real_publish(rc):
    from conftest import Raw
    sub = Raw(rc.srv.port)
    try:
        sub.cmd("SUBSCRIBE", "news")
        f = rc.F
        f.send(rc.link, P.build_publish(f.header(P.PUBLISH), b"news", b"bin\0\xff"))
        assert sub.read_reply() == b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nbin\0\xff\r\n"
    finally:
        sub.close()


def test_real_accepts_every_type_and_logs_what_we_predict(rc):
    f = rc.F
    before = rc.info()
    good = [P.build_simple(f.header(t))
            for t in (P.FAILOVER_AUTH_REQUEST, P.FAILOVER_AUTH_ACK, P.MFSTART)]
    good += [P.build_module(f.header(P.PING), 0x1234, 7, b"mod"),
             P.build_publish(f.header(P.PUBLISHSHARD), b"sh", b"msg")]
    unknown = bytearray(P.build_simple(f.header(P.MFSTART)) + b"future")
    struct.pack_into("!I", unknown, 4, len(unknown))
    struct.pack_into("!H", unknown, 12, 42)
    good.append(bytes(unknown))
    for b in good:
        assert P.parse(b) is not None
        f.send(rc.link, b)
    # Malformed packets: Redis must log exactly the line parse_ex predicts.
    ping = f.ping()                         # no gossip: the hostname ext is at 2256
    bad = [patch(P.build_publish(f.header(P.PUBLISH), b"c", b"m"), "!I", 2256, 5),
           patch(ping, "!I", 2256, 20),
           patch(ping, "!I", 2256, 0),
           patch(ping, "!I", 2256, len(ping) - 2256 + 8),
           patch(ping, "!H", 14, 3),
           patch(ping, "B", len(ping) - 1, ord("x")),
           P.build_ping(f.header(P.PING), [], exts=[(P.EXT_HOSTNAME, b"")]),
           patch(ping[:2256], "!I", 4, 2256),
           patch(ping + bytes(8), "!I", 4, len(ping) + 8),
           patch(P.build_update(f.header(P.PING), 1, f.name, bytes(2048))[:4000],
                 "!I", 4, 4000),
           patch(P.build_module(f.header(P.PING), 1, 1, b"abc"), "!I", 2264, 4)]
    for b in bad:
        msg, why = P.parse_ex(b)
        assert msg is None and why
        f.send(rc.link, b)
        rc.wait_log(why)
    rc.wait_log(P.UNKNOWN_TYPE_LOG % 42)
    # The link survived every rejected packet: Redis still answers a PING on it.
    since = f.mark()
    f.send(rc.link, f.ping())
    f.wait(lambda o, m: o == "dialed" and m.type == P.PONG, since)
    after = rc.info()
    for t in ("auth-req", "auth-ack", "mfstart", "module", "publishshard"):
        key = "cluster_stats_messages_%s_received" % t
        assert int(after.get(key, 0)) > int(before.get(key, 0)), key
    # A bad signature gets BAD_FRAME_LOG and the link closed.
    s = socket.create_connection(("127.0.0.1", rc.bus), timeout=5)
    try:
        s.sendall(b"RCmX" + struct.pack("!I", 2256) + bytes(2248))
        assert P.frame_length(b"RCmX" + struct.pack("!I", 2256)) is None
        rc.wait_log(P.BAD_FRAME_LOG)
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
    finally:
        s.close()


def test_real_traffic_all_parsed(rc):
    """Every frame the real node sent to any fake node parsed as valid."""
    total = 0
    for fake in rc.fakes:
        for origin, msg, why, raw in fake.inbox:
            if msg is None:
                assert why.startswith("reader stopped"), why
                continue
            total += 1
            assert msg.type in (P.PING, P.PONG), msg
            assert reencode(msg) == raw, msg
    assert total >= 5
