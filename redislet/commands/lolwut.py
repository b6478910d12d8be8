"""LOLWUT (lolwut.c, lolwut5.c, lolwut6.c).

LOLWUT [VERSION v] [args...]: version 5 draws Georg Nees' Schotter in Braille
characters, version 6 a skyline in terminal colours; any other version (and the default,
7.0.15) replies "Redis ver. 7.0.15". The reply is a verbatim string (RESP3 `=`, "txt").

The drawing code follows the C code step by step, including its float (32-bit)
arithmetic, so the deterministic parts (canvas sizes, the squares of the first two rows
of Schotter, line breaks, footers) are byte-identical. Randomness comes from a rand()
with glibc's range (Redis seeds rand() with time and pid, so its pictures are not
reproducible either).
"""
import math
import random
import struct

from .table import command
from ..util import ll_arg as _long   # getLongFromObjectOrReply

REDIS_VERSION = b"7.0.15"
RAND_MAX = 2147483647

_f32 = struct.Struct("f")


def f32(x):
    """x rounded to a C float (IEEE single): float arithmetic on x86-64 rounds each
    operation's exact result to single precision, which this reproduces."""
    return _f32.unpack(_f32.pack(x))[0]


def _rand():
    return random.getrandbits(31)     # 0 .. RAND_MAX, as glibc's rand()


@command("lolwut")
def lolwut(c, argv):
    version = REDIS_VERSION
    if len(argv) >= 3 and argv[1].lower() == b"version":
        ver = _long(argv[2])
        # snprintf("%u.0.0", (unsigned int)ver): a 64-bit long truncated to 32 bits
        version = b"%d.0.0" % (ver & 0xFFFFFFFF)
        argv = argv[2:]   # the version implementations see argv[0] = the version number
    v0, v1, v2 = version[0:1], version[1:2], version[2:3]
    if (v0 == b"5" and v1 == b"." and v2 != b"9") or (v0 == b"4" and v1 == b"." and v2 == b"9"):
        text = lolwut5(argv)
    elif (v0 == b"6" and v1 == b"." and v2 != b"9") or (v0 == b"5" and v1 == b"." and v2 == b"9"):
        text = lolwut6(argv)
    else:
        text = b"Redis ver. " + REDIS_VERSION + b"\n"
    return c.r.verbatim(text)


# -- LOLWUT 5: Schotter ---------------------------------------------------------------------
class BrailleCanvas:
    """lwCanvas for one-colour drawings, stored directly as Braille cells (2x4 pixels
    per character, renderCanvas's bit layout): memory and rendering cost per cell, not
    per pixel."""

    # bit of pixel (x % 2, y % 4) in a cell (lwTranslatePixelsGroup's arrangement)
    BITS = ((1 << 0, 1 << 1, 1 << 2, 1 << 6), (1 << 3, 1 << 4, 1 << 5, 1 << 7))

    def __init__(self, width, height):
        self.width = width
        self.height = height
        self.cols = (width + 1) // 2
        self.rows = (height + 3) // 4
        self.cells = bytearray(self.cols * self.rows)

    def draw_pixel(self, x, y):
        if 0 <= x < self.width and 0 <= y < self.height:
            self.cells[(y >> 2) * self.cols + (x >> 1)] |= self.BITS[x & 1][y & 3]

    def draw_line(self, x1, y1, x2, y2):
        """lwDrawLine: Bresenham."""
        dx = abs(x2 - x1)
        dy = abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        width, height, cols, cells, bits = (self.width, self.height, self.cols, self.cells,
                                            self.BITS)
        while True:
            if 0 <= x1 < width and 0 <= y1 < height:
                cells[(y1 >> 2) * cols + (x1 >> 1)] |= bits[x1 & 1][y1 & 3]
            if x1 == x2 and y1 == y2:
                break
            e2 = err * 2
            if e2 > -dy:
                err -= dy
                x1 += sx
            if e2 < dx:
                err += dx
                y1 += sy

    def draw_square(self, x, y, size, angle):
        """lwDrawSquare: size and angle are C floats, k a float, the points doubles."""
        size = f32(size / 1.4142135623)
        size = f32(_c_round(size))
        k = f32(math.pi / 4 + angle)
        px = [0] * 4
        py = [0] * 4
        for j in range(4):
            px[j] = int(_c_round(math.sin(k) * size + x))
            py[j] = int(_c_round(math.cos(k) * size + y))
            k = f32(k + math.pi / 2)
        for j in range(4):
            self.draw_line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4])

    def render(self):
        """renderCanvas (lolwut5.c): one UTF-8 Braille character (U+2800 + bits) per
        cell; a newline after each text row unless that row started at y == height-1."""
        n = self.cols
        cells = self.cells
        out = []
        for r in range(self.rows):
            row = cells[r * n:(r + 1) * n]
            line = bytearray(3 * n)
            line[0::3] = row.translate(_UTF8_0)
            line[1::3] = row.translate(_UTF8_1)
            line[2::3] = row.translate(_UTF8_2)
            out.append(bytes(line))
            if r * 4 != self.height - 1:
                out.append(b"\n")
        return b"".join(out)


# the three bytes of the UTF-8 encoding of U+2800 + b (1110xxxx 10xxxxxx 10xxxxxx)
_UTF8_0 = bytes(0xE0 | ((0x2800 + b) >> 12) for b in range(256))
_UTF8_1 = bytes(0x80 | (((0x2800 + b) >> 6) & 0x3F) for b in range(256))
_UTF8_2 = bytes(0x80 | ((0x2800 + b) & 0x3F) for b in range(256))


def _c_round(x):
    """C round(): halfway cases away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def draw_schotter(console_cols, squares_per_row, squares_per_col):
    """lwDrawSchotter."""
    canvas_width = console_cols * 2
    padding = 2 if canvas_width > 4 else 0
    square_side = f32(f32(canvas_width - padding * 2) / f32(squares_per_row))
    canvas_height = int(f32(f32(square_side * squares_per_col) + padding * 2))
    canvas = BrailleCanvas(canvas_width, canvas_height)
    half = f32(square_side / 2)
    fcol = f32(squares_per_col)
    for y in range(squares_per_col):
        for x in range(squares_per_row):
            sx = int(f32(f32(f32(x * square_side) + half) + padding))
            sy = int(f32(f32(f32(y * square_side) + half) + padding))
            angle = 0.0
            if y > 1:
                # (float)rand() / (float)RAND_MAX / squares_per_col * y, in floats
                r1 = f32(f32(f32(f32(_rand()) / 2147483648.0) / fcol) * y)
                r2 = f32(f32(f32(f32(_rand()) / 2147483648.0) / fcol) * y)
                r3 = f32(f32(f32(f32(_rand()) / 2147483648.0) / fcol) * y)
                if _rand() % 2:
                    r1 = -r1
                if _rand() % 2:
                    r2 = -r2
                if _rand() % 2:
                    r3 = -r3
                angle = r1
                sx = int(f32(sx + f32(f32(r2 * square_side) / 3)))
                sy = int(f32(sy + f32(f32(r3 * square_side) / 3)))
            canvas.draw_square(sx, sy, square_side, angle)
    return canvas


def lolwut5(argv):
    """lolwut5Command: LOLWUT [cols] [squares-per-row] [squares-per-col]."""
    cols, per_row, per_col = 66, 8, 12
    if len(argv) > 1:
        cols = _long(argv[1])
    if len(argv) > 2:
        per_row = _long(argv[2])
    if len(argv) > 3:
        per_col = _long(argv[3])
    cols = min(max(cols, 1), 1000)
    per_row = min(max(per_row, 1), 200)
    per_col = min(max(per_col, 1), 200)
    canvas = draw_schotter(cols, per_row, per_col)
    return (canvas.render() + b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. "
            + REDIS_VERSION + b"\n")


# -- LOLWUT 6: the skyline ----------------------------------------------------------------------
# the four grays of a colour terminal, foreground and background (renderCanvas, lolwut6.c)
_PIXELS = [b"\033[%s \033[0m" % ce for ce in (b"0;30;40m", b"0;90;100m", b"0;37;47m",
                                               b"0;97;107m")]


class Canvas:
    """lwCanvas: width x height pixels of colour 0..3."""

    def __init__(self, width, height, bgcolor):
        self.width = width
        self.height = height
        self.pixels = bytearray([bgcolor]) * (width * height)

    def get_pixel(self, x, y):
        if x < 0 or x >= self.width or y < 0 or y >= self.height:
            return 0
        return self.pixels[x + y * self.width]

    def render(self):
        w = self.width
        px = self.pixels
        rows = []
        for y in range(self.height):
            rows.append(b"".join([_PIXELS[p] for p in px[y * w:(y + 1) * w]]))
        return b"\n".join(rows)


def generate_skyscraper(canvas, xoff, width, height, windows, color):
    """generateSkyscraper: a building from the bottom row up; the roof is four pixels
    narrower; windows (foreground buildings) are random grays, two pixels wide."""
    cw = canvas.width
    px = canvas.pixels
    starty = canvas.height - 1
    endy = starty - height + 1
    for y in range(starty, endy - 1, -1):
        if y < 0 or y >= canvas.height:
            continue      # lwDrawPixel ignores these rows (no rand() either: no windows)
        x0, x1 = xoff, xoff + width          # [x0, x1) as the loop runs
        if y == endy:
            x0, x1 = xoff + 2, xoff + width - 2
        lo, hi = max(x0, 0), min(x1, cw)
        if lo < hi:
            px[y * cw + lo:y * cw + hi] = bytes([color]) * (hi - lo)
        if not (windows and endy + 1 < y < starty - 1):
            continue
        rely = y - (endy + 1)
        if not rely % 2:
            continue
        # window pixels: inner part (xoff+1 < x < xoff+width-2), relx/2 odd
        for x in range(xoff + 2, xoff + width - 2):
            relx = x - (xoff + 1)
            if not (relx // 2) % 2:
                continue
            c = 1 + _rand() % 2
            while c == color:
                c = 1 + _rand() % 2
            if relx % 2:
                c = canvas.get_pixel(x - 1, y)
            if 0 <= x < cw:
                px[y * cw + x] = c


def generate_skyline(canvas):
    """generateSkyline: two rows of background buildings, then the foreground."""
    h = canvas.height
    for color in (2, 1):
        offset = -10
        while offset < canvas.width:
            offset += _rand() % 8
            xoff = offset
            width = 10 + _rand() % 9
            if color == 2:
                height = h // 2 + (_rand() % h) // 2
            else:
                height = h // 2 + (_rand() % h) // 3
            generate_skyscraper(canvas, xoff, width, height, False, color)
            offset += width // 2 if color == 2 else width + 1
    offset = -10
    while offset < canvas.width:
        offset += _rand() % 8
        xoff = offset
        width = 5 + _rand() % 14
        if width % 4:
            width += width % 3
        height = h // 3 + (_rand() % h) // 2
        generate_skyscraper(canvas, xoff, width, height, True, 0)
        offset += width + 5


def lolwut6(argv):
    """lolwut6Command: LOLWUT [columns] [rows]."""
    cols, rows = 80, 20
    if len(argv) > 1:
        cols = _long(argv[1])
    if len(argv) > 2:
        rows = _long(argv[2])
    cols = min(max(cols, 1), 1000)
    rows = min(max(rows, 1), 1000)
    canvas = Canvas(cols, rows, 3)
    generate_skyline(canvas)
    return (canvas.render() + b"\nDedicated to the 8 bit game developers of past and present.\n"
            b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. " + REDIS_VERSION
            + b"\n")
