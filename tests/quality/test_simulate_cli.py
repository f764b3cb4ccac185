"""`rlhf simulate` against the real server: simulated raters label over HTTP and the bad ones
are flagged; a project with nothing to rate ends with a message, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.factories import make_project, make_user
from tests.live import REPO, LiveServer, unique

pytestmark = pytest.mark.browser  # shares the live server with the browser tests


def _rlhf(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "RLHF_DATABASE_URL": server.engine.url.render_as_string(hide_password=False),
        "RLHF_SECRET_KEY": server.secret_key,
        "RLHF_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_simulated_bad_raters_are_flagged(live_server: LiveServer, tmp_path: Path) -> None:
    pairs, truth = tmp_path / "pairs.jsonl", tmp_path / "truth.jsonl"
    tag = unique("sim")
    lines = []
    for i in range(160):
        row = {
            "prompt": f"{tag} question {i}?",
            "response_a": f"a short answer {i}",
            "response_b": f"a longer, careful answer {i}",
        }
        lines.append((row, "better" if i % 2 else "worse"))
    pairs.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r, _ in lines))
    truth.write_bytes(b"".join(orjson.dumps({**r, "label": c}) + b"\n" for r, c in lines))
    with live_server.session() as session:
        project = make_project(session, name=unique("simulated "), labels_per_comparison=2)
        project_id = project.id
    assert _rlhf(live_server, "import", str(project_id), str(pairs)).returncode == 0

    run = _rlhf(
        live_server,
        "simulate",
        str(project_id),
        "--truth",
        str(truth),
        "--raters",
        "honest:4:0.9,left:1,always-better:1,flipper:1,fast:1",
        "--labels",
        "280",
        "--check-every",
        "0",
        "--url",
        live_server.url,
    )

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["labels"] == 280
    status = {r["kind"]: r["status"] for r in result["annotators"] if r["kind"] != "honest"}
    assert status == {k: "flagged" for k in ("left", "always-better", "flipper", "fast")}, result
    honest = [r for r in result["annotators"] if r["kind"] == "honest"]
    assert all(r["status"] in ("ok", "watch") and r["labels"] > 0 for r in honest)

    table = _rlhf(live_server, "annotators", str(project_id), "--cached", "--json")
    assert {r["username"] for r in json.loads(table.stdout)} == {
        r["username"] for r in result["annotators"]
    }


def test_simulating_a_project_with_nothing_to_rate_says_so(
    live_server: LiveServer, tmp_path: Path
) -> None:
    with live_server.session() as session:
        project = make_project(session, name=unique("empty "))
        make_user(session)
        project_id = project.id
    truth = tmp_path / "truth.jsonl"
    truth.write_text('{"prompt": "p", "response_a": "a", "response_b": "b", "label": "same"}\n')
    run = _rlhf(
        live_server, "simulate", str(project_id), "--truth", str(truth), "--raters", "honest:1"
    )
    assert run.returncode == 2
    assert "nothing to rate" in run.stderr and "Traceback" not in run.stderr
