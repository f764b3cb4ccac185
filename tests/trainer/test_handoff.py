"""The files between the worker and a run it launched."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from trainer.handoff import WORKER_PID, EventReader, HandoffContext, ask_to_stop, write_worker_pid


def test_events_reach_the_reader_whole_and_once(tmp_path: Path) -> None:
    main = HandoffContext(tmp_path, tmp_path / "ck", writes=True)
    other = HandoffContext(tmp_path, tmp_path / "ck", writes=False)
    reader = EventReader(tmp_path)
    assert reader.new_events() == []
    main.report(1, 0.5, {"loss": 0.25})
    other.report(1, 0.5, {"loss": 0.25})  # only the main process writes
    main.log_samples(1, [{"prompt": "p", "response": "r", "score": 1.0}])
    assert reader.new_events() == [
        {"report": [1, 0.5, {"loss": 0.25}]},
        {"samples": [1, [{"prompt": "p", "response": "r", "score": 1.0}]]},
    ]
    # A line still being written is left for the next look.
    with (tmp_path / "events.jsonl").open("a") as f:
        f.write('{"interrupted": "sto')
    assert reader.new_events() == []
    with (tmp_path / "events.jsonl").open("a") as f:
        f.write('pped at step 3"}\n')
    assert reader.new_events() == [{"interrupted": "stopped at step 3"}]


def test_runs_stop_when_asked_or_when_their_worker_is_gone(tmp_path: Path) -> None:
    write_worker_pid(tmp_path)
    ctx = HandoffContext(tmp_path, tmp_path / "ck", writes=False)
    assert not ctx.should_stop()
    ask_to_stop(tmp_path)
    assert ctx.should_stop()

    orphan = tmp_path / "orphan"
    orphan.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (orphan / WORKER_PID).write_text(f"{socket.gethostname()} {gone.stdout.strip()}")
    assert HandoffContext(orphan, orphan / "ck", writes=False).should_stop()
    # On another machine that process id means nothing: only the stop file counts there.
    (orphan / WORKER_PID).write_text(f"elsewhere.example {gone.stdout.strip()}")
    assert not HandoffContext(orphan, orphan / "ck", writes=False).should_stop()
