"""When a track's map is recomputed, how a kept one is shown and smoothed: the policy and its
settings (``--refresh``, ``--reuse``, ``--reuse-fidelity``, ``--smooth-alpha``,
``--explain-budget``); see :mod:`live_explain.realtime.reuse` for what it drives."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from live_explain.errors import UserError

REFRESH_MODES = ("adaptive", "every-frame")


REUSE_MODES = ("weights", "warp")


@dataclass(frozen=True)
class RefreshPolicy:
    """When a track's map is recomputed; see the module docstring."""

    mode: str = "adaptive"
    move: float = 0.08  # centre shift, as a share of the box's size
    scale: float = 0.12  # relative change of width or height
    score: float = 0.15  # absolute change of the score
    max_age: int = 12  # frames: the longest reuse window
    fidelity: float = 0.95  # target of each check of reuse against a refresh; 0: fixed windows
    first_window: int = 1  # frames: the reuse window of a new track
    max_refreshes: int | None = None  # per frame
    budget_ms: float | None = None  # per frame, from the measured cost of one map
    smooth_alpha: float = 0.6  # weight of the current map in the moving average; 1 = off
    reset_corr: float = 0.5
    jitter: float = 0.02  # box changes below this share of its size do not move the map
    reuse: str = "weights"  # how a kept explanation is shown: see the module docstring

    def __post_init__(self) -> None:
        if self.mode not in REFRESH_MODES:
            raise UserError(f"--refresh {self.mode}: use one of {', '.join(REFRESH_MODES)}")
        if self.reuse not in REUSE_MODES:
            raise UserError(f"--reuse {self.reuse}: use one of {', '.join(REUSE_MODES)}")
        if not 0.0 < self.smooth_alpha <= 1.0:
            raise UserError(f"--smooth-alpha {self.smooth_alpha}: must be in (0, 1]")
        if not 0.0 <= self.fidelity <= 1.0:
            raise UserError(f"--reuse-fidelity {self.fidelity}: must be between 0 and 1")

    def start_window(self) -> int:
        """The reuse window of a new track."""
        if self.fidelity <= 0.0:
            return self.max_age
        return max(1, min(self.first_window, self.max_age))

    def next_window(self, window: int, fidelity: float, record: float | None) -> int:
        """The window after a refresh that found reuse's map at ``fidelity`` to the fresh one,
        given the track's ``record`` (the running average of such findings, this one in):
        halved at a miss, doubled only while the record holds too (a track whose maps come and
        go passes now and then, and must not be trusted for it)."""
        if self.fidelity <= 0.0:
            return self.max_age
        if fidelity < self.fidelity or (record is not None and record < self.fidelity):
            return max(window // 2, 1)
        return min(window * 2, self.max_age)

    def with_options(self, **options) -> RefreshPolicy:
        """This policy with settings changed, by their option names (``refresh``,
        ``smooth_alpha``, ``explain_budget``, ``reuse``, ``reuse_fidelity``; UserError for a
        bad value): the CLI, the app and a running pipeline all make theirs here."""
        unknown = set(options) - set(OPTION_FIELDS) - {"explain_budget"}
        if unknown:
            raise ValueError(f"unknown refresh options: {', '.join(sorted(unknown))}")
        fields = {OPTION_FIELDS[k]: v for k, v in options.items() if k in OPTION_FIELDS}
        if "explain_budget" in options:
            fields["max_refreshes"], fields["budget_ms"] = parse_budget(options["explain_budget"])
        return dataclasses.replace(self, **fields)

    @classmethod
    def from_options(
        cls,
        refresh: str,
        smooth_alpha: float,
        explain_budget: str | None,
        reuse: str = "weights",
        fidelity: float = 0.95,
    ) -> RefreshPolicy:
        """The policy of ``--refresh``, ``--smooth-alpha``, ``--explain-budget``, ``--reuse``
        and ``--reuse-fidelity`` (UserError for a bad one)."""
        return cls().with_options(
            refresh=refresh,
            smooth_alpha=smooth_alpha,
            explain_budget=explain_budget,
            reuse=reuse,
            reuse_fidelity=fidelity,
        )


# The settings' names of the policy's fields (``explain_budget`` sets two of them).
OPTION_FIELDS = {
    "refresh": "mode",
    "smooth_alpha": "smooth_alpha",
    "reuse": "reuse",
    "reuse_fidelity": "fidelity",
}


MAX_BUDGET = 1e6  # refreshes or milliseconds per frame: far beyond any real frame


def parse_budget(text: str | None) -> tuple[int | None, float | None]:
    """``--explain-budget``: ``N`` refreshes per frame, or ``MSms`` milliseconds per frame."""
    if text is None:
        return None, None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms)?\s*", text)
    if not match:
        raise UserError(f"--explain-budget {text}: give a count (3) or milliseconds (25ms)")
    value, unit = float(match.group(1)), match.group(2)
    if value > MAX_BUDGET:
        raise UserError(f"--explain-budget {text.strip()[:40]}: at most {MAX_BUDGET:g}")
    if unit:
        return None, value
    if value != int(value) or value < 1:
        raise UserError(f"--explain-budget {text}: a count of refreshes must be a whole number ≥ 1")
    return int(value), None
