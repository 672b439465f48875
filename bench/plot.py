"""A bar chart of every figure next to its floor, as a PNG, with the standard library only.

One row per figure that has a floor: the floor's bar (grey) under the figure's p50 (blue),
on a log scale per unit, labelled with both values and their ratio. Text is drawn with a
3x5 pixel font (upper case), so the chart needs no plotting library.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Report

_FONT = {
    "A": "010101111101101", "B": "110101110101110", "C": "011100100100011",
    "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111",
    "J": "001001001101010", "K": "101101110101101", "L": "100100100100111",
    "M": "101111111101101", "N": "110101101101101", "O": "010101101101010",
    "P": "110101110100100", "Q": "010101101110011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111",
    "V": "101101101101010", "W": "101101111111101", "X": "101101010101101",
    "Y": "101101010010010", "Z": "111001010100111", "0": "111101101101111",
    "1": "010110010010111", "2": "110001010100111", "3": "110001010001110",
    "4": "101101111001001", "5": "111100110001110", "6": "011100111101111",
    "7": "111001010010010", "8": "111101111101111", "9": "111101111001110",
    " ": "000000000000000", ".": "000000000000010", ",": "000000000010100",
    "/": "001001010100100", "-": "000000111000000", "(": "010100100100010",
    ")": "010001001001010", ":": "000010000010000", ">": "100010001010100",
    "<": "001010100010001", "=": "000111000111000", "+": "000010111010000",
    "%": "101001010100101", "_": "000000000000111", "→": "100010001010100",
    "'": "010010000000000",
}
SCALE = 2
WHITE, BLACK = (255, 255, 255), (30, 30, 30)
BLUE, GREY = (52, 101, 164), (190, 190, 190)


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(WHITE) * width * height)

    def rect(self, x: int, y: int, w: int, h: int, color: tuple[int, int, int]) -> None:
        for row in range(max(0, y), min(self.height, y + h)):
            start = (row * self.width + max(0, x)) * 3
            end = (row * self.width + min(self.width, x + w)) * 3
            if end > start:
                self.pixels[start:end] = bytes(color) * ((end - start) // 3)

    def text(self, x: int, y: int, text: str, color: tuple[int, int, int] = BLACK) -> int:
        for ch in text.upper():
            glyph = _FONT.get(ch, _FONT[" "])
            for i, bit in enumerate(glyph):
                if bit == "1":
                    self.rect(x + (i % 3) * SCALE, y + (i // 3) * SCALE, SCALE, SCALE, color)
            x += 4 * SCALE
        return x

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.pixels[r * self.width * 3:(r + 1) * self.width * 3])
                       for r in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return (struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _fmt(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def plot(reports: list[Report], path: Path) -> Path:
    rows = [(r.deployment, f) for r in reports for f in r.figures
            if f.floor_p50 and f.samples and f.stats()["p50"] > 0]
    label_w, bar_w, row_h = 60 * 4 * SCALE, 420, 11 * SCALE
    canvas = Canvas(label_w + bar_w + 40 * 4 * SCALE, 40 + row_h * max(1, len(rows)) + 20)
    canvas.text(8, 8, "PWSK BENCH: FIGURE P50 (BLUE) OVER ITS FLOOR (GREY), LOG SCALE PER UNIT")
    spans: dict[str, tuple[float, float]] = {}
    for _, f in rows:
        lo, hi = spans.get(f.unit, (math.inf, 0.0))
        assert f.floor_p50 is not None
        values = [f.stats()["p50"], f.floor_p50]
        spans[f.unit] = (min(lo, *values), max(hi, *values))

    def width(unit: str, value: float) -> int:
        lo, hi = spans[unit]
        lo_l, hi_l = math.log10(lo) - 0.3, math.log10(hi) + 0.1
        return max(2, int(bar_w * (math.log10(value) - lo_l) / max(1e-9, hi_l - lo_l)))

    y = 40
    for deployment, f in rows:
        assert f.floor_p50 is not None
        p50 = f.stats()["p50"]
        canvas.text(8, y + 2, f"{deployment[:11]:<11} {f.name.strip()[:47]}")
        canvas.rect(label_w, y, width(f.unit, f.floor_p50), row_h - 6, GREY)
        canvas.rect(label_w, y + 3, width(f.unit, p50), row_h - 12, BLUE)
        canvas.text(label_w + bar_w + 8, y + 2,
                    f"{_fmt(p50)} / {_fmt(f.floor_p50)} {f.unit} X{p50 / f.floor_p50:.1f}")
        y += row_h
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canvas.png())
    return path


def from_json(dirs: list[Path]) -> list[Report]:
    """Reports rebuilt from the suite's JSON (each figure's p50 stands for its samples)."""
    import json

    from .core import Figure, Report

    reports = []
    for d in dirs:
        for path in sorted(d.glob("*.json")):
            data = json.loads(path.read_text())
            report = Report(data["benchmark"], data["deployment"], data["quick"])
            for f in data["figures"]:
                report.add(Figure(f["figure"], f["unit"],
                                  [] if f["p50"] is None else [f["p50"]],
                                  floor=f["floor"], floor_p50=f["floor_p50"]))
            reports.append(report)
    return reports


if __name__ == "__main__":
    import sys

    # python -m bench.plot OUT.png DIR [DIR...]: one chart from earlier runs' JSON
    print(plot(from_json([Path(d) for d in sys.argv[2:]]), Path(sys.argv[1])))
