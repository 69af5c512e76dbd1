"""The main window's Track history and Compare docks, fed with every frame shown, and the
notes it gives about the model it runs."""

from __future__ import annotations

from pathlib import Path

from live_explain.ui.frame_update import FrameUpdate
from live_explain.ui.loaded_model import LoadedModel

REAL_FOOTAGE_NOTE = (
    "The demo detector was trained on synthetic scenes only: on real footage its boxes and "
    'maps show how the app works, not how a real detector sees; choose Weights "coco" or a '
    "weights file for a real one"
)


class WindowViews:
    """Track history and Compare (their docks are made with the others in WindowMenus)."""

    def _views_new_source(self) -> None:
        self.history.clear()
        self._footage_noted = False

    def _views_show(self, update: FrameUpdate) -> None:
        self.history.add(update)
        self._offer_compare()
        if not getattr(self, "_footage_noted", False) and self.source_info is not None:
            self._footage_noted = True
            loaded = self.loaded
            demo = loaded is not None and loaded.weights_source.startswith("demo")
            if demo and self._real_footage():
                self.notices.notify("info", REAL_FOOTAGE_NOTE)

    def _real_footage(self) -> bool:
        """Anything but the synthetic scene and the bundled sample drive (rendered from it)."""
        info = self.source_info
        return info.kind != "synthetic" and Path(info.spec).name != "sample_drive.mp4"

    def _views_select(self, key: int | None) -> None:
        update = self.last_update
        self.history.follow(key, update.position if update is not None else None)
        self._offer_compare()

    def _offer_compare(self) -> None:
        """The compare dock gets the selected detection (else the best scored one)."""
        update, loaded = self.last_update, self.loaded
        if update is None or loaded is None or not len(update.detections):
            return
        keys = update.selection_keys
        row = keys.index(self.view.selected) if self.view.selected in keys else 0
        dets = update.detections
        self.compare.offer(
            loaded,
            self.explain,
            update.result.frame.image,
            update.position,
            dets.boxes[row],
            dets.names[row],
        )

    def _note_model(self, loaded: LoadedModel) -> None:
        """A model is ready: say when the demo detector stands in for it; the compare dock
        offers its layers."""
        self.notices.dismiss("loading model")
        if loaded.ran != loaded.name and loaded.weights == "demo":  # said by no one else
            self.notices.notify(
                "info",
                f'Weights "demo": the bundled demo detector (trained on synthetic scenes) '
                f'runs in place of {loaded.name}; choose Weights "coco" or a weights file '
                "for that model itself",
            )
        self.compare.set_layers(loaded)
