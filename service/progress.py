"""A job's progress, read from its run folder: each stage's `_SUCCESS`, the live counts the stage's workers
write under `RUN/.progress/<stage>/` (pipelines/progress.py) and the trainer's `train/metrics.jsonl`.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from pipelines.progress import TOTAL_FILE


@cache
def stage_folder(stage: str) -> str:
    """Where the stage commits under RUN: the stage registry says (no stage module is imported)."""
    from pipelines.stages import folder_of

    return folder_of(stage)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def live_counts(folder: Path) -> tuple[int, int]:
    docs = nbytes = 0
    for p in folder.glob("*.json"):
        d = _read_json(p)
        docs += int(d.get("docs", 0))
        nbytes += int(d.get("bytes", 0))
    return docs, nbytes


def train_curve(run_dir: Path, limit: int = 400) -> list[dict[str, Any]]:
    """(step, loss, val_loss) points of the trainer's metrics, thinned to at most `limit`."""
    path = run_dir / "train" / "metrics.jsonl"
    points = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue  # a line being written
                points.append({k: r[k] for k in ("step", "loss", "val_loss") if k in r})
    except OSError:
        return []
    if len(points) > limit:
        stride = len(points) / limit
        points = [points[int(i * stride)] for i in range(limit - 1)] + [points[-1]]
    return points


def read_progress(run_dir: Path, stages: list[str], started: dict[str, float]) -> dict[str, Any]:
    """The job's stages with state (pending, running, done), counts, docs/s and ETA. `started` remembers when
    this reader first saw each stage running (the rate's clock); it is updated in place."""
    out = []
    now = time.time()
    for stage in stages:
        folder = stage_folder(stage)
        entry: dict[str, Any] = {"name": stage, "state": "pending"}
        success = run_dir / folder / "_SUCCESS"
        live = run_dir / ".progress" / folder
        if success.is_file():
            info = _read_json(success)
            entry.update(state="done", counts=info.get("counts") or {}, elapsed_s=info.get("elapsed_s"))
        elif live.is_dir():
            docs, nbytes = live_counts(live)
            t0 = started.setdefault(stage, now)
            elapsed = max(now - t0, 1e-3)
            entry.update(state="running", docs=docs, docs_per_s=round(docs / elapsed, 1),
                         elapsed_s=round(elapsed, 1))
            total = _read_json(live / TOTAL_FILE)
            if total.get("bytes") and nbytes:
                entry["eta_s"] = round(max(elapsed * (total["bytes"] - nbytes) / nbytes, 0), 1)
                entry["fraction"] = min(nbytes / total["bytes"], 1.0)
            elif total.get("docs") and docs:
                entry["eta_s"] = round(max(elapsed * (total["docs"] - docs) / docs, 0), 1)
                entry["fraction"] = min(docs / total["docs"], 1.0)
        elif stage == "train" and (run_dir / "train").is_dir():
            entry["state"] = "running"
        if stage == "train":
            curve = train_curve(run_dir)
            if curve:
                entry["curve"] = curve
                entry["step"] = curve[-1]["step"]
        out.append(entry)
    done = sum(1 for e in out if e["state"] == "done")
    running = sum(e.get("fraction", 0.0) for e in out if e["state"] == "running")
    return {"stages": out, "fraction": round((done + running) / max(len(out), 1), 4), "updated_at": now}
