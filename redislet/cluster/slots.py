"""Hash slots: Redis 7.0.15's keyHashSlot (cluster.c) and crc16 (crc16.c).

crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection, no final xor):
exactly what binascii.crc_hqx computes with an initial value of 0, in C. `crc16_table` is
the pure-Python table-driven equivalent (the 256-entry table of crc16.c, built here), kept
as the reference the tests compare against.
"""
from binascii import crc_hqx

SLOTS = 16384          # CLUSTER_SLOTS
SLOT_MASK = 0x3FFF


def _make_table():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


CRC16_TAB = _make_table()


def crc16_table(data):
    """crc16.c's loop: the table-driven CRC-16/XMODEM (reference implementation)."""
    tab = CRC16_TAB
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ b) & 0xFF]
    return crc


def crc16(data):
    return crc_hqx(data, 0)


def key_hash_slot(key):
    """keyHashSlot: the slot of a key (bytes). With a non-empty {hash tag} (the first '{'
    and the first '}' after it), only the tag is hashed."""
    if 123 in key:   # b"{" (an int operand: bytes.__contains__'s fast memchr path)
        s = key.find(b"{")
        e = key.find(b"}", s + 1)
        if e > s + 1:
            return crc_hqx(key[s + 1:e], 0) & 0x3FFF
    return crc_hqx(key, 0) & 0x3FFF
