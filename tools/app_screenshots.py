"""Re-make the app's screenshots in docs/: the bundled sample drive's crowded frame 50 with
the Compare dock and with the Track history dock, at three window sizes.

    QT_QPA_PLATFORM=offscreen python tools/app_screenshots.py [--out docs]

The real window, engine and bundled demo detector; nothing is drawn by this script.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from live_explain.ui.qt_env import prepare_qt_environment

prepare_qt_environment()

from PyQt6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

SIZES = ((1024, 640), (1440, 900), (1920, 1080))
CROWDED = 49  # frame index: frame 50 in the transport
HISTORY_FROM = 24  # the track history covers frames 25..50
DRIVE = Path(__file__).resolve().parents[1] / "recordings" / "sample_drive.mp4"


def wait(window, ms: int = 30_000) -> None:
    """Until the next frame is shown (or ``ms``)."""
    loop = QEventLoop()
    window.frame_shown.connect(loop.quit)
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    window.frame_shown.disconnect(loop.quit)


def settle(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def until(predicate, ms: int = 30_000) -> None:
    for _ in range(ms // 50):
        if predicate():
            return
        settle(50)


def shoot(size: tuple[int, int], out: Path) -> list[Path]:
    from live_explain.ui.loaded_model import load_detector_model
    from live_explain.ui.main_window import MainWindow
    from live_explain.ui.settings import APP_DEFAULTS, AppSettings

    folder = Path(tempfile.mkdtemp())
    settings = APP_DEFAULTS.replace(model="demo", weights="demo", score_thresh=0.3)
    window = MainWindow(
        AppSettings(folder / "s.ini"), settings, load_detector_model("demo", "demo"), folder
    )
    window.resize(*size)
    window.show()
    window.open_source(str(DRIVE), playing=False)
    wait(window)
    window.seek(HISTORY_FROM)
    until(lambda: window.last_update.position == HISTORY_FROM)
    for _ in range(CROWDED - HISTORY_FROM):
        window.step(1)
        wait(window)
    until(lambda: window.last_update.position == CROWDED)
    update = window.last_update
    widths = [box[2] - box[0] for box in update.detections.boxes]
    key = update.selection_keys[widths.index(max(widths))]  # the big truck on the right
    window.select_detection(key)
    wait(window)
    written = []
    for name, dock in (("compare", window.compare_dock), ("track-history", window.history_dock)):
        dock.show()
        dock.raise_()
        window.resizeDocks([dock], [int(size[1] * 0.34)], Qt.Orientation.Vertical)
        if name == "compare":
            until(lambda: window.compare.frame == CROWDED and len(window.compare.sides) == 2)
        settle(400)
        path = out / f"app-{name}-{size[0]}x{size[1]}.png"
        window.grab().save(str(path))
        written.append(path)
    window.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    for size in SIZES:
        for path in shoot(size, args.out):
            print(f"wrote {path}")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
