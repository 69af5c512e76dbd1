"""Deletion and insertion: a method's real map against its own inverse, on a real detector."""

import numpy as np
import pytest

from live_explain.explain.detection import DetectionExplainer
from live_explain.model.detector import Detector, frame_to_tensor
from live_explain.model.loading import load_model
from live_explain.monitor.faithfulness import (
    area_under,
    blurred,
    evaluate_faithfulness,
    perturbation_curves,
)
from live_explain.synthetic import DrivingScene

STEPS = 4  # shares 0, 1/8, 1/4, 1/2, all: coarse, but enough to tell a map from its inverse


def test_area_under_evenly_spaced_points():
    assert area_under(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert area_under(np.array([1.0, 0.0, 0.0])) == pytest.approx(0.25)
    assert area_under(np.array([0.0, 0.5, 1.0])) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def scene():
    model = load_model("demo")
    [(image, _)] = DrivingScene(seed=3, size=(640, 360), lighting="day").frames(1)
    return model, image


def test_a_real_map_is_more_faithful_than_its_inverse(scene):
    model, image = scene
    explained = DetectionExplainer(model, "hirescam", None, 1, 0.5, None)(
        frame_to_tensor(image, "cpu")
    )
    assert len(explained) == 1, "the demo detector should find an object here"
    tensor, baseline = frame_to_tensor(image, "cpu"), frame_to_tensor(blurred(image), "cpu")
    box, label, score = explained.boxes[0].numpy(), int(explained.labels[0]), explained.scores[0]
    real = perturbation_curves(model, tensor, baseline, explained.heatmaps[0], box, label, STEPS)
    inverse = perturbation_curves(
        model, tensor, baseline, 1.0 - explained.heatmaps[0], box, label, STEPS
    )
    for deletion, insertion in (real, inverse):
        assert len(deletion) == len(insertion) == STEPS + 1
        # nothing changed yet / everything put back: the detection as it was
        assert deletion[0] == pytest.approx(float(score), abs=1e-3)
        assert insertion[-1] == pytest.approx(float(score), abs=1e-3)
    assert area_under(real[0]) < area_under(inverse[0]) - 0.2  # deletion: falls faster
    assert area_under(real[1]) > area_under(inverse[1]) + 0.2  # insertion: rises faster


def test_evaluate_gives_one_record_per_method(scene):
    model, image = scene
    detector = Detector(model, "cpu", 0.5, None, 10, method="gradcam")
    records = evaluate_faithfulness(
        detector, [(7, image)], ["hirescam", "eigencam"], steps=2, detections_per_frame=1
    )
    assert [r.method for r in records] == ["hirescam", "eigencam"]
    for record in records:
        assert record.frames == (7,) and record.detections == 1 and record.baseline == "blur"
        assert len(record.deletion_curve) == len(record.insertion_curve) == 3
        assert 0 <= record.deletion_auc <= 1 and 0 <= record.insertion_auc <= 1
