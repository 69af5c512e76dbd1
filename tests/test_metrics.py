"""mAP@0.5 and the energy pointing game on hand-made cases with known answers."""

import numpy as np
import pytest

from live_explain.monitor.metrics import (
    DetectionEvaluator,
    average_precision,
    box_iou,
    energy_in_box,
)


def test_box_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert np.allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]])


def test_perfect_detections_score_one():
    evaluator = DetectionEvaluator()
    truth = np.array([[0, 0, 10, 10], [20, 20, 40, 40]])
    evaluator.add(truth, ["car", "person"], [0.9, 0.8], truth, ["car", "person"])
    assert evaluator.ap() == {"car": 1.0, "person": 1.0} and evaluator.map() == 1.0


def test_false_positive_ranked_first_halves_precision_at_full_recall():
    evaluator = DetectionEvaluator()
    truth = np.array([[0, 0, 10, 10]])
    boxes = np.array([[50, 50, 60, 60], [0, 0, 10, 10]])
    evaluator.add(boxes, ["car", "car"], [0.9, 0.5], truth, ["car"])
    assert evaluator.ap()["car"] == pytest.approx(0.5)


def test_duplicates_and_wrong_class_do_not_count():
    evaluator = DetectionEvaluator()
    truth = np.array([[0, 0, 10, 10], [30, 0, 40, 10]])
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [30, 0, 40, 10]])
    evaluator.add(boxes, ["car", "car", "truck"], [0.9, 0.8, 0.7], truth, ["car", "car"])
    ap = evaluator.ap()
    assert ap["car"] == pytest.approx(0.5)  # one of two cars found, at precision 1
    assert "truck" not in ap  # no truck in the truth: no AP for it


def test_difficult_objects_are_neither_asked_for_nor_held_against():
    truth = np.array([[0, 0, 10, 10], [30, 0, 40, 10]])
    missed_hard = DetectionEvaluator()  # only the easy car found: full AP
    missed_hard.add(truth[:1], ["car"], [0.9], truth, ["car", "car"], [False, True])
    assert missed_hard.ap()["car"] == 1.0
    found_hard = DetectionEvaluator()  # a confident detection of the hard car: not a FP
    boxes = np.array([[30, 0, 40, 10], [0, 0, 10, 10]])
    found_hard.add(boxes, ["car", "car"], [0.9, 0.5], truth, ["car", "car"], [False, True])
    assert found_hard.ap()["car"] == 1.0
    plain = DetectionEvaluator()  # without the flag the same detections miss half
    plain.add(truth[:1], ["car"], [0.9], truth, ["car", "car"])
    assert plain.ap()["car"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        plain.add(truth, ["car", "car"], [0.9, 0.5], truth, ["car", "car"], [True])


def test_average_precision_envelope():
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(0.75)


def test_energy_in_box():
    heat = np.zeros((10, 10))
    heat[2:4, 2:4] = 1.0
    heat[8, 8] = 4.0
    assert energy_in_box(heat, [2, 2, 4, 4]) == pytest.approx(0.5)
    assert energy_in_box(np.zeros((4, 4)), [0, 0, 2, 2]) == 0.0
