"""The rank-sweep plot as a PNG, in the standard library alone (zlib + struct), no plotting package.

Why not matplotlib: it and what it pulls in (pillow, fonttools, kiwisolver, contourpy …) are ~25 MB of
wheels for one line chart, which every install of the ``torch`` extra (CI's, on 2 cores) would pay. A chart
of 7 points needs lines, dots, error bars and a 5×7 bitmap font; the bytes are a pure function of the
numbers (the same run gives the same file).

    >>> png = sweep_png({"sweep": [{"r": 1, "params": 832, "accuracy": 0.9, "accuracy_std": 0.01},
    ...                            {"r": 4, "params": 2368, "accuracy": 0.95, "accuracy_std": 0.0}],
    ...                  "rows": [{"method": "full", "accuracy": 0.97}], "qlora": {"rows": []}, "baselines": []})
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", png_size(png)
    (True, (720, 440))
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from typing import Any

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GRID: Color = (225, 225, 225)
LORA: Color = (31, 119, 180)
FULL: Color = (214, 39, 40)
QLORA: Color = (44, 160, 44)
SCRATCH: Color = (127, 127, 127)

# 5×7 glyphs, rows top to bottom; text is drawn in capitals
_FONT_ROWS = {
    "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#", "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
    "C": ".###.|#...#|#....|#....|#....|#...#|.###.", "D": "####.|#...#|#...#|#...#|#...#|#...#|####.",
    "E": "#####|#....|#....|####.|#....|#....|#####", "F": "#####|#....|#....|####.|#....|#....|#....",
    "G": ".###.|#...#|#....|#.###|#...#|#...#|.###.", "H": "#...#|#...#|#...#|#####|#...#|#...#|#...#",
    "I": ".###.|..#..|..#..|..#..|..#..|..#..|.###.", "J": "..###|...#.|...#.|...#.|...#.|#..#.|.##..",
    "K": "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#", "L": "#....|#....|#....|#....|#....|#....|#####",
    "M": "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#", "N": "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#",
    "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.", "P": "####.|#...#|#...#|####.|#....|#....|#....",
    "Q": ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#", "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
    "S": ".####|#....|#....|.###.|....#|....#|####.", "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
    "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.", "V": "#...#|#...#|#...#|#...#|#...#|.#.#.|..#..",
    "W": "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.", "X": "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#",
    "Y": "#...#|#...#|.#.#.|..#..|..#..|..#..|..#..", "Z": "#####|....#|...#.|..#..|.#...|#....|#####",
    "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.", "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
    "2": ".###.|#...#|....#|...#.|..#..|.#...|#####", "3": "#####|...#.|..#..|...#.|....#|#...#|.###.",
    "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.", "5": "#####|#....|####.|....#|....#|#...#|.###.",
    "6": "..##.|.#...|#....|####.|#...#|#...#|.###.", "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
    "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.", "9": ".###.|#...#|#...#|.####|....#|...#.|.##..",
    " ": ".....|.....|.....|.....|.....|.....|.....", ".": ".....|.....|.....|.....|.....|.##..|.##..",
    ",": ".....|.....|.....|.....|.##..|..#..|.#...", ":": ".....|.##..|.##..|.....|.##..|.##..|.....",
    "-": ".....|.....|.....|#####|.....|.....|.....", "+": ".....|..#..|..#..|#####|..#..|..#..|.....",
    "=": ".....|.....|#####|.....|#####|.....|.....", "/": ".....|....#|...#.|..#..|.#...|#....|.....",
    "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.", ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...",
    "%": "##...|##..#|...#.|..#..|.#...|#..##|...##", "±": "..#..|..#..|#####|..#..|..#..|.....|#####",
    "×": ".....|#...#|.#.#.|..#..|.#.#.|#...#|.....", "–": ".....|.....|.....|#####|.....|.....|.....",
}
FONT = {ch: tuple(tuple(c == "#" for c in row) for row in rows.split("|")) for ch, rows in _FONT_ROWS.items()}


class Canvas:
    """An RGB raster with the few primitives a line chart needs."""

    def __init__(self, width: int, height: int, background: Color = WHITE) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def dot(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i:i + 3] = bytes(color)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """A filled rectangle, corners included."""
        for y in range(min(y0, y1), max(y0, y1) + 1):
            for x in range(min(x0, x1), max(x0, x1) + 1):
                self.dot(x, y, color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, *, width: int = 1, dash: int = 0) -> None:
        """A straight line (``dash`` > 0: dashes and gaps of that many pixels)."""
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        lo, hi = -(width // 2), (width - 1) // 2
        for i in range(steps + 1):
            if dash and (i // dash) % 2:
                continue
            x, y = round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps)
            self.rect(x + lo, y + lo, x + hi, y + hi, color)

    def text(self, x: int, y: int, text: str, color: Color = BLACK, *, scale: int = 2, anchor: str = "left") -> None:
        """Capitals in the 5×7 font; ``anchor``: left, center or right of ``x``; ``y`` is the top."""
        text = text.upper()
        advance = 6 * scale
        if anchor == "center":
            x -= (len(text) * advance - scale) // 2
        elif anchor == "right":
            x -= len(text) * advance - scale
        for n, ch in enumerate(text):
            glyph = FONT.get(ch, FONT[" "])
            for row, bits in enumerate(glyph):
                for col, on in enumerate(bits):
                    if on:
                        gx, gy = x + n * advance + col * scale, y + row * scale
                        self.rect(gx, gy, gx + scale - 1, gy + scale - 1, color)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.pixels[3 * y * self.width:3 * (y + 1) * self.width])
                       for y in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _ticks(lo: float, hi: float) -> tuple[list[float], int]:
    """Round tick values in [lo, hi] (at most 8) and the decimals their labels need."""
    step = next(s for s in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2) if (hi - lo) / s <= 8)
    first = math.ceil(lo / step - 1e-9) * step
    decimals = 3 if step < 0.01 else 2 if step < 0.1 else 1
    return [round(first + i * step, 4) for i in range(int((hi - first) / step + 1e-9) + 1)], decimals


def sweep_png(result: dict[str, Any], *, width: int = 720, height: int = 440) -> bytes:
    """Accuracy against LoRA rank (log₂ axis; mean and ±1 std over the seeds) with full fine-tuning, the
    baseline trained from scratch and QLoRA, from ``run()``'s result."""
    sweep = result["sweep"]
    full = next(row for row in result["rows"] if row["method"] == "full")
    scratch = [row for row in result.get("baselines", []) if row["method"] == "scratch"]
    qlora = result["qlora"]["rows"]
    hlines = [("FULL FINE-TUNE", FULL, full["accuracy"])] + [("FROM SCRATCH", SCRATCH, row["accuracy"]) for row in scratch]
    values = [v for row in sweep for v in (row["accuracy"] - row["accuracy_std"], row["accuracy"] + row["accuracy_std"])]
    values += [y for _, _, y in hlines] + [row["accuracy"] for row in qlora]
    lo, hi = min(values), max(values)
    pad = max(0.004, 0.08 * (hi - lo))
    lo, hi = max(0.0, lo - pad), min(1.0, hi + pad)
    if hi - lo < 0.01:  # every value (nearly) equal: show a 1-point window around them
        mid = (hi + lo) / 2
        lo, hi = max(0.0, mid - 0.005), min(1.0, mid + 0.005)
    left, right, top, bottom = 90, width - 24, 62, height - 92
    c = Canvas(width, height)
    ranks = [row["r"] for row in sweep]
    logs = [math.log2(r) for r in ranks]
    span = (max(logs) - min(logs)) or 1.0

    def px(r: float) -> int:
        return round(left + 20 + (math.log2(r) - min(logs)) / span * (right - left - 40))

    def py(acc: float) -> int:
        return round(bottom - (acc - lo) / (hi - lo) * (bottom - top))

    ticks, decimals = _ticks(lo, hi)
    for tick in ticks:
        c.line(left, py(tick), right, py(tick), GRID)
        c.text(left - 8, py(tick) - 7, f"{tick:.{decimals}f}", anchor="right")
    c.text(left - 8, top - 22, "TEST ACCURACY", scale=1)
    c.line(left, top, left, bottom, BLACK, width=2)
    c.line(left, bottom, right, bottom, BLACK, width=2)
    for row in sweep:
        x = px(row["r"])
        c.line(x, bottom, x, bottom + 6, BLACK, width=2)
        c.text(x, bottom + 12, str(row["r"]), anchor="center")
        c.text(x, bottom + 34, f"{row['params']:,}", scale=1, anchor="center")
    c.text(left - 8, bottom + 34, "PARAMS", scale=1, anchor="right")
    c.text((left + right) // 2, height - 36, "LORA RANK R (LOG SCALE)", anchor="center")
    seeds = len(full.get("seeds", [])) or 1
    c.text(width // 2, 12, f"LORA RANK VS ACCURACY, MEAN ± STD OVER {seeds} SEED{'S' * (seeds > 1)}", anchor="center")
    for label, color, y in hlines:
        c.line(left + 1, py(y), right, py(y), color, width=2, dash=8)
    points = [(px(row["r"]), py(row["accuracy"])) for row in sweep]
    for row, (x, y) in zip(sweep, points, strict=True):
        c.line(x, py(row["accuracy"] - row["accuracy_std"]), x, py(row["accuracy"] + row["accuracy_std"]), LORA, width=2)
        for end in (row["accuracy"] - row["accuracy_std"], row["accuracy"] + row["accuracy_std"]):
            c.line(x - 5, py(end), x + 5, py(end), LORA, width=2)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        c.line(x0, y0, x1, y1, LORA, width=3)
    for x, y in points:
        c.rect(x - 4, y - 4, x + 4, y + 4, LORA)
    for row in qlora:
        x, y = px(row["r"]) + 12, py(row["accuracy"])
        c.rect(x - 4, y - 4, x + 4, y + 4, QLORA)
    legend = [("LORA (± STD)", LORA, False)] + [(label, color, True) for label, color, _ in hlines]
    legend += [("QLORA (NF4 BASE)", QLORA, False)] if qlora else []
    _legend(c, legend, right, bottom - 14 - 18 * (len(legend) - 1))
    return c.png()


def _legend(c: Canvas, items: Sequence[tuple[str, Color, bool]], right: int, y: int) -> None:
    text_width = max(len(label) for label, _, _ in items) * 12
    x = right - text_width - 40
    c.rect(x - 8, y - 8, right, y + 18 * len(items) - 4, WHITE)
    for n, (label, color, dashed) in enumerate(items):
        cy = y + 18 * n + 6
        if dashed:
            c.line(x, cy, x + 24, cy, color, width=2, dash=6)
        else:
            c.line(x, cy, x + 24, cy, color, width=3)
            c.rect(x + 8, cy - 4, x + 16, cy + 4, color)
        c.text(x + 32, cy - 6, label, color=BLACK, scale=2)


def write_sweep_png(path: str, result: dict[str, Any]) -> int:
    """Write the plot; returns its size in bytes."""
    data = sweep_png(result)
    with open(path, "wb") as fh:
        fh.write(data)
    return len(data)
