"""Which drives a batch covers: ``batch``'s INPUTS (video files, folders of videos, glob
patterns, manifest files) turned into a list of :class:`Drive`, each with the name of its
folder under OUTDIR. The same inputs give the same names, so a rerun finds its drives again.

A manifest is a ``.txt`` or ``.list`` file (one path a line; blank lines and ``#`` comments
skipped), a ``.csv`` file with a ``path`` column or a ``.jsonl`` file of objects with a
``path`` key (both may give a ``name``). Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from live_explain.errors import UserError
from live_explain.sinks.output_files import PARTIAL_MARK

VIDEO_EXTENSIONS = (".avi", ".m4v", ".mkv", ".mov", ".mp4", ".mpg", ".mpeg", ".ts", ".webm")
MANIFEST_EXTENSIONS = (".csv", ".jsonl", ".list", ".txt")
IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
NAME_LIMIT = 80  # characters of a drive's folder name (its files add their own names)
RESERVED_NAMES = ("batch.jsonl", "fleet.html")  # OUTDIR's own files


@dataclass(frozen=True)
class Drive:
    """One drive: ``source`` (an absolute path, a URL or ``synthetic``) and ``name``, its
    folder under OUTDIR."""

    name: str
    source: str


def folder_name(text: str) -> str:
    """A drive's folder name from a file stem or a manifest's ``name``: letters, digits,
    ``.``, ``_`` and ``-``, other characters as ``_``; never hidden, never empty."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "drive"
    name = name[:NAME_LIMIT]
    return f"{name}_drive" if name.lower() in RESERVED_NAMES else name


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _is_url(text: str) -> bool:
    return "://" in text


def _videos_in(folder: Path, exclude: Sequence[str] = ()) -> list[Path]:
    """The videos in ``folder`` and its subfolders, in name order; hidden ones, partial
    files and the batch's own OUTDIR skipped."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and os.path.abspath(os.path.join(root, d)) not in exclude
        )
        for name in sorted(files):
            usable = not name.startswith(".") and PARTIAL_MARK not in name
            if usable and Path(name).suffix.lower() in VIDEO_EXTENSIONS:
                found.append(Path(root) / name)
    return found


def _has_images(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(Path(e.name).suffix.lower() in IMAGE_EXTENSIONS for e in entries)


def _csv_entries(path: Path, text: str) -> list[tuple[str, str | None]]:
    try:
        rows = csv.DictReader(text.splitlines())
        if rows.fieldnames is None or "path" not in rows.fieldnames:
            raise UserError(f"{path}: a CSV manifest needs a 'path' column")
        return [
            (row["path"].strip(), (row.get("name") or "").strip() or None)
            for row in rows
            if isinstance(row.get("path"), str) and row["path"].strip()
        ]
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV manifest ({exc})") from None


def _jsonl_entries(path: Path, text: str) -> list[tuple[str, str | None]]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise UserError(f"{path}:{number}: needs a 'path' string")
        name = data.get("name")
        entries.append((data["path"], name if isinstance(name, str) and name else None))
    return entries


def _list_entries(_path: Path, text: str) -> list[tuple[str, str | None]]:
    lines = (line.strip() for line in text.splitlines())
    return [(line, None) for line in lines if line and not line.startswith("#")]


def _manifest_entries(path: Path) -> list[tuple[str, str | None]]:
    """``(path, name or None)`` for each entry of a manifest file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: a manifest must be UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    read = {".csv": _csv_entries, ".jsonl": _jsonl_entries}.get(path.suffix.lower(), _list_entries)
    entries = read(path, text)
    if not entries:
        raise UserError(f"{path}: the manifest lists no drives")
    base = path.resolve().parent
    return [
        (entry if _is_url(entry) or entry == "synthetic" else str(base / entry), name)
        for entry, name in entries
    ]


def _matches(pattern: str, exclude: Sequence[str]) -> list[tuple[str, str | None]]:
    """The videos a glob pattern matches (in the folders it matches, too)."""
    found = []
    for match in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
        if Path(match).is_dir():
            found += [(str(v), None) for v in _videos_in(Path(match), exclude)]
        elif Path(match).suffix.lower() in VIDEO_EXTENSIONS:
            found.append((match, None))
    if not found:
        raise UserError(f"{pattern}: the pattern matches no videos")
    return found


def _expand(text: str, exclude: Sequence[str]) -> list[tuple[str, str | None]]:
    """The drives one INPUT names, as ``(source, name or None)``."""
    if _is_url(text) or text == "synthetic":
        return [(text, None)]
    path = Path(text)
    if path.is_dir():
        videos = _videos_in(path, exclude)
        if videos:
            return [(str(v), None) for v in videos]
        if _has_images(path):  # a folder of images is one drive, as for export
            return [(str(path), None)]
        raise UserError(f"{path}: no videos (or images) in this folder")
    if path.is_file():
        if path.suffix.lower() in MANIFEST_EXTENSIONS:
            return _manifest_entries(path)
        return [(str(path), None)]
    if _is_glob(text):
        return _matches(text, exclude)
    if path.exists():
        raise UserError(f"{path}: not a file or a folder")
    raise UserError(f"{path}: no such file or folder")


def _source_name(source: str) -> str:
    if _is_url(source):
        return source.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "stream"
    return Path(source).stem if Path(source).suffix else Path(source).name


def find_drives(
    inputs: Sequence[str],
    known: dict[str, str] | None = None,
    exclude: Sequence[str | os.PathLike] = (),
) -> list[Drive]:
    """Every drive ``inputs`` name, each once, in the order given. ``known``: the folder
    names an earlier run gave sources (``{source: name}``), kept, so that a drive keeps its
    folder when other inputs come and go; new names are made unique by ``-2``, ``-3``...
    ``exclude``: folders not searched (OUTDIR, when it sits inside an input folder)."""
    if not inputs:
        raise UserError("no inputs: give video files, folders, patterns or a manifest")
    known = known or {}
    skipped = [os.path.abspath(e) for e in exclude]
    found: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for text in inputs:
        for source, name in _expand(os.fspath(text), skipped):
            if not _is_url(source) and source != "synthetic":
                source = os.path.abspath(source)
            if source not in seen:
                seen.add(source)
                found.append((source, name))
    taken = {known[source].lower() for source, _ in found if source in known}
    taken |= {name.lower() for name in known.values()}  # never another drive's folder
    drives = []
    for source, name in found:
        if source in known:
            drives.append(Drive(known[source], source))
            continue
        base = folder_name(name or _source_name(source))
        unique, n = base, 1
        while unique.lower() in taken:
            n += 1
            unique = f"{base}-{n}"
        taken.add(unique.lower())
        drives.append(Drive(unique, source))
    return drives


def describe(drives: Iterable[Drive]) -> str:
    names = [d.name for d in drives]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{len(names)} drive{'s' * (len(names) != 1)} ({shown})"
