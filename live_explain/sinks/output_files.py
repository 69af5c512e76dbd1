"""The one rule for every file live-explain writes: a user's file is never lost.

* An output is written under a partial name of its own (``drive.partial-k3x9q1ab.mp4``),
  created exclusively, so it can be no existing file, no input, and no other run's partial.
* It is moved to its final name only when complete, and only if nothing else wrote that name
  meanwhile; a final name that existed before is replaced only because the user asked for it.
* While it is written, the partial file carries an advisory lock: a second run that claims the
  same output sees the live partial and is refused in one line. A killed run's lock dies with
  it, so what it left is a plain partial file (kept, never deleted by a later run).
* A file this run did not create is never deleted; an interrupted run keeps its partial file.

Sidecars and other small files that are rewritten in place go through :func:`write_atomic`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from live_explain.errors import UserError

PARTIAL_MARK = ".partial-"
_RANDOM_CHARS = 8  # what tempfile.mkstemp puts between prefix and suffix
VIDEO_SUFFIXES = (".mkv", ".m4v", ".mov", ".mp4")

_umask_lock = threading.Lock()
_umask: int | None = None


class OutputConflict(UserError):
    """Another run (or program) writes or wrote the same output."""


def _file_mode() -> int:
    """The mode a plain ``open(path, 'w')`` would give (``mkstemp`` gives 0600)."""
    global _umask
    with _umask_lock:
        if _umask is None:
            _umask = os.umask(0)
            os.umask(_umask)
    return 0o666 & ~_umask


def identity(path: Path) -> tuple[int, int, int, int] | None:
    """What tells one file from another at ``path``, or ``None`` when nothing is there."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def is_partial_name(path: Path) -> bool:
    return PARTIAL_MARK in Path(path).name


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """``a`` and ``b`` name one existing file (also through links), or one path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        pass
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):  # a symlink loop: no file there to be the same
        return os.path.abspath(a) == os.path.abspath(b)


def check_output_path(
    path: Path,
    inputs: Iterable[str | os.PathLike] = (),
    suffixes: Iterable[str] = VIDEO_SUFFIXES,
) -> Path:
    """Raise :class:`UserError` unless a file can be written at ``path``.

    Checks the suffix, that ``path`` is none of ``inputs``, and that its folder exists and
    accepts a new file (tried for real: permission bits say nothing for root).
    """
    path = Path(path)
    suffixes = sorted(suffixes)
    if path.suffix.lower() not in suffixes:
        raise UserError(f"{path}: output must end in {', '.join(suffixes)}")
    for given in inputs:
        given = os.fspath(given) if given is not None else ""
        if given and "://" not in given and same_file(given, path):
            raise UserError(f"{path}: output path is the same as the input")
    if is_partial_name(path):
        raise UserError(f"{path}: names with '{PARTIAL_MARK}' are kept for partial files")
    folder = path.parent
    if not folder.exists():
        raise UserError(f"{folder}: output folder does not exist")
    if not folder.is_dir():
        raise UserError(f"{folder}: output folder is not a folder")
    if path.is_dir():
        raise UserError(f"{path}: output path is a folder")
    if path.exists() and not path.is_file():
        raise UserError(f"{path}: output path exists and is not a regular file")
    if path.is_symlink() and not path.exists():
        raise UserError(
            f"{path}: output path is a symbolic link to nothing ({os.readlink(path)}); "
            "remove it or choose another name"
        )
    if path.exists() and not path.stat().st_mode & 0o222:
        raise UserError(
            f"{path}: output file is read-only; make it writable or choose another name"
        )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".live-explain-probe-"):
            pass
    except OSError as exc:
        raise UserError(f"{folder}: output folder is not writable ({exc.strerror})") from None
    return path


def check_distinct(outputs: Iterable[str | os.PathLike | None]) -> None:
    """Raise :class:`UserError` when one path is given for two outputs."""
    seen: list[Path] = []
    for path in outputs:
        if path is None:
            continue
        path = Path(path)
        if any(same_file(path, other) for other in seen):
            raise UserError(f"{path}: the same path is given for two outputs")
        seen.append(path)


def locked_by_another(path: Path) -> bool:
    """Whether a live process holds the write lock of the partial file ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops our shared lock too
    return False


def _partial_stem(path: Path) -> str:
    """The stem a partial name starts with: ``path``'s, cut where the partial name would be
    longer than the folder allows (a 250-character name stays a valid output)."""
    try:
        name_max = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    room = name_max - len(PARTIAL_MARK) - _RANDOM_CHARS - len(path.suffix)
    stem = path.stem
    while len(os.fsencode(stem)) > room and stem:
        stem = stem[:-1]
    return stem


class OutputFile:
    """One output of this run, written at :attr:`partial` until :meth:`commit`.

    Claiming raises :class:`OutputConflict` when another live run writes the same output.
    """

    def __init__(self, path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> None:
        self.path = Path(path)
        self._before = identity(self.path)
        folder = self.path.parent
        stem, suffix = _partial_stem(self.path), self.path.suffix
        try:
            fd, name = tempfile.mkstemp(dir=folder, prefix=f"{stem}{PARTIAL_MARK}", suffix=suffix)
        except OSError as exc:
            raise UserError(f"{folder}: cannot create a file here ({exc.strerror})") from None
        self.partial = Path(name) if folder.is_absolute() else folder / Path(name).name
        self._fd: int | None = fd
        self.committed = False
        # A file no one else knows yet; a file system without locks (some network ones)
        # only loses the early refusal of a second writer, not the checks at commit.
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.fchmod(fd, _file_mode())
        for given in inputs:
            given = os.fspath(given) if given is not None else ""
            if given and "://" not in given and same_file(given, self.partial):
                self.discard()  # cannot happen (created exclusively); checked all the same
                raise UserError(f"{self.partial}: partial file would be the input")
        pattern = f"{glob.escape(str(folder / stem))}{PARTIAL_MARK}*{glob.escape(suffix)}"
        for other in glob.glob(pattern):
            other = Path(other)
            if other.name != self.partial.name and locked_by_another(other):
                self.discard()
                raise OutputConflict(
                    f"{self.path}: another live-explain run is writing this file now "
                    f"(its partial file {other.name}); wait for it or choose another name"
                )

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def commit(self) -> Path:
        """Move the finished partial file to :attr:`path`.

        Refused (the partial file kept) when something else wrote :attr:`path` meanwhile.
        """
        if identity(self.path) != self._before:
            self._release()
            raise OutputConflict(
                f"{self.path} was written by another program while this run wrote it; it is "
                f"left as it is and this run's output is kept at {self.partial}"
            )
        try:
            if self._before is None:
                self._link_new()
            else:
                os.replace(self.partial, self.path)  # the user named an existing file
        except OutputConflict:
            self._release()
            raise
        except OSError as exc:
            self._release()
            raise UserError(
                f"{self.path}: cannot be written ({exc.strerror}); this run's output is kept "
                f"at {self.partial}"
            ) from None
        self._release()
        self.committed = True
        return self.path

    def _link_new(self) -> None:
        """Give the partial file its final name, failing if that name appeared meanwhile."""
        try:
            os.link(self.partial, self.path)
        except FileExistsError:
            raise OutputConflict(
                f"{self.path} was created by another program while this run wrote it; it is "
                f"left as it is and this run's output is kept at {self.partial}"
            ) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if identity(self.path) is not None:  # no hard links here: check, then rename
                raise OutputConflict(
                    f"{self.path} was created by another program while this run wrote it; "
                    f"this run's output is kept at {self.partial}"
                ) from None
            os.rename(self.partial, self.path)
            return
        os.unlink(self.partial)

    def keep(self) -> Path | None:
        """Stop early and keep the partial file (``None`` when it is gone)."""
        self._release()
        return self.partial if self.partial.exists() else None

    def discard(self) -> None:
        """Remove the partial file: this run created it and it holds nothing worth keeping."""
        self._release()
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


def write_atomic(
    path: str | os.PathLike,
    write: Callable[[Path], object],
    inputs: Iterable[str | os.PathLike] = (),
) -> Path:
    """Write a small file through ``write(partial_path)``, then move it to ``path``."""
    output = OutputFile(path, inputs)
    try:
        write(output.partial)
    except OSError as exc:  # a full disk
        output.discard()
        raise UserError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    except BaseException:
        output.discard()
        raise
    return output.commit()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text; what UTF-8 cannot hold (a file name's undecodable bytes) is escaped."""
    return write_atomic(
        path, lambda partial: partial.write_text(text, encoding="utf-8", errors="backslashreplace")
    )


def create_new(path: str | os.PathLike) -> None:
    """Create the empty file ``path``, failing in one line if anything is there already."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _file_mode())
    except FileExistsError:
        raise UserError(f"{path}: already exists; choose another name") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be created ({exc.strerror})") from None
    os.close(fd)
