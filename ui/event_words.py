"""Monitoring events in the window's words: short names for tables, marks and legends."""

from __future__ import annotations

from live_explain.monitor.events import EVENT_KINDS, SHORT_KIND

EVENT_WORDS = SHORT_KIND  # the words the HTML report uses
EVENT_MEANINGS = {
    "attention_outside_box": "most of the map's energy lies outside the detection's box",
    "empty_explanation": "the map is all zero: nothing explains the detection",
    "class_flip": "the track's class changed",
    "flicker": "the map moved more than its box did since the frame before",
    "dropout": "the track came back after frames without a detection",
    "low_confidence_persistent": "the track's score stayed low for many frames",
}
assert set(EVENT_WORDS) == set(EVENT_KINDS) == set(EVENT_MEANINGS)


def event_words(kinds: str) -> str:
    """``"attention_outside_box, flicker"`` -> ``"outside box, flicker"``."""
    names = [k.strip() for k in kinds.split(",") if k.strip()]
    return ", ".join(EVENT_WORDS.get(k, k.replace("_", " ")) for k in names)


def event_meanings(kinds: str) -> str:
    """One line per event kind in ``kinds``: its short name and what it means."""
    names = [k.strip() for k in kinds.split(",") if k.strip()]
    return "\n".join(f"{EVENT_WORDS.get(k, k)}: {EVENT_MEANINGS.get(k, k)}" for k in names)
