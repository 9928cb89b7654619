"""Render the application icon (``resources/icons/app.svg``) into the files desktops and installers want.

Why this exists: Linux desktop entries look for ``nnstudio.png`` / ``nnstudio.svg`` (``Icon=nnstudio``),
Windows executables embed ``nnstudio.ico`` (PyInstaller's ``icon=``), and all three must match the window
icon the app draws from ``app.svg``.  Run it after changing ``app.svg``:

    QT_QPA_PLATFORM=offscreen python tools/make_app_icon.py
"""
from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
PNG_SIZE = 256
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn on a transparent ``size`` x ``size`` canvas, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:  # QPainter on a QImage needs a (GUI) application object
        render_png.app = QGuiApplication([sys.argv[0]])  # type: ignore[attr-defined] - kept alive
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image

    svg = ICONS / "app.svg"
    shutil.copyfile(svg, ICONS / "nnstudio.svg")
    (ICONS / "nnstudio.png").write_bytes(render_png(svg, PNG_SIZE))
    # Each .ico size drawn from the vector source, so small sizes stay crisp rather than downscaled.
    frames = [Image.open(io.BytesIO(render_png(svg, s))).convert("RGBA") for s in ICO_SIZES]
    frames[-1].save(ICONS / "nnstudio.ico", format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                    append_images=frames[:-1])
    print(f"wrote nnstudio.svg, nnstudio.png ({PNG_SIZE} px), nnstudio.ico ({', '.join(map(str, ICO_SIZES))} px)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
