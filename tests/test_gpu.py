"""CUDA paths: the same maps on the GPU as on the CPU. Skipped where CUDA is absent."""

import pytest
import torch
from conftest import MEDIA

from live_explain.explain import DetectionExplainer
from live_explain.models import load_model

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam", "eigencam"])
def test_gpu_maps_match_cpu(method):
    import cv2

    from live_explain.detect import frame_to_tensor

    image = cv2.imread(str(MEDIA / "whiteCarLaneSwitch.jpg"))
    model = load_model("fasterrcnn_mobilenet_v3_large_320_fpn", weights="none")
    cpu = DetectionExplainer(model, method, topk=5, score_thresh=0.0)(
        frame_to_tensor(image, torch.device("cpu"))
    )
    model = model.cuda()
    gpu = DetectionExplainer(model, method, topk=5, score_thresh=0.0)(
        frame_to_tensor(image, torch.device("cuda"))
    )
    assert gpu.heatmaps.device.type == "cuda"
    assert torch.allclose(cpu.boxes, gpu.boxes.cpu(), atol=1e-2)
    corr = torch.corrcoef(torch.stack([cpu.heatmaps.flatten(), gpu.heatmaps.cpu().flatten()]))
    assert corr[0, 1] > 0.99


def test_gpu_bench_reports_memory(cli, clip):
    import json

    result = cli(
        "bench",
        clip,
        "--json",
        "--weights",
        "none",
        "--device",
        "cuda",
        "--score-thresh",
        "0",
        "--topk",
        "10",
        "--max-frames",
        "5",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["device"].startswith("cuda") and data["gpu_peak_mem_mb"] > 0
