"""The demo detector's explanation-supervision term: the Grad-CAM map's energy outside the
true box, computed as the explainer computes Grad-CAM, and trainable."""

import numpy as np
import torch

from live_explain.models import load_model
from live_explain.synthetic import DrivingScene
from live_explain.synthetic.demo_model import INPUT_SIZE, build_demo_detector
from live_explain.synthetic.explanation_loss import box_cover, gradcam_outside_share
from live_explain.synthetic.train import WEIGHTS_FILE, to_training_pair
from live_explain.synthetic.train import main as train_main


def test_box_cover_is_the_covered_share_of_each_cell():
    cover = box_cover(torch.tensor([4.0, 0.0, 12.0, 8.0]), (2, 3), 8.0)
    assert torch.allclose(cover, torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]))
    assert float(box_cover(torch.tensor([0.0, 0.0, 24.0, 16.0]), (2, 3), 8.0).sum()) == 6.0


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
    assert meta["init"] == WEIGHTS_FILE.name and meta["iterations"] is None
    assert meta["explain_iterations"] == 2 and meta["explain_weight"] == 0.3


def _batch(model):
    frame, truth = next(
        (f, t) for f, t in DrivingScene(seed=1000, size=INPUT_SIZE).frames(40) if len(t["labels"])
    )
    image, target = to_training_pair(frame, truth, flip=False)
    seen = {}
    model.transform.register_forward_hook(lambda m, a, out: seen.__setitem__("input", out))
    model.backbone.register_forward_hook(lambda m, a, out: seen.__setitem__("features", out))
    return [image], [target], seen


def test_the_term_is_a_share_and_training_on_it_lowers_it():
    torch.manual_seed(0)
    model = load_model("demo").train()  # trained to detect, not yet to explain
    images, targets, seen = _batch(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    shares = []
    for _ in range(8):
        model(images, targets)  # the forward fills seen
        image_list, sized = seen["input"]
        share = gradcam_outside_share(
            model,
            seen["features"],
            [t["boxes"] for t in sized],
            [t["labels"] for t in sized],
            image_list.image_sizes,
        )
        shares.append(float(share.detach()))
        assert 0.0 <= shares[-1] <= 1.0
        optimizer.zero_grad()
        share.backward()
        optimizer.step()
    assert shares[-1] < shares[0] - 0.2, shares  # seen: 0.998 -> 0.55 in 8 steps
    assert np.isfinite(shares).all()


def test_no_object_gives_a_zero_term():
    model = build_demo_detector().train()
    features = {k: torch.rand(1, 64, 8, 8, requires_grad=True) for k in ("0", "1", "2", "pool")}
    share = gradcam_outside_share(
        model, features, [torch.zeros((0, 4))], [torch.zeros(0, dtype=torch.long)], [(64, 64)]
    )
    assert float(share) == 0.0
