"""Progress: which exercises a learner passed and how many hints they saw, in a small JSON file.

The file is ``<workbook>/.minicluster/progress.json`` (or ``$MINICLUSTER_STATE``). It is written
atomically (a temporary file renamed over the old one), so an interrupted write never corrupts it;
a file that is corrupt anyway is set aside as ``progress.json.bad`` and progress starts afresh.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .trees import project_root


def state_path() -> Path:
    if os.environ.get("MINICLUSTER_STATE"):
        return Path(os.environ["MINICLUSTER_STATE"])
    return project_root() / ".minicluster" / "progress.json"


class Progress:
    """``status(id)``, ``record(id, status)``, ``hints_seen(id)``, ``see_hint(id)``; saved on change."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_path()
        self._data: dict[str, dict] = self._read()

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("exercises"), dict):
                return data["exercises"]
            raise ValueError("unexpected layout")
        except FileNotFoundError:
            return {}
        except ValueError:
            os.replace(self.path, self.path.with_name(self.path.name + ".bad"))
            return {}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".progress-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "exercises": self._data}, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

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
