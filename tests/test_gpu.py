"""CUDA paths: the same detections and maps on the GPU as on the CPU, in fp32 and with a
bf16 backbone. Skipped where CUDA is absent.

The comparisons run on the trained demo detector: random weights give many exactly tied
scores (every Faster R-CNN MobileNet detection scores the same), and tied rows may come back
in another order on another device, or their maps all look alike. ``assert_maps_agree``
asserts that the reference's detections differ before it pairs and compares them.
"""

import cv2
import numpy as np
import pytest
import torch
from conftest import MEDIA, REPO
from distinct_rows import assert_maps_agree

from live_explain.explain import explain_detections
from live_explain.model.detector import frame_to_tensor
from live_explain.model.loading import load_model

pytestmark = pytest.mark.gpu

PHOTO = MEDIA / "solidYellowCurve.jpg"  # real dashcam photo: the demo finds and explains in it
SAMPLE_DRIVE = REPO / "recordings" / "sample_drive.mp4"  # the demo's world, 640x360


@pytest.fixture
def ieee_fp32():
    """Full float32 on the GPU: cuDNN's convolutions use TF32 by default (10-bit mantissa),
    which moves boxes by more than the CPU comparison allows."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam", "eigencam"])
def test_gpu_maps_match_cpu(method, ieee_fp32):
    image = cv2.imread(str(PHOTO))
    model = load_model("demo")
    [cpu] = explain_detections(
        model, [frame_to_tensor(image, torch.device("cpu"))], method, topk=5, score_thresh=0.0
    )
    model = model.cuda()
    [gpu] = explain_detections(
        model, [frame_to_tensor(image, torch.device("cuda"))], method, topk=5, score_thresh=0.0
    )
    assert gpu.heatmaps.device.type == "cuda"
    # The same detections in the same order (the demo's top five scores on the photo lie
    # 0.007 or more apart, far beyond float32's noise), so rows compare one for one.
    assert gpu.labels.tolist() == cpu.labels.tolist()
    assert torch.allclose(cpu.boxes, gpu.boxes.cpu(), atol=1e-2)
    corr = torch.corrcoef(torch.stack([cpu.heatmaps.flatten(), gpu.heatmaps.cpu().flatten()]))
    assert corr[0, 1] > 0.99
    per_detection = method != "eigencam"  # EigenCAM: one map per frame, whatever the box
    pairs = assert_maps_agree(
        cpu, gpu, min_corr=0.99, score_atol=1e-3, maps_per_detection=per_detection
    )
    assert pairs == [(k, k) for k in range(5)]


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
    from live_explain.realtime.device_io import DeviceIO

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
    """The real-time pipeline on the GPU (TF32 as users get it; bf16 backbone for ``bf16``)
    against the fp32 CPU pipeline, on the demo's sample drive: the same detections, and each
    map correlates with its CPU map (0.98 or more). Maps refresh every frame so that both
    runs show fresh maps, not reuse decisions that a small difference may flip."""
    from live_explain.io.capture import VideoFileSource
    from live_explain.model.detector import Detector
    from live_explain.realtime.pipeline import Pipeline
    from live_explain.realtime.refresh_policy import RefreshPolicy

    results = {}
    for device in ("cpu", "cuda"):
        model = load_model("demo")
        prec = precision if device == "cuda" else "fp32"
        detector = Detector(model, device, 0.0, None, 5, method="gradcam", precision=prec)
        policy = RefreshPolicy(mode="every-frame")
        pipeline = Pipeline(VideoFileSource(SAMPLE_DRIVE), detector, max_frames=6, policy=policy)
        results[device] = list(pipeline.run())
    assert len(results["cpu"]) == 6
    compared = 0
    for cpu, gpu in zip(results["cpu"], results["cuda"], strict=True):
        assert gpu.detections.heatmaps.dtype == np.float32
        assert gpu.overlay.shape == cpu.overlay.shape
        # Paired by label and box: the sample drive has close scores (0.8815 and 0.8808 in
        # frame 2), which TF32 or bf16 may swap.
        pairs = assert_maps_agree(cpu.detections, gpu.detections, min_corr=0.98)
        compared += len(pairs)
        if precision == "fp32":
            for k, j in pairs:
                assert np.allclose(gpu.detections.boxes[j], cpu.detections.boxes[k], atol=0.5)
            diff = np.abs(gpu.overlay.astype(int) - cpu.overlay.astype(int))
            assert diff.mean() < 3.0
    assert compared >= 25  # of the 30 detections, all but those at the top-k edge
