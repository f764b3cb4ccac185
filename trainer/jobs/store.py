"""The model store (``settings.model_dir``): versions appear whole or not at all.

A job builds its model in a private directory under ``.tmp/`` and renames it to its final
place (``<kind>/job-<id>``) only once everything, the manifest last, is written. Rename is
atomic on one file system, so a final directory is always complete; the database refers to it
only after that. A job re-claimed after a crash that finds its final directory registers it
instead of training again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST = "rlhf-version.json"


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def final_dir(self, kind: str, job_id: int) -> Path:
        return self.root / kind / f"job-{job_id}"

    def checkpoint_dir(self, job_id: int) -> Path:
        return self.root / "checkpoints" / f"job-{job_id}"

    def is_complete(self, final: Path) -> bool:
        return (final / MANIFEST).is_file()

    def read_manifest(self, final: Path) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((final / MANIFEST).read_text())
        return data

    @contextmanager
    def building(self, final: Path, manifest: dict[str, Any]) -> Iterator[Path]:
        """A fresh directory to write the model into; published at ``final`` when the block
        ends without error (``manifest`` may be filled in inside the block), else removed."""
        self.discard_partial(final)
        tmp = self.root / ".tmp" / f"{final.parent.name}-{final.name}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            yield tmp
            self._publish(tmp, final, manifest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _publish(self, tmp: Path, final: Path, manifest: dict[str, Any]) -> None:
        with (tmp / MANIFEST).open("w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, final)
        except OSError:
            # Only a finished earlier attempt can have put a directory there; keep the first.
            if not self.is_complete(final):
                raise
            log.warning("%s was already published; discarding this copy", final)
            return
        _fsync_dir(final.parent)

    def discard_checkpoint(self, job_id: int) -> None:
        shutil.rmtree(self.checkpoint_dir(job_id), ignore_errors=True)

    def discard_partial(self, final: Path) -> None:
        """Left-overs of crashed attempts at building ``final`` (never referenced anywhere)."""
        tmp_root = self.root / ".tmp"
        if tmp_root.is_dir():
            for stale in tmp_root.glob(f"{final.parent.name}-{final.name}-*"):
                shutil.rmtree(stale, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
