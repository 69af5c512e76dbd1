"""Device consistency without a GPU: the checker of ``device_check.py`` on made-up code (it
must catch a deliberate mix and pass a clean computation), then on the pipeline, bench's
reuse measurement, export and the GPU blend, each of which must mix nothing.

The host synchronisations each run leaves are printed per frame (``pytest -s``, or ``-rP``):
``file:line``, what is read and how often.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from conftest import CLIP
from device_check import COMPUTE, DeviceCheck, GpuPathIO, compute_device_for_cli, is_tagged
from torch import nn

from live_explain.io.recognise import open_source
from live_explain.model.detector import Detector
from live_explain.model.loading import load_model
from live_explain.realtime import pipeline as engine
from live_explain.realtime.bench import measure_reuse
from live_explain.realtime.pipeline import Pipeline
from live_explain.realtime.refresh_policy import RefreshPolicy
from live_explain.render import device as render_device
from live_explain.render.device import blend_heat_tensor

THIS = "tests/test_device_consistency.py"
# The demo detector (trained, bundled) finds a car on the real clip from its first frames
# and keeps it: its map is reused by weights on frame 2 under the default policy.
FRAMES = 5


def line_of(text: str) -> str:
    """``file:line`` of the one line of this file that contains ``text``."""
    with open(__file__, encoding="utf-8") as f:
        lines = [i for i, line in enumerate(f, 1) if text in line and "line_of(" not in line]
    assert len(lines) == 1, (text, lines)
    return f"{THIS}:{lines[0]}"


def show(check: DeviceCheck, title: str, frames: int) -> None:
    """Print the host synchronisations per frame, and the uploads."""
    print(f"\n== {title}: host synchronisations over {frames} frames")
    print(check.table(frames, "readback", "sync"))
    print(f"-- uploads over {frames} frames")
    print(check.table(frames, "upload", "implicit-upload"))


@pytest.fixture(scope="module")
def demo_model() -> nn.Module:
    return load_model("demo", weights="demo")


@pytest.fixture
def one_thread():
    """One intra-op thread for runs on the test's own thread: on a busy 2-core machine its
    OpenMP team stalls against the decoder's thread (8 s for 3 frames instead of 0.6 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_model() -> nn.Module:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    return model.eval().requires_grad_(False)


# -- the checker itself ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context")
def test_checker_catches_a_deliberate_mix(tiny_model):
    frame = np.zeros((8, 10, 3), np.uint8)
    with DeviceCheck() as check:
        image = torch.from_numpy(frame).to(COMPUTE).permute(2, 0, 1).float()[None]
        features = tiny_model(image)
        offsets = torch.from_numpy(np.ones((1, 4, 8, 10), np.float32))  # host memory
        features + offsets  # deliberate mix
        # NumPy takes this one over: it reads the tensor (a readback; on CUDA an error) and
        # wraps its own result as a tensor.
        features - np.ones((8, 10), np.float32)  # a NumPy array is host memory too
        features * torch.zeros(4, 1, 1, device="cpu")  # the host, spelled as a string
        features * torch.ones(1)  # one element, but 1-D: CUDA refuses it too
        torch.stack([features[0, 0], offsets[0, 0]])  # a host map among device maps
        offsets[0, 0][features[0, 0] > 0]  # a device mask indexing host memory
    mixes = [(r.op, r.where) for r in check.mixes]
    assert mixes == [
        ("add", line_of("+ offsets  # deliberate mix")),
        ("__array_wrap__", line_of("a NumPy array is host memory")),
        ("mul", line_of("# the host, spelled as a string")),
        ("mul", line_of("torch.ones(1)  #")),
        ("stack", line_of("torch.stack([features")),
        ("__getitem__", line_of("a device mask indexing")),
    ]
    with pytest.raises(AssertionError, match="6 operations mix device and host"):
        check.assert_no_mixing()


def test_checker_passes_a_clean_computation_and_lists_its_readbacks(tiny_model):
    frame = np.zeros((8, 10, 3), np.uint8)
    with DeviceCheck() as check:
        uploaded = torch.from_numpy(frame).to(COMPUTE)  # the upload
        image = uploaded.permute(2, 0, 1).float()[None]
        features = tiny_model(image)  # parameters and BatchNorm buffers are on the device
        assert features.device == COMPUTE and is_tagged(features)
        mask = torch.zeros(features.shape[-2:], device=features.device)
        mask = mask + features.new_ones(()) + torch.ones_like(mask) * torch.tensor(2.0)
        total = (features * mask).sum() / torch.tensor(3.0)  # 0-dim host scalars are fine
        peak = float(total)  # readback 1
        rows = torch.nonzero(mask > 1).flatten()  # sync 2: a data-dependent shape
        picked = features.flatten()[torch.as_tensor([0, 2])]  # a host index: an upload
        host = picked.cpu()  # readback 3
        host = host * torch.arange(2) + torch.from_numpy(np.ones(2, np.float32))
        assert not is_tagged(host) and host.device == torch.device("cpu")
        values = features.mean(dim=(0, 2, 3)).tolist()  # readback 4
    check.assert_no_mixing()
    assert np.isfinite(peak) and len(values) == 4 and len(rows) > 0
    assert [(r.kind, r.op, r.where) for r in check.host_syncs] == [
        ("readback", "__float__", line_of("readback 1")),
        ("sync", "nonzero", line_of("sync 2")),
        ("readback", "cpu", line_of("readback 3")),
        ("readback", "tolist", line_of("readback 4")),
    ]
    uploads = [(r.kind, r.where) for r in check.of_kind("upload", "implicit-upload")]
    assert uploads == [
        ("upload", line_of("# the upload")),
        ("implicit-upload", line_of("a host index: an upload")),
    ]


def test_checker_follows_spellings_of_the_two_devices():
    with DeviceCheck() as check:
        x = torch.ones(3).to("cpu:0")
        same = [
            torch.zeros(3, device=x.device),
            torch.zeros(3, device="cpu:0"),
            torch.zeros(3, device=COMPUTE),
            x.new_zeros(3),
            torch.zeros_like(x),
            x.to(torch.float64),
        ]
        for tensor in same:
            assert is_tagged(tensor) and tensor.device == COMPUTE
        host = torch.ones(3)
        for tensor in (
            torch.zeros(3, device="cpu"),
            torch.zeros(3, device=torch.device("cpu")),
            torch.zeros(3, device=host.device),
            torch.zeros_like(x, device="cpu"),
            x.to(host.device),
            x.cpu(),
        ):
            assert not is_tagged(tensor) and tensor.device == torch.device("cpu")
        assert is_tagged(x)  # its host copies are aliases: x itself stays on the device
    check.assert_no_mixing()
    assert [r.op for r in check.of_kind("readback")] == ["to", "cpu"]


def test_checker_runs_in_threads_started_inside_it():
    errors = []

    def work():
        try:
            x = torch.ones(4).to(COMPUTE)
            x - torch.ones(4)  # a mix in another thread
        except BaseException as exc:
            errors.append(exc)

    with DeviceCheck() as check:
        worker = threading.Thread(target=work, name="worker")
        worker.start()
        worker.join()
    assert not errors
    assert [(r.op, r.thread, r.where) for r in check.mixes] == [
        ("sub", "worker", line_of("a mix in another thread"))
    ]


# -- the product's paths -----------------------------------------------------------------


def test_pipeline_mixes_no_devices_and_lists_its_host_syncs(demo_model, one_thread):
    detector = Detector(demo_model, COMPUTE, 0.3, topk=5, method="gradcam")
    source = open_source(str(CLIP))
    pipeline = Pipeline(source, detector, FRAMES, policy=RefreshPolicy(), threaded=False)
    with DeviceCheck() as check:
        results = list(pipeline.run())
    show(check, "Pipeline (threaded=False, gradcam, adaptive reuse by weights)", len(results))
    for frame, records in sorted(check.per_frame("readback", "sync").items()):
        print(f"frame {frame}: " + "; ".join(f"{r.op} {r.where}" for r in records))
    assert len(results) == FRAMES
    refreshed = np.concatenate([r.detections.refreshed for r in results])
    assert refreshed.any() and not refreshed.all(), "no map was reused: reuse went unchecked"
    check.assert_no_mixing()
    assert check.host_syncs  # the engine reads its detections back: the checker saw them


def test_pipeline_gpu_branch_mixes_no_devices(demo_model, monkeypatch, one_thread):
    """The engine's CUDA branch (maps coloured and blended on the device, one readback of
    overlay and maps) on the CPU, through a DeviceIO that says it is CUDA."""
    monkeypatch.setattr(engine, "DeviceIO", GpuPathIO)
    monkeypatch.setattr(render_device, "_LUTS", {})  # colour tables made on this device
    detector = Detector(demo_model, COMPUTE, 0.3, topk=5, method="gradcam")
    source = open_source(str(CLIP))
    pipeline = Pipeline(source, detector, FRAMES, policy=RefreshPolicy(), threaded=False)
    with DeviceCheck() as check:
        results = list(pipeline.run())
    show(check, "Pipeline, the CUDA branch (threaded=False)", len(results))
    assert len(results) == FRAMES
    assert [r.op for r in check.of_kind("readback")].count("DeviceIO.readback") >= FRAMES
    refreshed = np.concatenate([r.detections.refreshed for r in results])
    assert refreshed.any() and not refreshed.all(), "no map was reused: reuse went unchecked"
    check.assert_no_mixing()


def test_threaded_pipeline_mixes_no_devices(demo_model):
    detector = Detector(demo_model, COMPUTE, 0.3, topk=5, method="gradcam")
    source = open_source(str(CLIP))
    pipeline = Pipeline(source, detector, max_frames=3, policy=RefreshPolicy())
    with DeviceCheck() as check:
        results = list(pipeline.run())
    assert len(results) == 3
    threads = {r.thread for r in check.host_syncs}
    assert threads - {threading.current_thread().name}, "the checker missed the pipeline's threads"
    show(check, "Pipeline (threaded)", len(results))
    check.assert_no_mixing()


def test_measure_reuse_mixes_no_devices(demo_model, one_thread):
    detector = Detector(demo_model, COMPUTE, 0.3, topk=5, method="gradcam")
    with DeviceCheck() as check:
        source = check.count_frames(open_source(str(CLIP)))
        result = measure_reuse(source, detector, RefreshPolicy(), FRAMES)
    show(check, "bench.measure_reuse", FRAMES)
    assert result["reused_maps_compared"] > 0, "no map was reused: reuse went unchecked"
    check.assert_no_mixing()


def test_export_mixes_no_devices(cli, tmp_path):
    output = tmp_path / "out.mp4"
    with compute_device_for_cli(), DeviceCheck() as check:
        run = cli(
            "export", CLIP, "-o", output, "--model", "demo", "--weights", "demo",
            "--device", "cpu", "--max-frames", 3, "--topk", 5,
        )  # fmt: skip
    assert run.code == 0, run.err
    assert output.is_file()
    assert check.of_kind("upload"), "the export ran outside the checker"
    show(check, "export (cli.main, threaded, auto workers)", 3)
    check.assert_no_mixing()


def test_gpu_blend_mixes_no_devices(monkeypatch):
    monkeypatch.setattr(render_device, "_LUTS", {})  # colour tables made on this device
    rng = np.random.default_rng(0)
    with DeviceCheck() as check:
        image = torch.from_numpy(rng.integers(0, 255, (48, 64, 3), np.uint8)).to(COMPUTE)
        maps = torch.rand((2, 48, 64), device=COMPUTE)
        boxes = torch.tensor([[4.0, 4.0, 30.0, 40.0], [20.0, 10.0, 60.0, 44.0]], device=COMPUTE)
        scores = torch.tensor([0.9, 0.6], device=COMPUTE)
        for merged in (False, True):
            blended = blend_heat_tensor(image, maps, boxes, scores, merged=merged)
            assert is_tagged(blended) and blended.shape == image.shape
    show(check, "render_device.blend_heat_tensor (per box, then merged)", 2)
    check.assert_no_mixing()
