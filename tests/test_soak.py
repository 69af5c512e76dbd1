"""Long runs: memory stays flat and no hooks pile up over thousands of explained frames."""

import gc

import pytest
from process_memory import current_rss_mb, peak_since_reset_mb, reset_peak_rss

from live_explain.io.synthetic_source import SyntheticSource
from live_explain.model.detector import Detector
from live_explain.model.loading import load_model
from live_explain.realtime.bench import peak_rss_mb
from live_explain.realtime.pipeline import Pipeline

FRAMES = 5000


@pytest.mark.slow
def test_five_thousand_frames_through_the_pipeline_keep_memory_flat():
    """The whole threaded pipeline (decode, detect + explain with reuse, tracking, render)
    over a 5,000-frame synthetic drive. The demo detector runs at 320x180 to keep the test
    to a couple of minutes; memory behaviour does not depend on the frame size."""
    gc.collect()
    own_peak = reset_peak_rss()
    start = current_rss_mb()  # what earlier tests in this process left allocated
    model = load_model("demo")
    model.transform.min_size, model.transform.max_size = (180,), 320
    detector = Detector(model, "cpu", 0.3, None, 8, method="gradcam")
    pipeline = Pipeline(SyntheticSource(seed=3, size=(320, 180), frames=FRAMES), detector)
    hooks = lambda: sum(  # noqa: E731
        len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()
    )
    rss, hooked, frames, detections, refreshed = [], [], 0, 0, 0
    for result in pipeline.run():
        frames += 1
        detections += len(result.detections)
        refreshed += int(result.detections.refreshed.sum())
        if frames % 500 == 0:
            gc.collect()
            rss.append(current_rss_mb())
            hooked.append(hooks())  # the infer thread may be mid-frame, hooks registered
    assert frames == FRAMES
    assert hooks() == 0 and max(hooked) <= 10, hooked
    assert detections > FRAMES  # the demo detector finds the scene's road users
    assert 0 < refreshed < detections  # maps were both refreshed and reused
    growth = rss[-1] - rss[0]  # from frame 500 on, once allocator pools are warm
    assert growth < 50, f"RSS grew by {growth:.1f} MB: {rss}"
    assert len(pipeline.cache.tracks) < 50 and len(pipeline.tracker.tracks) < 50
    if own_peak:  # the run's own peak above what it started from
        peak = peak_since_reset_mb() - start
        assert peak < 3000, f"peak RSS {peak:.0f} MB above the {start:.0f} MB at the start"
    else:
        assert peak_rss_mb() < 4000
