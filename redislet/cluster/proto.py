"""Cluster bus wire codec: Redis 7.0.15's clusterMsg, byte for byte.

Pure functions, no sockets or state. Layout facts come from src/cluster.h (the
static_asserts pin the header offsets); lengths are computed exactly like cluster.c.
All multi-byte fields are network order, except the MODULE message's module_id,
which Redis copies in host order (little-endian on every platform Redis ships on).

Receiving, as clusterReadHandler + clusterProcessPacket do:
  1. read 8 bytes, n = frame_length(first8); None -> log BAD_FRAME_LOG, close link;
  2. read until n bytes are buffered, then parse_ex(frame).
parse_ex returns (Message, None) when Redis would accept the packet, (None, None) when
it drops it silently and (None, log_line) when it drops it with an LL_WARNING line.
parse(buf) is parse_ex(buf)[0]. Neither ever raises.

The checks are those of the redis-server we test against, Debian's 7.0.15-1~deb12u10
(read from its clusterProcessPacket machine code): upstream 7.0.15 plus Debian's
cluster-bus fixes (CVE-2026-21863, CVE-2026-92925), which add GOSSIP_COUNT_LOG and
MISSING_NUL_LOG, reject extension lengths below 8 and check for room before each
extension header. They only differ from upstream on
packets where upstream reads outside the packet. Packets that pass every check but
would still make Redis read outside the packet (u32 length wrap-around, an extension
cursor moved past the end by a >64 KB length) are dropped silently.

Strings on the wire (myip, gossip ip, hostname) are C strings; they are decoded as
UTF-8 with surrogateescape, so arbitrary bytes survive a decode/encode round trip.
"""
import struct

# Sizes (cluster.h). sizeof(union clusterMsgData) is its largest member,
# clusterMsgDataUpdate: 8 + 40 + 2048 = 2096 bytes, already 8-byte aligned.
SLOTS = 16384
NAMELEN = 40
IPLEN = 46                      # NET_IP_STR_LEN
SLOTS_BYTES = SLOTS // 8
HEADER_LEN = 2256               # offsetof(clusterMsg, data)
UNION_LEN = 8 + NAMELEN + SLOTS_BYTES
MSG_SIZE = HEADER_LEN + UNION_LEN   # sizeof(clusterMsg) == 4352
MIN_LEN = HEADER_LEN            # CLUSTERMSG_MIN_LEN
GOSSIP_LEN = 104                # sizeof(clusterMsgDataGossip)
FAIL_LEN = HEADER_LEN + NAMELEN
UPDATE_LEN = HEADER_LEN + UNION_LEN
PUBLISH_FIXED = HEADER_LEN + 8  # + channel_len + message_len (16-byte struct minus 8)
MODULE_FIXED = HEADER_LEN + 13  # + len (16-byte struct minus the 3 placeholder bytes)
EXT_HDR_LEN = 8                 # sizeof(clusterMsgPingExt)
PROTO_VER = 1
SIG = b"RCmb"
NULL_NAME = b"\0" * NAMELEN

# Message types.
PING = 0
PONG = 1
MEET = 2
FAIL = 3
PUBLISH = 4
FAILOVER_AUTH_REQUEST = 5
FAILOVER_AUTH_ACK = 6
UPDATE = 7
MFSTART = 8
MODULE = 9
PUBLISHSHARD = 10
TYPE_COUNT = 11
TYPE_NAMES = ["ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack",
              "update", "mfstart", "module", "publishshard"]

# Node flags (clusterNode.flags; the header and gossip carry them as u16).
NODE_MASTER = 1
NODE_SLAVE = 2
NODE_PFAIL = 4
NODE_FAIL = 8
NODE_MYSELF = 16
NODE_HANDSHAKE = 32
NODE_NOADDR = 64
NODE_MEET = 128
NODE_MIGRATE_TO = 256
NODE_NOFAILOVER = 512

# mflags[0] bits.
MFLAG0_PAUSED = 1 << 0
MFLAG0_FORCEACK = 1 << 1
MFLAG0_EXT_DATA = 1 << 2

# Ping extension types.
EXT_HOSTNAME = 0

# Redis's log lines (serverLog format strings are filled in where parse_ex reports them).
BAD_FRAME_LOG = "Bad message length or signature received from Cluster bus."
GOSSIP_COUNT_LOG = ("Received invalid %s packet with gossip count %d that exceeds total "
                    "packet length (%d)")
MISSING_NUL_LOG = "Received %s packet with missing null terminator in extension type %d"
BAD_PADDING_LOG = "Received a %s packet without proper padding (%d bytes)"
EXT_OVERFLOW_LOG = ("Received invalid %s packet with extension data that exceeds "
                    "total packet length (%d)")
BAD_LENGTH_LOG = "Received invalid %s packet of length %d but expected length %d"
# Logged by the packet processing (not the codec); exported for the state machine.
UNKNOWN_EXT_LOG = "Received unknown extension type %d"
UNKNOWN_TYPE_LOG = "Received unknown packet type: %d"

_U32 = 0xFFFFFFFF

_HDR = struct.Struct("!4sIHHHHQQQ40s2048s40s46sH30sHHHB1s2s")
_GOSSIP = struct.Struct("!40sII46sHHHHH")
_FRAME = struct.Struct("!4sI")
_EXT = struct.Struct("!IHH")
_PUBLISH = struct.Struct("!II")
_UPDATE = struct.Struct("!Q40s2048s")
_MODULE = struct.Struct("<Q")       # module_id: host order, see module docstring
_MODULE_REST = struct.Struct("!IB")
assert _HDR.size == HEADER_LEN and _GOSSIP.size == GOSSIP_LEN and _UPDATE.size == UNION_LEN


def type_name(t):
    """clusterGetMessageTypeString."""
    return TYPE_NAMES[t] if 0 <= t < TYPE_COUNT else "unknown"


def _dec(b):
    """A C string field: up to the first NUL."""
    return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _enc(s):
    return s if isinstance(s, (bytes, bytearray)) else s.encode("utf-8", "surrogateescape")


def _name(b, what):
    b = _enc(b) if isinstance(b, str) else bytes(b)
    if len(b) != NAMELEN:
        raise ValueError("%s must be %d bytes" % (what, NAMELEN))
    return b


class Header:
    """The fixed clusterMsg header (everything before the data union)."""

    __slots__ = ("ver", "totlen", "type", "count", "current_epoch", "config_epoch",
                 "offset", "sender", "myslots", "slaveof", "myip", "extensions",
                 "port", "pport", "cport", "flags", "state", "mflags", "mflags_rest")

    def __init__(self, type=PING, sender=NULL_NAME, *, ver=PROTO_VER, totlen=0, count=0,
                 current_epoch=0, config_epoch=0, offset=0, myslots=bytes(SLOTS_BYTES),
                 slaveof=NULL_NAME, myip="", extensions=0, port=0, pport=0, cport=0,
                 flags=0, state=0, mflags=0, mflags_rest=b"\0\0"):
        self.ver = ver
        self.totlen = totlen
        self.type = type
        self.count = count
        self.current_epoch = current_epoch
        self.config_epoch = config_epoch
        self.offset = offset
        self.sender = sender
        self.myslots = myslots
        self.slaveof = slaveof          # all NUL: the sender is not a replica
        self.myip = myip                # "": receivers use the socket's peer address
        self.extensions = extensions
        self.port = port
        self.pport = pport
        self.cport = cport
        self.flags = flags
        self.state = state
        self.mflags = mflags            # mflags[0]
        self.mflags_rest = mflags_rest  # mflags[1..2], unused by 7.0.15

    def copy(self):
        h = Header.__new__(Header)
        for k in Header.__slots__:
            setattr(h, k, getattr(self, k))
        return h

    def __eq__(self, other):
        return isinstance(other, Header) and all(
            getattr(self, k) == getattr(other, k) for k in Header.__slots__)

    def __repr__(self):
        parts = ["%s=%r" % (k, getattr(self, k)) for k in Header.__slots__
                 if k != "myslots"]
        parts.append("slots=%d" % count_slots(self.myslots))
        return "Header(%s)" % ", ".join(parts)


class Gossip:
    """One clusterMsgDataGossip entry; ping_sent/pong_received are unix seconds."""

    __slots__ = ("nodename", "ping_sent", "pong_received", "ip", "port", "cport",
                 "flags", "pport")

    def __init__(self, nodename, ping_sent=0, pong_received=0, ip="", port=0, cport=0,
                 flags=0, pport=0):
        self.nodename = nodename
        self.ping_sent = ping_sent
        self.pong_received = pong_received
        self.ip = ip
        self.port = port
        self.cport = cport
        self.flags = flags
        self.pport = pport

    def __eq__(self, other):
        return isinstance(other, Gossip) and all(
            getattr(self, k) == getattr(other, k) for k in Gossip.__slots__)

    def __repr__(self):
        return "Gossip(%s)" % ", ".join("%s=%r" % (k, getattr(self, k))
                                        for k in Gossip.__slots__)


class Message:
    """A parsed packet: .header plus the fields of its type (others stay None).

    PING/PONG/MEET: .gossip [Gossip], .exts [(ext type, data incl. padding)],
                    .hostname (str from the last hostname extension, else None)
    FAIL: .fail_nodename       PUBLISH/PUBLISHSHARD: .channel, .message (bytes)
    UPDATE: .update_config_epoch, .update_nodename, .update_slots (2048-byte bitmap)
    MODULE: .module_id, .module_type, .module_payload
    .type is the raw u16 type; Redis counts it in stats_bus_messages_received only
    when it is < TYPE_COUNT (see .counted). Unknown types are accepted with no data.
    """

    __slots__ = ("header", "gossip", "exts", "hostname", "fail_nodename", "channel",
                 "message", "update_config_epoch", "update_nodename", "update_slots",
                 "module_id", "module_type", "module_payload")

    def __init__(self, header):
        self.header = header
        for k in Message.__slots__[1:]:
            setattr(self, k, None)

    @property
    def type(self):
        return self.header.type

    @property
    def counted(self):
        return self.header.type < TYPE_COUNT

    def __repr__(self):
        parts = ["type=%s" % type_name(self.type)]
        for k in Message.__slots__[1:]:
            v = getattr(self, k)
            if v is not None:
                parts.append("%s=%r" % (k, v))
        return "Message(%s)" % ", ".join(parts)


# ----------------------------------------------------------------------------- encode

def pack_header(h):
    """The 2256 header bytes of h, as clusterBuildMessageHdr lays them out."""
    ip = _enc(h.myip)[:IPLEN - 1]   # strncpy(myip, announce_ip, 45): always NUL-ended
    return bytearray(_HDR.pack(
        SIG, h.totlen, h.ver, h.port, h.type, h.count, h.current_epoch, h.config_epoch,
        h.offset, _name(h.sender, "sender"), _slots_bytes(h.myslots),
        _name(h.slaveof, "slaveof"), ip, h.extensions, b"", h.pport, h.cport, h.flags,
        h.state, bytes((h.mflags,)), bytes(h.mflags_rest)))


def _finish(h, body, mtype, count=0, extensions=0, mflags=None):
    """Header for a message of this type and body, with totlen/count/extensions set.
    h itself is not modified."""
    h = h.copy()
    h.type = mtype
    h.count = count
    h.extensions = extensions
    if mflags is not None:
        h.mflags = mflags
    h.totlen = HEADER_LEN + len(body)
    return bytes(pack_header(h)) + body


def pack_gossip(g):
    return _GOSSIP.pack(_name(g.nodename, "gossip nodename"), g.ping_sent & _U32,
                        g.pong_received & _U32, _enc(g.ip)[:IPLEN - 1], g.port, g.cport,
                        g.flags, g.pport, 0)


def _align8(n):
    return (n + 7) // 8 * 8


def pack_ext(ext_type, data):
    """One ping extension: 8-byte header, data zero-padded to 8 bytes (the length field
    counts the header and the padding)."""
    data = bytes(data)
    data += b"\0" * (_align8(len(data)) - len(data))
    return _EXT.pack(EXT_HDR_LEN + len(data), ext_type, 0) + data


def build_ping(h, gossip, hostname=None, exts=()):
    """PING, PONG or MEET (h.type) with these Gossip entries.

    As 7.0.15's clusterSendPing: a non-empty hostname adds the hostname extension
    (NUL-terminated, padded to 8) and only then sets MFLAG0_EXT_DATA; extensions counts
    the extensions written. exts: extra (type, data) extensions appended after it
    (7.0.15 sends none; useful to mimic newer peers)."""
    if h.type not in (PING, PONG, MEET):
        raise ValueError("build_ping needs type PING, PONG or MEET")
    parts = [pack_gossip(g) for g in gossip]
    allexts = []
    if hostname:
        allexts.append((EXT_HOSTNAME, _enc(hostname) + b"\0"))
    allexts.extend(exts)
    parts.extend(pack_ext(t, d) for t, d in allexts)
    mflags = h.mflags | MFLAG0_EXT_DATA if allexts else h.mflags
    return _finish(h, b"".join(parts), h.type, count=len(gossip),
                   extensions=len(allexts), mflags=mflags)


def build_fail(h, nodename):
    return _finish(h, _name(nodename, "nodename"), FAIL)


def build_publish(h, channel, message):
    """PUBLISH or PUBLISHSHARD (h.type)."""
    if h.type not in (PUBLISH, PUBLISHSHARD):
        raise ValueError("build_publish needs type PUBLISH or PUBLISHSHARD")
    channel, message = _enc(channel), _enc(message)
    body = _PUBLISH.pack(len(channel), len(message)) + channel + message
    return _finish(h, body, h.type)


def build_update(h, config_epoch, nodename, slots):
    return _finish(h, _UPDATE.pack(config_epoch, _name(nodename, "nodename"),
                                   _slots_bytes(slots)), UPDATE)


def build_module(h, module_id, mtype, payload):
    payload = bytes(payload)
    body = _MODULE.pack(module_id) + _MODULE_REST.pack(len(payload), mtype) + payload
    return _finish(h, body, MODULE)


def build_simple(h):
    """Header-only messages: FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART."""
    if h.type not in (FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART):
        raise ValueError("build_simple needs type FAILOVER_AUTH_REQUEST/ACK or MFSTART")
    return _finish(h, b"", h.type)


# ----------------------------------------------------------------------------- slots

def _slots_bytes(slots):
    slots = bytes(slots)
    if len(slots) != SLOTS_BYTES:
        raise ValueError("slots bitmap must be %d bytes" % SLOTS_BYTES)
    return slots


def slots_bitmap(slots):
    """A 2048-byte bitmap from slot numbers (Redis's bitmapSetBit: bit slot%8, LSB
    first, of byte slot//8)."""
    b = bytearray(SLOTS_BYTES)
    for s in slots:
        b[s >> 3] |= 1 << (s & 7)
    return bytes(b)


def bitmap_slots(bitmap):
    """The slot numbers set in a bitmap, ascending."""
    return [i * 8 + j for i, byte in enumerate(bitmap) if byte
            for j in range(8) if byte >> j & 1]


def count_slots(bitmap):
    return int.from_bytes(bitmap, "big").bit_count()


# ----------------------------------------------------------------------------- decode

def frame_length(first8):
    """clusterReadHandler's check on the first 8 bytes: the total length, or None for
    a bad signature / a length below MIN_LEN (Redis logs BAD_FRAME_LOG and frees the
    link). Fewer than 8 bytes also give None."""
    if len(first8) < 8:
        return None
    sig, totlen = _FRAME.unpack_from(first8)
    if sig != SIG or totlen < MIN_LEN:
        return None
    return totlen


def unpack_header(buf):
    """The header fields of buf (at least HEADER_LEN bytes); no validation."""
    (_, totlen, ver, port, mtype, count, cur, cfg, off, sender, myslots, slaveof, myip,
     exts, _, pport, cport, flags, state, mf0, mfrest) = _HDR.unpack_from(buf)
    h = Header.__new__(Header)
    h.ver, h.totlen, h.port, h.type, h.count = ver, totlen, port, mtype, count
    h.current_epoch, h.config_epoch, h.offset = cur, cfg, off
    h.sender, h.myslots, h.slaveof = sender, myslots, slaveof
    # nodeIp2String: at most 45 chars, it forces buf[45] = '\0'.
    h.myip = _dec(myip[:IPLEN - 1])
    h.extensions, h.pport, h.cport, h.flags, h.state = exts, pport, cport, flags, state
    h.mflags, h.mflags_rest = mf0[0], mfrest
    return h


def unpack_gossip(buf, pos):
    name, ps, pr, ip, port, cport, flags, pport, _ = _GOSSIP.unpack_from(buf, pos)
    return Gossip(name, ps, pr, _dec(ip), port, cport, flags, pport)


def parse(buf):
    """The Message in one complete frame, or None if Redis would not accept it."""
    return parse_ex(buf)[0]


def parse_ex(buf):
    """(Message, None) | (None, None) silently dropped | (None, log line) dropped."""
    try:
        return _parse(memoryview(buf).cast("B"))
    except Exception:   # a bug here must not kill a link handler; treat as invalid
        return None, None


def _parse(buf):
    totlen = frame_length(buf[:8])
    if totlen is None:
        return None, BAD_FRAME_LOG
    if totlen > len(buf):
        return None, None               # "totlen > link->rcvbuf_len": silent
    buf = buf[:totlen]
    h = unpack_header(buf)
    if h.ver != PROTO_VER:
        return None, None               # other protocol versions are ignored
    t = h.type
    name = type_name(t)
    msg = Message(h)

    if t in (PING, PONG, MEET):
        explen = HEADER_LEN + GOSSIP_LEN * h.count
        if explen > totlen:
            return None, GOSSIP_COUNT_LOG % (name, h.count, totlen)
        exts = []
        if h.mflags & MFLAG0_EXT_DATA:
            # As the check does: explen grows by the length's low 16 bits while the
            # cursor moves by the whole u32 length (they differ only past 64 KB).
            cursor = explen
            for _ in range(h.extensions):
                if totlen - explen < EXT_HDR_LEN:
                    return None, EXT_OVERFLOW_LOG % (name, totlen)
                if cursor + EXT_HDR_LEN > totlen:
                    return None, None   # Redis would read outside the packet
                length, etype, _ = _EXT.unpack_from(buf, cursor)
                extlen = length & 0xFFFF
                if extlen < EXT_HDR_LEN or extlen % 8:
                    return None, BAD_PADDING_LOG % (name, extlen)
                if totlen - explen < extlen:
                    return None, EXT_OVERFLOW_LOG % (name, totlen)
                end = cursor + extlen
                if end > totlen:
                    return None, None
                # The hostname is a C string: its last byte must end it.
                if etype == EXT_HOSTNAME and (extlen == EXT_HDR_LEN or buf[end - 1]):
                    return None, MISSING_NUL_LOG % (name, etype)
                exts.append((etype, bytes(buf[cursor + EXT_HDR_LEN:end])))
                explen += extlen
                cursor += length
        if totlen != explen:
            return None, BAD_LENGTH_LOG % (name, totlen, explen)
        msg.gossip = [unpack_gossip(buf, HEADER_LEN + i * GOSSIP_LEN)
                      for i in range(h.count)]
        # Without MFLAG0_EXT_DATA nothing after the gossip was validated (or sent):
        # no extensions, so the sender has no announced hostname.
        msg.exts = exts
        for etype, data in exts:
            if etype == EXT_HOSTNAME:
                msg.hostname = _dec(data)   # the last one wins, as in Redis
        return msg, None

    if t == FAIL:
        explen = FAIL_LEN
    elif t in (PUBLISH, PUBLISHSHARD):
        clen, mlen = _PUBLISH.unpack_from(_padded(buf, HEADER_LEN + 8), HEADER_LEN)
        explen = (PUBLISH_FIXED + clen + mlen) & _U32
        real = PUBLISH_FIXED + clen + mlen
    elif t in (FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART):
        explen = HEADER_LEN
    elif t == UPDATE:
        explen = UPDATE_LEN
    elif t == MODULE:
        plen, _ = _MODULE_REST.unpack_from(_padded(buf, MODULE_FIXED), HEADER_LEN + 8)
        explen = (MODULE_FIXED + plen) & _U32
        real = MODULE_FIXED + plen
    else:
        explen = totlen                 # unknown types are assumed well formed
    if totlen != explen:
        return None, BAD_LENGTH_LOG % (name, totlen, explen)

    if t == FAIL:
        msg.fail_nodename = bytes(buf[HEADER_LEN:FAIL_LEN])
    elif t in (PUBLISH, PUBLISHSHARD):
        if real != totlen:
            return None, None           # u32 wrap-around: Redis would overread
        start = HEADER_LEN + 8
        msg.channel = bytes(buf[start:start + clen])
        msg.message = bytes(buf[start + clen:start + clen + mlen])
    elif t == UPDATE:
        (msg.update_config_epoch, msg.update_nodename,
         msg.update_slots) = _UPDATE.unpack_from(buf, HEADER_LEN)
    elif t == MODULE:
        if real != totlen:
            return None, None
        msg.module_id = _MODULE.unpack_from(buf, HEADER_LEN)[0]
        msg.module_type = buf[HEADER_LEN + 12]
        msg.module_payload = bytes(buf[MODULE_FIXED:MODULE_FIXED + plen])
    return msg, None


def _padded(buf, n):
    """buf extended with zeros to n bytes: a length field Redis would read past a too
    short packet counts as 0 here (Redis reads leftover buffer bytes)."""
    return buf if len(buf) >= n else bytes(buf) + bytes(n - len(buf))
