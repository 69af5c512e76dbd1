"""Long runs: no growth of hooks or memory over thousands of explained frames."""

import gc

import pytest
import torch

from live_explain.bench import peak_rss_mb
from live_explain.explain import DetectionExplainer
from live_explain.models import load_model
from live_explain.synthetic import DrivingScene


def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


@pytest.mark.slow
def test_two_thousand_explained_frames_leave_no_hooks_or_growth():
    from live_explain.detect import frame_to_tensor

    model = load_model("fasterrcnn_mobilenet_v3_large_320_fpn", weights="none")
    explainer = DetectionExplainer(model, "gradcam", topk=5, score_thresh=0.0)
    hooks = lambda: sum(  # noqa: E731
        len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()
    )
    frames = DrivingScene(seed=3, size=(320, 192)).frames(2000)
    rss = []
    for index, (image, _) in enumerate(frames):
        result = explainer(frame_to_tensor(image, torch.device("cpu")))
        assert len(result) == 5
        if index % 250 == 249:
            gc.collect()
            rss.append(current_rss_mb())
            assert hooks() == 0
    growth = rss[-1] - rss[0]  # from frame 250 on, once allocator pools are warm
    assert growth < 50, f"RSS grew by {growth:.1f} MB: {rss}"
    assert peak_rss_mb() < 4000
