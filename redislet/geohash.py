"""Geohash math of Redis 7.0 (geohash.c, geohash_helper.c), so that GEOADD scores,
GEOHASH strings, distances and search areas come out bit for bit as Redis computes them.

A position is a 52-bit interleaved geohash (26 steps, latitude bits at even positions,
longitude at odd) over longitude [-180, 180] and latitude [-85.05112878, 85.05112878].
"""
import math

GEO_STEP_MAX = 26
GEO_LAT_MIN = -85.05112878
GEO_LAT_MAX = 85.05112878
GEO_LONG_MIN = -180.0
GEO_LONG_MAX = 180.0

D_R = math.pi / 180.0
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37

WGS84_LONG = (-180.0, 180.0)
WGS84_LAT = (GEO_LAT_MIN, GEO_LAT_MAX)
STD_LAT = (-90.0, 90.0)

_M64 = (1 << 64) - 1
_sin = math.sin
_cos = math.cos
_asin = math.asin
_sqrt = math.sqrt


def _spread8(v):
    r = 0
    for i in range(8):
        if v >> i & 1:
            r |= 1 << (2 * i)
    return r


# the 65536-entry spread table is built on first use (GEOADD...), not at start-up
_SPREAD = []


def _fill_spread():
    s8 = [_spread8(v) for v in range(256)]
    _SPREAD[:] = [s8[v & 255] | s8[v >> 8] << 16 for v in range(1 << 16)]
    return _SPREAD


def interleave64(xlo, ylo):
    """Interleave two uint32: x bits at even positions, y bits at odd positions."""
    sp = _SPREAD or _fill_spread()
    x = xlo & 0xFFFFFFFF
    y = ylo & 0xFFFFFFFF
    return (sp[x & 0xFFFF] | sp[x >> 16] << 32 | sp[y & 0xFFFF] << 1 | sp[y >> 16] << 33)


def deinterleave64(interleaved):
    x = interleaved & _M64
    y = x >> 1
    x = (x | (x >> 0)) & 0x5555555555555555
    y = (y | (y >> 0)) & 0x5555555555555555
    x = (x | (x >> 1)) & 0x3333333333333333
    y = (y | (y >> 1)) & 0x3333333333333333
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0F
    y = (y | (y >> 2)) & 0x0F0F0F0F0F0F0F0F
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FF
    y = (y | (y >> 4)) & 0x00FF00FF00FF00FF
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFF
    y = (y | (y >> 8)) & 0x0000FFFF0000FFFF
    x = (x | (x >> 16)) & 0x00000000FFFFFFFF
    y = (y | (y >> 16)) & 0x00000000FFFFFFFF
    return x | (y << 32)


def encode(longitude, latitude, step=GEO_STEP_MAX, long_range=WGS84_LONG,
           lat_range=WGS84_LAT):
    """geohashEncode: the hash bits, or None outside the supported area."""
    if step > 32 or step == 0:
        return None
    if (longitude > GEO_LONG_MAX or longitude < GEO_LONG_MIN
            or latitude > GEO_LAT_MAX or latitude < GEO_LAT_MIN):
        return None
    lmin, lmax = lat_range
    omin, omax = long_range
    if latitude < lmin or latitude > lmax or longitude < omin or longitude > omax:
        return None
    lat_offset = (latitude - lmin) / (lmax - lmin)
    long_offset = (longitude - omin) / (omax - omin)
    scale = float(1 << step)
    lat_offset *= scale
    long_offset *= scale
    return interleave64(int(lat_offset), int(long_offset))


def decode(bits, step, long_range=WGS84_LONG, lat_range=WGS84_LAT):
    """geohashDecode: (lat_min, lat_max, long_min, long_max), or None for a zero hash."""
    if bits == 0 and step == 0:
        return None
    sep = deinterleave64(bits)
    lmin, lmax = lat_range
    omin, omax = long_range
    lat_scale = lmax - lmin
    long_scale = omax - omin
    ilato = sep & 0xFFFFFFFF
    ilono = sep >> 32
    div = float(1 << step)
    return (lmin + (ilato * 1.0 / div) * lat_scale,
            lmin + ((ilato + 1) * 1.0 / div) * lat_scale,
            omin + (ilono * 1.0 / div) * long_scale,
            omin + ((ilono + 1) * 1.0 / div) * long_scale)


def area_center(area):
    """geohashDecodeAreaToLongLat: (longitude, latitude) clamped to the valid area."""
    lat_min, lat_max, long_min, long_max = area
    x = (long_min + long_max) / 2
    if x > GEO_LONG_MAX:
        x = GEO_LONG_MAX
    if x < GEO_LONG_MIN:
        x = GEO_LONG_MIN
    y = (lat_min + lat_max) / 2
    if y > GEO_LAT_MAX:
        y = GEO_LAT_MAX
    if y < GEO_LAT_MIN:
        y = GEO_LAT_MIN
    return x, y


def score_to_bits(score):
    """(uint64_t)score as x86-64 converts it."""
    if score != score or score in (math.inf, -math.inf):
        return 0x8000000000000000
    if score < 0:
        v = int(score)
        return v & _M64 if v > -(1 << 63) else 0x8000000000000000
    if score >= 18446744073709551616.0:
        return 0
    return int(score)


def decode_score(score):
    """decodeGeohash: (longitude, latitude) of a zset score (52-bit geohash)."""
    area = decode(score_to_bits(score), GEO_STEP_MAX)
    if area is None:
        return None
    return area_center(area)


def align52(bits, step):
    return (bits << (52 - step * 2)) & _M64


_LAT_RANGE = GEO_LAT_MAX - GEO_LAT_MIN
_LONG_RANGE = GEO_LONG_MAX - GEO_LONG_MIN
_SCALE26 = float(1 << 26)


def encode_score(longitude, latitude):
    """The ZADD score GEOADD stores for a valid position: encode() at step 26 (52 bits,
    no alignment shift needed), inlined for GEOADD's sake."""
    x = int((latitude - GEO_LAT_MIN) / _LAT_RANGE * _SCALE26)
    y = int((longitude - GEO_LONG_MIN) / _LONG_RANGE * _SCALE26)
    sp = _SPREAD or _fill_spread()
    return sp[x & 0xFFFF] | sp[x >> 16] << 32 | sp[y & 0xFFFF] << 1 | sp[y >> 16] << 33


def _move_x(bits, step, d):
    if d == 0:
        return bits
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0x5555555555555555 >> (64 - step * 2)
    if d > 0:
        x = x + (zz + 1)
    else:
        x = x | zz
        x = x - (zz + 1)
    x &= (0xAAAAAAAAAAAAAAAA >> (64 - step * 2))
    return (x | y) & _M64


def _move_y(bits, step, d):
    if d == 0:
        return bits
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    if d > 0:
        y = y + (zz + 1)
    else:
        y = y | zz
        y = y - (zz + 1)
    y &= (0x5555555555555555 >> (64 - step * 2))
    return (x | y) & _M64


def neighbors(bits, step):
    """geohashNeighbors: dict of direction -> bits."""
    return {
        "east": _move_y(_move_x(bits, step, 1), step, 0),
        "west": _move_y(_move_x(bits, step, -1), step, 0),
        "south": _move_y(_move_x(bits, step, 0), step, -1),
        "north": _move_y(_move_x(bits, step, 0), step, 1),
        "north_west": _move_y(_move_x(bits, step, -1), step, 1),
        "north_east": _move_y(_move_x(bits, step, 1), step, 1),
        "south_east": _move_y(_move_x(bits, step, 1), step, -1),
        "south_west": _move_y(_move_x(bits, step, -1), step, -1),
    }


def estimate_steps_by_radius(range_meters, lat):
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    if step < 1:
        step = 1
    if step > 26:
        step = 26
    return step


def deg_rad(ang):
    return ang * D_R


def rad_deg(ang):
    return ang / D_R


class Shape:
    """GeoShape: center xy, conversion (unit to meters), and radius or width/height."""
    __slots__ = ("circular", "lon", "lat", "conversion", "radius", "width", "height",
                 "bounds")

    def __init__(self):
        self.circular = True
        self.lon = self.lat = 0.0
        self.conversion = 0.0
        self.radius = 0.0
        self.width = self.height = 0.0
        self.bounds = None


def bounding_box(shape):
    longitude = shape.lon
    latitude = shape.lat
    if shape.circular:
        height = shape.conversion * shape.radius
        width = shape.conversion * shape.radius
    else:
        height = shape.conversion * (shape.height / 2)
        width = shape.conversion * (shape.width / 2)
    lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS)
    long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / _cos(deg_rad(latitude + lat_delta)))
    long_delta_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS
                                / _cos(deg_rad(latitude - lat_delta)))
    southern = latitude < 0
    b0 = longitude - long_delta_bottom if southern else longitude - long_delta_top
    b2 = longitude + long_delta_bottom if southern else longitude + long_delta_top
    return (b0, latitude - lat_delta, b2, latitude + lat_delta)


def search_areas(shape):
    """geohashCalculateAreasByShapeWGS84: the 9 boxes to scan, as a list of (bits, step)
    in Redis's order (center, N, S, E, W, NE, NW, SE, SW); (0, 0) for excluded boxes."""
    bounds = shape.bounds = bounding_box(shape)
    min_lon, min_lat, max_lon, max_lat = bounds
    if shape.circular:
        radius_meters = shape.radius
    else:
        radius_meters = _sqrt((shape.width / 2) * (shape.width / 2)
                              + (shape.height / 2) * (shape.height / 2))
    radius_meters *= shape.conversion
    steps = estimate_steps_by_radius(radius_meters, shape.lat)
    hbits = encode(shape.lon, shape.lat, steps)
    nb = neighbors(hbits, steps)
    area = decode(hbits, steps)
    decrease = False
    north = decode(nb["north"], steps)
    south = decode(nb["south"], steps)
    east = decode(nb["east"], steps)
    west = decode(nb["west"], steps)
    if north[1] < max_lat:
        decrease = True
    if south[0] > min_lat:
        decrease = True
    if east[3] < max_lon:
        decrease = True
    if west[2] > min_lon:
        decrease = True
    if steps > 1 and decrease:
        steps -= 1
        hbits = encode(shape.lon, shape.lat, steps)
        nb = neighbors(hbits, steps)
        area = decode(hbits, steps)
    z = {k: (v, steps) for k, v in nb.items()}
    if steps >= 2:
        lat_min, lat_max, long_min, long_max = area
        zero = (0, 0)
        if lat_min < min_lat:
            z["south"] = z["south_west"] = z["south_east"] = zero
        if lat_max > max_lat:
            z["north"] = z["north_east"] = z["north_west"] = zero
        if long_min < min_lon:
            z["west"] = z["south_west"] = z["north_west"] = zero
        if long_max > max_lon:
            z["east"] = z["south_east"] = z["north_east"] = zero
    return [(hbits, steps), z["north"], z["south"], z["east"], z["west"], z["north_east"],
            z["north_west"], z["south_east"], z["south_west"]]


def lat_distance(lat1d, lat2d):
    return EARTH_RADIUS_IN_METERS * abs(deg_rad(lat2d) - deg_rad(lat1d))


def distance(lon1d, lat1d, lon2d, lat2d):
    """geohashGetDistance (haversine)."""
    lon1r = lon1d * D_R
    lon2r = lon2d * D_R
    v = _sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1d, lat2d)
    lat1r = lat1d * D_R
    lat2r = lat2d * D_R
    u = _sin((lat2r - lat1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * _asin(_sqrt(a))


def within_shape(shape, score):
    """geoWithinShape: (lon, lat, distance) if the point of score is inside, else None."""
    xy = decode_score(score)
    if xy is None:
        return None
    x, y = xy
    if shape.circular:
        dist = distance(shape.lon, shape.lat, x, y)
        if dist > shape.radius * shape.conversion:
            return None
        return x, y, dist
    width_m = shape.width * shape.conversion
    height_m = shape.height * shape.conversion
    if lat_distance(y, shape.lat) > height_m / 2:
        return None
    if distance(x, y, shape.lon, y) > width_m / 2:
        return None
    return x, y, distance(shape.lon, shape.lat, x, y)


_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score):
    """GEOHASH: the 11-char standard geohash of a zset score (re-encoded over +-90 lat)."""
    xy = decode_score(score)
    if xy is None:
        return None
    bits = encode(xy[0], xy[1], 26, (-180.0, 180.0), STD_LAT)
    if bits is None:
        bits = 0
    out = bytearray(11)
    for i in range(11):
        if i == 10:
            idx = 0
        else:
            idx = (bits >> (52 - ((i + 1) * 5))) & 0x1F
        out[i] = _ALPHABET[idx]
    return bytes(out)


def fixed4(d):
    """fixedpoint_d2string(d, 4): GEODIST / WITHDIST formatting."""
    if d == 0:
        return b"0.0000"
    v = round(d * 10000.0)   # llrint, round half to even
    neg = v < 0
    if neg:
        v = -v
    s = b"%d" % v
    if len(s) <= 4:
        s = b"0" * (5 - len(s)) + s
    s = s[:-4] + b"." + s[-4:]
    return b"-" + s if neg else s
