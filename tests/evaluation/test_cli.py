"""`rlhf import` of named battles and `rlhf leaderboard`, as a user would run them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import cli_env, rlhf

__all__ = ["cli_env"]


def test_imported_battles_on_the_command_line_leaderboard(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert rlhf(cli_env, "migrate").returncode == 0
    assert rlhf(cli_env, "projects", "create", "arena").returncode == 0
    rows = [
        {"prompt": f"q{i}", "response_a": f"a{i}", "response_b": f"b{i}", "model_a": "small",
         "model_b": "large", "label": "better" if i % 4 else "worse"}
        for i in range(12)
    ]  # fmt: skip
    battles = tmp_path / "battles.jsonl"
    battles.write_text("".join(json.dumps(r) + "\n" for r in rows))
    imported = rlhf(cli_env, "import", "arena", str(battles))
    assert imported.returncode == 0, imported.stderr

    shown = rlhf(cli_env, "leaderboard", "arena", "--json")
    assert shown.returncode == 0, shown.stderr
    board = json.loads(shown.stdout)
    counts = {m["name"]: (m["wins"], m["losses"]) for m in board["models"]}
    assert counts == {"large": (9, 3), "small": (3, 9)}
    missing = rlhf(cli_env, "leaderboard", "nowhere")
    assert missing.returncode == 2 and "no project 'nowhere'" in missing.stderr
