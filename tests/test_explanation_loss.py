"""The demo detector's explanation-supervision term: the Grad-CAM map's energy outside the
true box, computed as the explainer computes Grad-CAM, and trainable."""

import itertools

import numpy as np
import torch

from live_explain.explain.align import to_frame
from live_explain.model.loading import load_model
from live_explain.monitor.metrics import energy_in_box
from live_explain.synthetic import DrivingScene
from live_explain.synthetic.demo_model import INPUT_SIZE, build_demo_detector
from live_explain.synthetic.explanation_loss import gradcam_outside_share, upsampled_cover
from live_explain.synthetic.train import WEIGHTS_FILE, to_training_pair
from live_explain.synthetic.train import main as train_main


def test_the_cover_weights_give_the_energy_in_box_of_the_map_the_app_shows():
    """On the grid, the weights give exactly the pointing game's figure for the map upsampled
    to frame pixels (the evaluation's measure), small boxes and boxes at the border too."""
    generator = torch.Generator().manual_seed(0)
    cam = torch.rand((1, 48, 80), generator=generator, dtype=torch.float64)
    shown = to_frame(cam, (384, 640), (360, 640), (360, 640))[0].numpy()
    for box in ([100.3, 50.2, 114.9, 70.1], [0, 0, 640, 360], [600.0, 340.0, 700.0, 400.0]):
        inside, total = upsampled_cover(
            torch.tensor(box, dtype=torch.float64), (48, 80), 8.0, (360, 640)
        )
        share = float((cam[0] * inside).sum() / (cam[0] * total).sum())
        assert abs(share - energy_in_box(shown, np.array(box))) < 1e-9


def test_stage_two_alone_is_reproducible_and_records_its_recipe(tmp_path):
    """``train --init`` runs the explain stage alone; the same seed gives the same weights."""
    paths = []
    for name in ("a.pt", "b.pt"):
        paths.append(tmp_path / name)
        args = ["--init", str(WEIGHTS_FILE), "--explain-iterations", "2", "--batch-size", "1"]
        train_main([*args, "--device", "cpu", "-o", str(paths[-1])])
    a, b = (torch.load(p, weights_only=True) for p in paths)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    start = torch.load(WEIGHTS_FILE, weights_only=True)["state_dict"]
    assert any(not torch.equal(start[k], a["state_dict"][k]) for k in start)  # it trained
    meta = a["meta"]
    assert meta["init"]["file"] == WEIGHTS_FILE.name and meta["iterations"] is None
    assert meta["init"]["meta"]["input_size"] == [640, 360]  # the start's recipe travels along
    assert meta["explain_iterations"] == 2 and meta["explain_weight"] == 0.8


def _batch(model):
    frame, truth = next(
        (f, t) for f, t in DrivingScene(seed=1000, size=INPUT_SIZE).frames(40) if len(t["labels"])
    )
    image, target = to_training_pair(frame, truth, flip=False)
    seen = {}
    model.transform.register_forward_hook(lambda m, a, out: seen.__setitem__("input", out))
    model.backbone.register_forward_hook(lambda m, a, out: seen.__setitem__("features", out))
    return [image], [target], seen


def test_the_term_is_a_share_and_its_gradient_lowers_it():
    """Small steps down the term's gradient (through activations and channel weights, the
    double backward included) lower it: the term is differentiable the way training uses it."""
    model = load_model("demo").eval()  # eval: BatchNorm's running statistics, deterministic
    images, targets, seen = _batch(model)
    params = [p for p in model.parameters() if p.requires_grad]
    shares = []
    for _ in range(4):
        model(images)  # the forward fills seen
        image_list, _ = seen["input"]
        share = gradcam_outside_share(
            model,
            seen["features"],
            [t["boxes"] for t in targets],
            [t["labels"] for t in targets],
            image_list.image_sizes,
        )
        shares.append(float(share.detach()))
        assert 0.0 <= shares[-1] <= 1.0 + 1.1  # the share, plus the dead-map hinge
        grads = torch.autograd.grad(share, params, allow_unused=True)
        norm = torch.sqrt(sum((g**2).sum() for g in grads if g is not None))
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                if g is not None:
                    p -= 0.003 * g / norm
    assert all(b < a for a, b in itertools.pairwise(shares)), shares
    assert shares[-1] < shares[0] - 0.002, shares


def test_no_object_gives_a_zero_term():
    model = build_demo_detector().train()
    features = {k: torch.rand(1, 64, 8, 8, requires_grad=True) for k in ("0", "1", "2", "pool")}
    share = gradcam_outside_share(
        model, features, [torch.zeros((0, 4))], [torch.zeros(0, dtype=torch.long)], [(64, 64)]
    )
    assert float(share.detach()) == 0.0
