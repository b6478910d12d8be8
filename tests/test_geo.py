"""Geo commands: differential tests against real Redis (RESP2 and RESP3)."""
import random

import pytest


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def b(request, both):
    if request.param == 3:
        both.resp3()
    return both


def run(b, *cmds):
    for cmd in cmds:
        b(*cmd)


SICILY = ("13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
POINTS = ("-73.9454966", "40.747533", "lic market", "-73.9733487", "40.7648057", "central park n/q/r",
          "-73.9903085", "40.7362513", "union square", "-74.0131604", "40.7126674", "wtc one",
          "-73.7858139", "40.6428986", "jfk", "-73.9375699", "40.7498929", "q4",
          "-73.9564142", "40.7480973", "4545")


def test_geoadd_and_scores(b):
    run(b, ("GEOADD", "k", *SICILY), ("ZRANGE", "k", "0", "-1", "WITHSCORES"),
        ("GEOADD", "k", "NX", "13.4", "38.1", "Palermo", "1", "1", "x"),
        ("GEOADD", "k", "XX", "13.4", "38.1", "Palermo", "1", "1", "y"),
        ("GEOADD", "k", "CH", "XX", "13.5", "38.1", "Palermo"),
        ("GEOADD", "k", "XX", "CH", "13.5", "38.1", "Palermo"),
        ("GEOADD", "k", "NX", "XX", "1", "1", "a"), ("GEOADD", "k", "1", "1"),
        ("GEOADD", "k", "1", "1", "a", "2"), ("GEOADD", "k", "200", "100", "bad"),
        ("GEOADD", "k", "-180", "85.05112878", "corner"), ("GEOADD", "k", "180", "-85.05112878", "c2"),
        ("GEOADD", "k", "180.0000001", "0", "c3"), ("GEOADD", "k", "0", "85.06", "c4"),
        ("GEOADD", "k", "x", "1", "c5"), ("GEOADD", "k", "1", "nan", "c5"),
        ("GEOADD", "k", "inf", "0", "c6"), ("GEOADD", "k", "0", "0", "zero"),
        ("GEOADD", "k", "ch", "ch", "nx", "0", "0", "zero2"),
        ("ZRANGE", "k", "0", "-1", "WITHSCORES"))
    b("SET", "s", "x")
    b("GEOADD", "s", "1", "1", "a")


def test_geopos_geohash_geodist(b):
    b("GEOADD", "k", *SICILY, *POINTS, "-180", "85.05112878", "corner", "180", "-85.05112878", "c2",
      "0", "0", "zero", "-0.0000001", "0.0000001", "tiny")
    members = ["Palermo", "Catania", "jfk", "corner", "c2", "zero", "tiny", "nope", "4545"]
    b("GEOPOS", "k", *members)
    b("GEOHASH", "k", *members)
    b("GEOPOS", "nokey", "a", "b")
    b("GEOHASH", "nokey", "a")
    b("GEOPOS", "k")
    b("GEOHASH", "k")
    for unit in ([], ["m"], ["km"], ["mi"], ["ft"], ["KM"], ["parsec"]):
        b("GEODIST", "k", "Palermo", "Catania", *unit)
        b("GEODIST", "k", "corner", "c2", *unit)
        b("GEODIST", "k", "zero", "tiny", *unit)
    run(b, ("GEODIST", "k", "Palermo", "Palermo"), ("GEODIST", "k", "Palermo", "nope"),
        ("GEODIST", "k", "nope", "Palermo"), ("GEODIST", "nokey", "a", "b"),
        ("GEODIST", "k", "a", "b", "km", "x"), ("GEODIST", "nokey", "a", "b", "bad"))
    b("ZADD", "k", "-5", "neg", "1e20", "huge", "inf", "infm", "1.5", "frac")
    b("GEOPOS", "k", "neg", "huge", "frac")
    b("GEOHASH", "k", "neg", "huge", "frac")


SEARCHES = [
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "DESC", "WITHDIST", "WITHCOORD", "WITHHASH"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "WITHHASH", "COUNT", "1"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "1", "ANY"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ANY"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "0"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "x"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "-1", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "x", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "yard"],
    ["FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "WITHDIST", "asc"],
    ["FROMLONLAT", "15", "37", "BYBOX", "200", "400", "km", "WITHCOORD"],
    ["FROMLONLAT", "15", "37", "BYBOX", "-1", "400", "km"],
    ["FROMLONLAT", "15", "37", "BYBOX", "x", "400", "km"],
    ["FROMLONLAT", "15", "37", "BYBOX", "1", "y", "km"],
    ["FROMLONLAT", "15", "37", "BYBOX", "1", "1"],
    ["FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "WITHDIST"],
    ["FROMMEMBER", "Palermo", "BYBOX", "500", "500", "mi", "WITHDIST", "DESC"],
    ["FROMMEMBER", "nope", "BYRADIUS", "200", "km"],
    ["FROMMEMBER", "Palermo", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
    ["FROMLONLAT", "15", "37", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "BYBOX", "1", "1", "km"],
    ["BYRADIUS", "200", "km"],
    ["FROMLONLAT", "15", "37"],
    ["FROMLONLAT", "200", "37", "BYRADIUS", "200", "km"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STORE", "x"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200"],
    ["FROMLONLAT", "15"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "0", "km"],
    ["FROMLONLAT", "-73.9798091", "40.7598464", "BYRADIUS", "3", "km", "ASC", "WITHDIST"],
    ["FROMLONLAT", "-73.9798091", "40.7598464", "BYBOX", "6", "6", "km", "ASC", "WITHDIST"],
    ["FROMLONLAT", "-73.9798091", "40.7598464", "BYRADIUS", "50", "km", "DESC", "COUNT", "3"],
    ["FROMLONLAT", "0", "0", "BYRADIUS", "20000", "km", "ASC", "COUNT", "3"],
    ["FROMLONLAT", "179", "80", "BYRADIUS", "3000", "km", "WITHDIST"],
    ["FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "withdist", "withdist", "count", "5", "count", "1"],
]


@pytest.mark.parametrize("args", SEARCHES)
def test_geosearch(b, args):
    b("GEOADD", "k", *SICILY, *POINTS)
    b("GEOSEARCH", "k", *args)
    b("GEOSEARCH", "nokey", *args)
    b("geosearch", "nokey", *args)
    b("SET", "dst", "old")
    b("GEOSEARCHSTORE", "dst", "k", *args)
    b("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    b("GEOSEARCHSTORE", "dst", "k", *args, "STOREDIST")
    b("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    b("GEOSEARCHSTORE", "dst", "nokey", *args)
    b("EXISTS", "dst")


GEORADIUS = [
    ["15", "37", "200", "km"], ["15", "37", "200", "km", "WITHDIST", "WITHCOORD", "ASC"],
    ["15", "37", "200", "km", "COUNT", "1", "DESC", "WITHHASH"], ["15", "37", "200", "km", "ANY"],
    ["15", "37", "200", "km", "STORE", "dst"], ["15", "37", "200", "km", "STOREDIST", "dst"],
    ["15", "37", "200", "km", "STORE", "dst", "WITHDIST"], ["15", "37", "200", "km", "STORE"],
    ["15", "37", "-1", "km"], ["15", "37", "1", "x"], ["200", "37", "1", "km"],
    ["15", "37", "200", "km", "FROMLONLAT", "1", "1"], ["15", "37", "200", "km", "BYBOX", "1", "1", "km"],
    ["15", "37", "200", "km", "STOREDIST", "dst", "STORE", "dst2"],
    ["15", "37", "1", "m", "STORE", "dst"],
]


@pytest.mark.parametrize("args", GEORADIUS)
def test_georadius(b, args):
    b("GEOADD", "k", *SICILY)
    b("SET", "dst", "x")
    b("GEORADIUS", "k", *args)
    b("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    b("TYPE", "dst2")
    b("GEORADIUS_RO", "k", *args)
    b("GEORADIUS", "nokey", *args)
    b("EXISTS", "dst")
    margs = ["Palermo"] + args[2:]
    b("GEORADIUSBYMEMBER", "k", *margs)
    b("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    b("GEORADIUSBYMEMBER_RO", "k", *margs)
    b("GEORADIUSBYMEMBER", "nokey", *margs)
    b("GEORADIUSBYMEMBER", "k", "nope", *args[2:])


def test_geo_wrongtype(b):
    b("SET", "s", "x")
    run(b, ("GEOPOS", "s", "a"), ("GEOHASH", "s", "a"), ("GEODIST", "s", "a", "b"),
        ("GEOSEARCH", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"),
        ("GEORADIUS", "s", "1", "1", "1", "km"), ("GEORADIUSBYMEMBER", "s", "a", "1", "km"),
        ("GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"))


def test_geo_getkeys(b):
    run(b, ("COMMAND", "GETKEYS", "GEORADIUS", "k", "1", "1", "1", "km", "STORE", "d"),
        ("COMMAND", "GETKEYS", "GEORADIUS", "k", "1", "1", "1", "km", "STOREDIST", "d", "STORE", "e"),
        ("COMMAND", "GETKEYS", "GEORADIUSBYMEMBER", "k", "m", "1", "km", "STORE", "d"),
        ("COMMAND", "GETKEYS", "GEOSEARCHSTORE", "d", "k", "FROMLONLAT", "1", "1"),
        ("COMMAND", "INFO", "GEORADIUS"))


def test_geo_fuzz_differential(both):
    rnd = random.Random(42)
    args = []
    for i in range(300):
        lon = rnd.uniform(-180, 180)
        lat = rnd.uniform(-85, 85)
        args += ["%.6f" % lon, "%.6f" % lat, "p%d" % i]
    both("GEOADD", "world", *args)
    for _ in range(40):
        lon = "%.5f" % rnd.uniform(-180, 180)
        lat = "%.5f" % rnd.uniform(-85, 85)
        radius = str(rnd.choice([10, 500, 1500, 4000, 9000]))
        both("GEOSEARCH", "world", "FROMLONLAT", lon, lat, "BYRADIUS", radius, "km", "ASC",
             "WITHDIST")
        both("GEOSEARCH", "world", "FROMLONLAT", lon, lat, "BYBOX", radius, radius, "km",
             "ASC", "WITHDIST", "WITHCOORD")
        both("GEORADIUSBYMEMBER", "world", "p%d" % rnd.randrange(300), radius, "km", "ASC",
             "COUNT", "5")
    both("GEODIST", "world", "p1", "p2", "km")
    both("GEOHASH", "world", "p1", "p2", "p3")


@pytest.mark.parametrize("n", [9, 30, 60])
def test_geosearch_tie_order_with_count(both, n):
    """COUNT < results uses Redis's pqsort: equal distances come out in its order."""
    rnd = random.Random(n)
    args = []
    for i in range(n):
        lon = rnd.choice(["10", "10.001", "10.002", "9.999"])
        args += [lon, rnd.choice(["10", "10.001"]), "m%d" % i]
    both("GEOADD", "t", *args)
    for order in ("ASC", "DESC"):
        for count in ("1", "3", "7", str(n // 2), str(n - 1), str(n)):
            both("GEOSEARCH", "t", "FROMLONLAT", "10", "10", "BYRADIUS", "50", "km", order,
                 "COUNT", count)
            both("GEORADIUS", "t", "10", "10", "50", "km", order, "COUNT", count, "WITHDIST")
            both("GEOSEARCHSTORE", "d", "t", "FROMLONLAT", "10", "10", "BYBOX", "90", "90",
                 "km", order, "COUNT", count, "STOREDIST")
            both("ZRANGE", "d", "0", "-1", "WITHSCORES")
