"""Frames per second of the synthetic scene generator, per lighting/weather option.

Usage: python benchmarks/scene_speed.py [FRAMES]
"""

from __future__ import annotations

import itertools
import sys
import time

from live_explain.synthetic import DrivingScene

OPTIONS = {
    "day": {"lighting": "day", "weather": "clear"},
    "dusk": {"lighting": "dusk", "weather": "clear"},
    "night": {"lighting": "night", "weather": "clear"},
    "rain": {"lighting": "day", "weather": "rain"},
    "night+rain+blur": {"lighting": "night", "weather": "rain", "motion_blur": True},
}


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for name, options in OPTIONS.items():
        rates = []
        for seed in (0, 1, 2):
            stream = DrivingScene(seed=seed, size=(640, 360), **options).frames()
            next(stream)
            start = time.perf_counter()
            for _ in itertools.islice(stream, frames):
                pass
            rates.append(frames / (time.perf_counter() - start))
        print(f"{name:16} {min(rates):6.0f} - {max(rates):6.0f} frames/s at 640x360")


if __name__ == "__main__":
    main()
