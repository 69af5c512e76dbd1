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


def test_device_io_round_trip_through_pinned_buffers():
    import numpy as np

    from live_explain.cuda_io import DeviceIO

    io = DeviceIO(torch.device("cuda"), slots=2)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (72, 128, 3), dtype=np.uint8) for _ in range(5)]
    for index, frame in enumerate(frames):  # more frames than slots: the ring wraps
        slot = io.next_slot()
        with io.compute():
            up = io.upload(frame, slot)
            doubled = (up.float() * 0.5).to(torch.uint8)
            back = io.readback({"x": doubled, "y": up}, slot)
        host = back.wait()
        assert np.array_equal(host["y"], frames[index])
        assert np.array_equal(host["x"], (frames[index] * 0.5).astype(np.uint8))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_pipeline_matches_the_cpu_pipeline(precision):
    import numpy as np
    from conftest import CLIP

    from live_explain.detect import Detector
    from live_explain.engine import Pipeline
    from live_explain.sources import VideoFileSource

    results = {}
    for device in ("cpu", "cuda"):
        model = load_model("fasterrcnn_mobilenet_v3_large_320_fpn", weights="none")
        prec = precision if device == "cuda" else "fp32"
        detector = Detector(model, device, 0.0, None, 5, method="gradcam", precision=prec)
        pipeline = Pipeline(VideoFileSource(CLIP), detector, max_frames=6)
        results[device] = list(pipeline.run())
    for cpu, gpu in zip(results["cpu"], results["cuda"], strict=True):
        assert gpu.detections.heatmaps.dtype == np.float32
        assert gpu.overlay.shape == cpu.overlay.shape
        if precision == "fp32":
            assert np.allclose(gpu.detections.boxes, cpu.detections.boxes, atol=0.5)
            corr = np.corrcoef(gpu.detections.heatmaps.ravel(), cpu.detections.heatmaps.ravel())
            assert corr[0, 1] > 0.98
            diff = np.abs(gpu.overlay.astype(int) - cpu.overlay.astype(int))
            assert diff.mean() < 3.0
