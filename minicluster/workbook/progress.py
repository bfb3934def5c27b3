"""Progress: which exercises a learner passed and how many hints they saw, in a small JSON file.

The file is ``<workbook>/.minicluster/progress.json`` (or ``$MINICLUSTER_STATE``). It is written
atomically (a temporary file renamed over the old one), so an interrupted write never corrupts it.
A file that is corrupt anyway (not JSON, or not the shape written here) is set aside under a new name
(``progress.json.bad``, ``.bad-2``, ...: no copy is ever overwritten), progress starts afresh, and
:attr:`Progress.notice` says so. A file that cannot be read or written at all (a directory in its
place, no permission) raises :class:`ProgressError` with one sentence saying which and why.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..errors import MiniclusterError
from .trees import project_root

_STATUSES = ("passed", "failed", "not_attempted")


class ProgressError(MiniclusterError):
    """The progress file cannot be read or written (a directory in its place, no permission...)."""


def state_path() -> Path:
    if os.environ.get("MINICLUSTER_STATE"):
        return Path(os.environ["MINICLUSTER_STATE"])
    return project_root() / ".minicluster" / "progress.json"


class Progress:
    """``status(id)``, ``record(id, status)``, ``hints_seen(id)``, ``see_hint(id)``; saved on change."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_path()
        #: What happened to an unreadable file, when something did (for the CLI to say).
        self.notice: str | None = None
        self._data: dict[str, dict] = self._read()

    def _read(self) -> dict[str, dict]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ProgressError(f"cannot read the progress file {self.path}: {_why(exc)}") from None
        try:
            data = json.loads(text)
            exercises = data["exercises"]
            if not all(_valid_entry(e) for e in exercises.values()):
                raise ValueError("unexpected entry")
            return exercises
        except (ValueError, KeyError, TypeError, AttributeError):
            kept = self._set_aside()
            self.notice = (
                f"the progress file {self.path} was unreadable; it is kept as {kept.name} and progress starts afresh"
            )
            return {}

    def _set_aside(self) -> Path:
        """Rename the unreadable file to the first free ``.bad`` name: never overwrite an earlier copy."""
        for n in range(1, 10_000):
            kept = self.path.with_name(self.path.name + (".bad" if n == 1 else f".bad-{n}"))
            try:
                os.link(self.path, kept)  # fails if the name is taken: no copy is ever overwritten
            except FileExistsError:
                continue
            except OSError as exc:
                raise ProgressError(f"cannot set aside the unreadable progress file {self.path}: {_why(exc)}") from None
            os.unlink(self.path)
            return kept
        raise ProgressError(f"too many unreadable progress files kept beside {self.path}: remove some")

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".progress-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "exercises": self._data}, f, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ProgressError(f"cannot save progress to {self.path}: {_why(exc)}") from None

    def status(self, exercise_id: str) -> str:
        return self._data.get(exercise_id, {}).get("status", "not_attempted")

    def ever_passed(self, exercise_id: str) -> bool:
        return bool(self._data.get(exercise_id, {}).get("passed_once"))

    def record(self, exercise_id: str, status: str) -> None:
        entry = self._data.setdefault(exercise_id, {})
        entry["status"] = status
        if status == "passed":
            entry["passed_once"] = True
        self._save()

    def hints_seen(self, exercise_id: str) -> int:
        return self._data.get(exercise_id, {}).get("hints", 0)

    def see_hint(self, exercise_id: str) -> int:
        """Count one more hint seen; returns the new count."""
        entry = self._data.setdefault(exercise_id, {})
        entry["hints"] = entry.get("hints", 0) + 1
        self._save()
        return entry["hints"]


def _valid_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("status", "not_attempted") in _STATUSES
        and isinstance(entry.get("hints", 0), int)
        and isinstance(entry.get("passed_once", False), bool)
    )


def _why(exc: BaseException) -> str:
    if isinstance(exc, IsADirectoryError):
        return "it is a directory, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return getattr(exc, "strerror", None) or str(exc)
