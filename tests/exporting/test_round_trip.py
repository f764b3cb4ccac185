"""Import the shared HH files, export them for TRL, and check every row against the source."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from tests.api.committed import HH_FILES, SHARED_DATA, LiveApp, live

__all__ = ["live"]

ROLES = {"system", "user", "assistant"}


def final_turns(record: dict[str, str]) -> tuple[str, str]:
    """The human's chosen and rejected text, read independently of the importer."""
    marker = "\n\nAssistant:"
    return (
        record["chosen"][record["chosen"].rfind(marker) + len(marker) :].strip(),
        record["rejected"][record["rejected"].rfind(marker) + len(marker) :].strip(),
    )


def assert_trl_row(row: dict[str, object]) -> None:
    prompt, chosen, rejected = row["prompt"], row["chosen"], row["rejected"]
    assert isinstance(prompt, list) and prompt
    assert all(
        set(m) == {"role", "content"} and m["role"] in ROLES and m["content"] for m in prompt
    )
    for side in (chosen, rejected):
        assert isinstance(side, list) and len(side) == 1
        assert side[0]["role"] == "assistant" and side[0]["content"]
    assert chosen != rejected
    assert isinstance(row["margin"], float) and 0 < float(row["agreement"]) <= 1  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hh_project(live: LiveApp) -> tuple[int, dict[str, int]]:
    project_id = live.new_project()
    imported = {}
    for name in HH_FILES:
        response = live.client.post(
            f"/api/v1/projects/{project_id}/import?format=hh",
            content=(SHARED_DATA / name).read_bytes(),
            headers={**live.admin, "Content-Encoding": "gzip"},
        )
        assert response.status_code == 200, response.text
        imported[name] = response.json()["imported"]
    return project_id, imported


def test_trl_export_holds_every_human_choice(
    live: LiveApp, hh_project: tuple[int, dict[str, int]]
) -> None:
    project_id, imported = hh_project
    response = live.client.get(
        f"/api/v1/projects/{project_id}/export?schema=trl", headers=live.admin
    )
    assert response.status_code == 200
    rows = [orjson.loads(line) for line in response.content.splitlines()]
    assert len(rows) == sum(imported.values()) == int(response.headers["X-Rows-Written"])
    assert response.headers["X-Left-Out-Ties"] == response.headers["X-Left-Out-Splits"] == "0"

    marker = "\n\nAssistant:"
    expected: set[tuple[str, str]] = set()
    diverging: list[dict[str, str]] = []
    for name in HH_FILES:
        with gzip.open(SHARED_DATA / name, "rt", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                chosen, rejected = record["chosen"], record["rejected"]
                if chosen[: chosen.rfind(marker)] == rejected[: rejected.rfind(marker)]:
                    expected.add(final_turns(record))
                else:
                    diverging.append(record)
    assert len(diverging) == 11
    others = 0
    for row in rows:
        assert_trl_row(row)
        pair = (row["chosen"][0]["content"], row["rejected"][0]["content"])
        if pair in expected:
            continue
        # Transcripts that part before the last turn: each side is its own transcript's end.
        others += 1
        assert any(
            r["chosen"].endswith(pair[0]) and r["rejected"].endswith(pair[1]) for r in diverging
        ), pair
    assert others <= len(diverging)


def test_export_counts_match_raw_rows(
    live: LiveApp, hh_project: tuple[int, dict[str, int]]
) -> None:
    project_id, imported = hh_project
    raw = live.client.get(f"/api/v1/projects/{project_id}/export", headers=live.admin)
    rows = [orjson.loads(line) for line in raw.content.splitlines()]
    assert len(rows) == int(raw.headers["X-Rows-Written"]) == sum(imported.values())
    assert {r["source"] for r in rows} == {"import:hh"}
    assert all(r["annotator"] is None and r["choice"] in ("better", "worse") for r in rows)


def test_reimport_adds_nothing(live: LiveApp, hh_project: tuple[int, dict[str, int]]) -> None:
    project_id, imported = hh_project
    response = live.client.post(
        f"/api/v1/projects/{project_id}/import?format=hh",
        content=(SHARED_DATA / HH_FILES[0]).read_bytes(),
        headers={**live.admin, "Content-Encoding": "gzip"},
    )
    assert response.json()["imported"] == 0
    assert response.json()["duplicates"] == imported[HH_FILES[0]]
    raw = live.client.get(f"/api/v1/projects/{project_id}/export", headers=live.admin)
    assert int(raw.headers["X-Rows-Written"]) == sum(imported.values())


def test_jsonl_loads_with_datasets(
    live: LiveApp,
    hh_project: tuple[int, dict[str, int]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    project_id, imported = hh_project
    for schema in ("trl", "raw"):
        path = tmp_path / f"{schema}.jsonl"
        path.write_bytes(
            live.client.get(
                f"/api/v1/projects/{project_id}/export?schema={schema}", headers=live.admin
            ).content
        )
        dataset = datasets.load_dataset(
            "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
        )
        assert dataset.num_rows == sum(imported.values())
        if schema == "trl":
            assert {"prompt", "chosen", "rejected", "margin"} <= set(dataset.column_names)
            assert dataset[0]["chosen"][0]["role"] == "assistant"


def test_parquet_round_trips_with_pyarrow(
    live: LiveApp, hh_project: tuple[int, dict[str, int]]
) -> None:
    project_id, _ = hh_project
    for schema in ("trl", "raw"):
        jsonl = live.client.get(
            f"/api/v1/projects/{project_id}/export?schema={schema}", headers=live.admin
        )
        parquet = live.client.get(
            f"/api/v1/projects/{project_id}/export?schema={schema}&format=parquet",
            headers=live.admin,
        )
        assert parquet.status_code == 200
        assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
        table = pq.read_table(io.BytesIO(parquet.content))
        from_json = [orjson.loads(line) for line in jsonl.content.splitlines()]
        from_parquet = table.to_pylist()
        assert len(from_parquet) == len(from_json)
        for a, b in zip(from_json[:300], from_parquet[:300], strict=True):
            if schema == "raw":
                b["created_at"] = b["created_at"].isoformat()
            assert a == b


def test_text_form(live: LiveApp, hh_project: tuple[int, dict[str, int]]) -> None:
    project_id, _ = hh_project
    response = live.client.get(
        f"/api/v1/projects/{project_id}/export?schema=trl&form=text", headers=live.admin
    )
    row = orjson.loads(response.content.splitlines()[0])
    assert row["prompt"].startswith("\n\nHuman: ") and row["prompt"].endswith("\n\nAssistant:")
    assert isinstance(row["chosen"], str) and row["chosen"].startswith(" ")
