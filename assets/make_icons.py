"""Draw Notewell's icons with QPainter (run once; the PNGs are committed).

    QT_QPA_PLATFORM=offscreen python assets/make_icons.py

One look everywhere: a note page on an indigo→teal tile with an amber spark (the
assistant); tray icons add a status dot (idle, indexing, sharing, error).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter, QPainterPath, QPen

HERE = Path(__file__).resolve().parent
STATES = {
    "idle": QColor("#94a3b8"),
    "indexing": QColor("#f59e0b"),
    "sharing": QColor("#22c55e"),
    "error": QColor("#ef4444"),
}


def draw(size: int, status: QColor | None = None) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 512.0
    tile = QRectF(16 * s, 16 * s, 480 * s, 480 * s)
    gradient = QLinearGradient(tile.topLeft(), tile.bottomRight())
    gradient.setColorAt(0.0, QColor("#4338ca"))
    gradient.setColorAt(1.0, QColor("#0d9488"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(gradient)
    p.drawRoundedRect(tile, 104 * s, 104 * s)

    # the note page with a folded corner
    page = QPainterPath()
    left, top, right, bottom, fold = 132 * s, 104 * s, 372 * s, 408 * s, 72 * s
    page.moveTo(left, top)
    page.lineTo(right - fold, top)
    page.lineTo(right, top + fold)
    page.lineTo(right, bottom)
    page.lineTo(left, bottom)
    page.closeSubpath()
    p.setBrush(QColor("#ffffff"))
    p.drawPath(page)
    corner = QPainterPath()
    corner.moveTo(right - fold, top)
    corner.lineTo(right - fold, top + fold)
    corner.lineTo(right, top + fold)
    corner.closeSubpath()
    p.setBrush(QColor("#c7d2fe"))
    p.drawPath(corner)

    # lines of text
    pen = QPen(QColor("#4338ca"), 22 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    for n, width in enumerate((150, 190, 120)):
        y = (214 + n * 58) * s
        p.drawLine(QPointF(left + 40 * s, y), QPointF(left + (40 + width) * s, y))

    # the spark: a four-pointed star overlapping the page
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#fbbf24"))
    cx, cy, r, w = 360 * s, 352 * s, 92 * s, 24 * s
    star = QPainterPath()
    star.moveTo(cx, cy - r)
    star.quadTo(cx + w * 0.5, cy - w * 0.5, cx + r, cy)
    star.quadTo(cx + w * 0.5, cy + w * 0.5, cx, cy + r)
    star.quadTo(cx - w * 0.5, cy + w * 0.5, cx - r, cy)
    star.quadTo(cx - w * 0.5, cy - w * 0.5, cx, cy - r)
    p.drawPath(star)

    if status is not None:
        d = 200 * s
        dot = QRectF(size - d - 4 * s, size - d - 4 * s, d, d)
        p.setBrush(QColor("#ffffff"))
        p.drawEllipse(dot)
        p.setBrush(status)
        p.drawEllipse(dot.adjusted(26 * s, 26 * s, -26 * s, -26 * s))
    p.end()
    return image


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841
    draw(512).save(str(HERE / "logo.png"))
    draw(256).save(str(HERE / "notewell.png"))
    for name, color in STATES.items():
        draw(64, color).save(str(HERE / f"tray-{name}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
