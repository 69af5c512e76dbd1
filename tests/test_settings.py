"""One settings object: every field reaches the CLI, the app's saved settings and the pipeline
through its metadata, with no list of names elsewhere."""

from __future__ import annotations

import dataclasses

import pytest

from live_explain.cli.main import build_parser
from live_explain.config import STAGES, Settings, field_names
from live_explain.realtime.pipeline import DETECTOR_KEYS, POLICY_KEYS, STYLE_KEYS
from live_explain.ui.settings import APP_DEFAULTS, PIPELINE_KEYS, AppSettings

# A value unlike the default for every remembered field.
CHANGED = {
    "model": "demo",
    "weights": "none",
    "device": "cpu",
    "method": "gradcam++",
    "layer": "backbone.body",
    "score_thresh": 0.25,
    "classes": ("car", "bus"),
    "topk": 7,
    "refresh": "every-frame",
    "colormap": "inferno",
    "alpha": 0.8,
    "merged": True,
}


def test_every_field_has_a_stage_and_help():
    for setting in dataclasses.fields(Settings):
        assert setting.metadata["stage"] in STAGES, setting.name
        assert setting.metadata["help"], setting.name
    assert sum(len(field_names(stage)) for stage in STAGES) == len(dataclasses.fields(Settings))


def test_every_flagged_field_is_a_flag_of_export_that_reads_back_into_settings():
    parser = build_parser()
    args = parser.parse_args(["export", "in.mp4", "-o", "out.mp4"])
    assert Settings.from_options(args) == Settings()  # the flags' defaults are the fields'
    flagged = [f for f in dataclasses.fields(Settings) if f.metadata["flag"]]
    assert len(flagged) >= 15
    given = ["export", "in.mp4", "-o", "out.mp4", "--classes", "car,bus", "--topk", "7"]
    given += ["--alpha", "0.8", "--merged", "--explain-budget", "3", "--precision", "bf16"]
    settings = Settings.from_options(parser.parse_args(given))
    assert settings.classes == ("car", "bus") and settings.topk == 7 and settings.merged
    assert settings.alpha == 0.8 and settings.explain_budget == "3"
    assert settings.precision == "bf16"
    for setting in flagged:
        flag = "--" + setting.name.replace("_", "-")
        assert flag in parser._subparsers._group_actions[0].choices["export"].format_help()


def test_the_pipeline_and_the_app_take_their_keys_from_the_stages():
    assert set(field_names("detector")) == DETECTOR_KEYS
    assert set(field_names("policy")) == POLICY_KEYS
    assert set(field_names("style")) == STYLE_KEYS
    assert set(PIPELINE_KEYS) == DETECTOR_KEYS | POLICY_KEYS | STYLE_KEYS


def test_remembered_settings_round_trip_and_a_bad_value_keeps_its_default(tmp_path):
    remembered = {f.name for f in dataclasses.fields(Settings) if f.metadata["remembered"]}
    assert remembered == set(CHANGED)
    changed = APP_DEFAULTS.replace(**CHANGED)
    assert all(getattr(changed, k) != getattr(APP_DEFAULTS, k) for k in CHANGED)
    store = AppSettings(tmp_path / "app.ini")
    store.save_explain(changed)
    store.sync()
    assert AppSettings(tmp_path / "app.ini").explain() == changed
    # every class, the default layer, and values that cannot be read
    store.save_explain(changed.replace(classes=None, layer=None))
    store.qsettings.setValue("explain/topk", "many")
    store.qsettings.setValue("explain/alpha", "x")
    store.sync()
    back = AppSettings(tmp_path / "app.ini").explain()
    assert back.classes is None and back.layer is None
    assert back.topk == APP_DEFAULTS.topk and back.alpha == APP_DEFAULTS.alpha
    assert back.method == "gradcam++"


@pytest.mark.parametrize("bad", [dict(alpha=1.5), dict(explain_budget="soon"), dict(topk=0)])
def test_check_refuses_values_no_stage_takes(bad):
    from live_explain.errors import UserError

    with pytest.raises(UserError):
        Settings().replace(**bad).check()
