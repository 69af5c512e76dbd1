"""Model loading: random init, state-dict files, torchvision's weights API offline."""

import pytest
import torch

from live_explain.errors import UserError
from live_explain.model.loading import load_model, weights_file

NAME = "fasterrcnn_mobilenet_v3_large_320_fpn"


def test_random_init_has_coco_categories():
    model = load_model(NAME, weights="none")
    assert not model.training
    assert len(model.categories) == 91 and model.categories[3] == "car"
    assert model.weights_source == "random initialisation"
    assert model.model_name == NAME


def test_model_name_is_the_model_that_was_built():
    """``--weights demo`` on the default model builds the demo detector: its name says so
    (logs and benchmarks record it)."""
    assert load_model(NAME, weights="demo").model_name == "demo"
    assert load_model("demo", weights="none").model_name == "demo"
    assert load_model("resnet18", weights="none").model_name == "resnet18"


def test_state_dict_file_round_trip(tmp_path):
    torch.manual_seed(1)
    source = load_model(NAME, weights="none")
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    loaded = load_model(NAME, weights=path)
    for (key, a), b in zip(source.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), key
    assert loaded.weights_source == str(path)


def test_state_dict_with_categories(tmp_path):
    model = load_model(NAME, weights="none")
    names = [f"class{i}" for i in range(91)]
    path = tmp_path / "w.pt"
    torch.save({"state_dict": model.state_dict(), "categories": names}, path)
    assert load_model(NAME, weights=path).categories == names


def test_weights_for_another_model_are_refused(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save(load_model("resnet18", weights="none").state_dict(), path)
    with pytest.raises(UserError, match=f"does not fit {NAME}"):
        load_model(NAME, weights=path)


def test_pickled_objects_are_not_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": object()}, path)  # needs full unpickling: refused
    with pytest.raises(UserError, match="holds a Python object of type object"):
        load_model(NAME, weights=path)


def test_offline_coco_names_the_alternatives(tmp_path, monkeypatch):
    # An empty cache and an unreachable proxy make torchvision's download fail for sure.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with pytest.raises(UserError, match="--weights demo") as info:
        load_model(NAME, weights="coco")
    assert "--weights PATH" in str(info.value)


def test_auto_uses_weights_in_torch_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    auto_other = load_model("retinanet_resnet50_fpn", weights="auto")
    assert auto_other.weights_source == "random initialisation"
    # Put a state dict where torchvision's download would land; auto then loads it.
    torch.manual_seed(3)
    reference = load_model(NAME, weights="none")
    cached = weights_file(NAME)
    cached.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cached)
    model = load_model(NAME, weights="auto")
    assert model.weights_source.startswith("COCO")
    first = next(iter(reference.state_dict()))
    assert torch.equal(model.state_dict()[first], reference.state_dict()[first])


def test_auto_without_coco_or_demo_weights_falls_back_to_random(tmp_path, monkeypatch, caplog):
    import logging

    from live_explain.model import loading as models

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(models, "_reachable", lambda url: False)  # offline, for sure
    monkeypatch.setattr(models, "demo_weights_file", lambda: tmp_path / "missing.pt")
    with caplog.at_level(logging.WARNING, logger="live_explain"):
        model = load_model(NAME, weights="auto")
    assert model.weights_source == "random initialisation"
    assert "--weights coco" in caplog.text and len(caplog.records) == 1


def test_auto_falls_back_to_the_bundled_demo(tmp_path, monkeypatch, caplog):
    import logging

    from live_explain.model import loading as models
    from live_explain.synthetic.demo_model import build_demo_detector
    from live_explain.synthetic.train import save_weights

    demo = tmp_path / "demo.pt"
    save_weights(build_demo_detector(), demo, {"evaluation": None})
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(models, "_reachable", lambda url: False)
    monkeypatch.setattr(models, "demo_weights_file", lambda: demo)
    with caplog.at_level(logging.WARNING, logger="live_explain"):
        model = load_model(NAME, weights="auto")
    assert model.categories[3] == "car" and len(model.categories) == 9  # the demo's classes
    assert model.model_name == "demo"
    assert "bundled demo detector" in caplog.text


def test_the_app_names_the_model_that_ran():
    """The app's export summary names the demo detector where it stands in for another
    model (``--weights demo``), as the log does."""
    pytest.importorskip("PyQt6")
    from live_explain.ui.loaded_model import load_detector_model

    loaded = load_detector_model("fasterrcnn_mobilenet_v3_large_320_fpn", "demo")
    assert loaded.name == "fasterrcnn_mobilenet_v3_large_320_fpn"  # what the user chose
    assert loaded.ran == "demo"
