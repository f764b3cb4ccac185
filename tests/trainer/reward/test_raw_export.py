"""``trainer.reward.launch`` on a raw export: the labels of one comparison stay together."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from app.exporting.rows import raw_row
from app.exporting.selects import RAW_COLUMNS
from trainer.reward import launch as reward_launch
from trainer.reward.data import read_pairs_jsonl, split_by_group

COMPARISONS = 30
LABELS_EACH = 3


def raw_export(path: Path) -> Path:
    """A raw export as the exporter writes it: several labels per comparison, one row each,
    no ``group`` field; comparison ids far from the line numbers."""
    lines = []
    for c in range(COMPARISONS):
        for k in range(LABELS_EACH):
            values = dict.fromkeys(RAW_COLUMNS)
            values.update(
                label_id=c * LABELS_EACH + k + 1,
                comparison_id=1000 + 7 * c,
                prompt=orjson.dumps([{"role": "user", "content": f"cook dish {c}?"}]).decode(),
                response_a=f"no {c}",
                response_b=f"gladly! a careful recipe for dish {c}, step by step.",
                choice="same" if k == 2 and c % 4 == 0 else "better",
                strength="much" if k == 0 else None,
                annotator=f"rater{k}",
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                is_gold=False,
            )
            row = raw_row(tuple(values[name] for name in RAW_COLUMNS), prompt=orjson.Fragment)
            lines.append(orjson.dumps(row))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_raw_rows_are_grouped_by_comparison(tmp_path: Path) -> None:
    examples = list(read_pairs_jsonl(raw_export(tmp_path / "raw.jsonl")))
    assert len(examples) == COMPARISONS * LABELS_EACH
    assert {e.group for e in examples} == {1000 + 7 * c for c in range(COMPARISONS)}
    assert examples[0].prompt == [{"role": "user", "content": "cook dish 0?"}]
    # Strength reads as the reward job's margin.
    assert examples[0].margin == 1.0 and examples[1].margin is None
    train, val = split_by_group(examples, 0.3, seed=0)
    assert len(val) == 9 * LABELS_EACH and len(train) == 21 * LABELS_EACH
    assert not {e.group for e in train} & {e.group for e in val}


def test_launch_on_a_raw_export_splits_by_comparison(
    reward_tiny_model: Path, tmp_path: Path
) -> None:
    metrics = reward_launch.main(
        ["--data", str(raw_export(tmp_path / "raw.jsonl")), "--base-model",
         str(reward_tiny_model), "--out", str(tmp_path / "out"), "--val-fraction", "0.3",
         "--batch-size", "8", "--max-length", "48"]
    )  # fmt: skip
    assert metrics is not None
    # Whole comparisons on each side: 9 of the 30 held out, with all their labels.
    assert metrics["n_val"] == 9 * LABELS_EACH and metrics["n_train"] == 21 * LABELS_EACH
    assert metrics["num_processes"] == 1
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_a_row_without_a_group_or_comparison_is_its_own(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    row = {"prompt": "hi", "response_a": "x", "response_b": "y", "choice": "better"}
    path.write_bytes(orjson.dumps(row) + b"\n" + orjson.dumps(row) + b"\n")
    first, second = read_pairs_jsonl(path)
    assert first.group != second.group


@pytest.mark.parametrize("bad", [{"comparison_id": "seven"}, {"strength": "much", "margin": "x"}])
def test_bad_rows_name_their_line(tmp_path: Path, bad: dict[str, object]) -> None:
    path = tmp_path / "pairs.jsonl"
    row = {"prompt": "hi", "response_a": "x", "response_b": "y", "choice": "better", **bad}
    path.write_bytes(orjson.dumps(row) + b"\n")
    with pytest.raises(ValueError, match=r"pairs.jsonl:1:"):
        list(read_pairs_jsonl(path))
