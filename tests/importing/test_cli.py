"""`rlhf projects create`, `rlhf import` and `rlhf export` on a fresh database."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from app.cli import main
from app.config import get_settings
from app.db import get_engine
from harness.databases import fresh_database, migrated_engine
from tests.api.committed import HH_FILES, SHARED_DATA


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        migrated_engine(url, tmp_path).dispose()
        monkeypatch.setenv("RLHF_DATABASE_URL", url)
        monkeypatch.setenv("RLHF_DATA_DIR", str(tmp_path))
        get_settings.cache_clear()
        get_engine.cache_clear()
        try:
            yield url
        finally:
            get_engine().dispose()
            get_settings.cache_clear()
            get_engine.cache_clear()


def test_import_then_export(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["projects", "create", "hh"]) == 0
    path = SHARED_DATA / HH_FILES[0]
    assert main(["import", "hh", str(path), "--format", "hh"]) == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out.splitlines()[-1]) == {
        "imported": 1796,
        "duplicates": 0,
        "skipped": 4,
        "skipped_kinds": {"empty_response": 4},
    }
    assert f"{path}:87: skipped (empty_response): the chosen response is empty" in err

    target = tmp_path / "trl.parquet"
    assert main(["export", "1", "--schema", "trl", "--format", "parquet", "-o", str(target)]) == 0
    assert "wrote 1796 rows (left out: ties 0, splits 0, flagged labels 0, gold comparisons 0)" in (
        capsys.readouterr().err
    )
    assert pq.read_table(target).num_rows == 1796

    assert main(["export", "hh", "--schema", "raw"]) == 0
    out, _ = capsys.readouterr()
    assert len(out.splitlines()) == 1796


def test_bad_lines_are_listed_as_file_and_line(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["projects", "create", "p"]) == 0
    lines = [
        b'{"prompt": "q1", "response_a": "a", "response_b": "b"}',
        b"not json",
        b'{"prompt": "q2", "response_a": "a", "response_b": "b"}',
        b'{"prompt": "q3", "response_a": "a"}',
    ]
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines)))
    assert main(["import", "p", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: not valid JSON" in err
    assert f"{path}:4: missing field 'response_b'" in err
    assert main(["export", "p"]) == 0
    assert capsys.readouterr().out == ""


def test_unknown_project(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "nope"]) == 2
    assert "no project 'nope'" in capsys.readouterr().err


def test_parquet_to_a_pipe(cli_db: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["projects", "create", "empty"]) == 0
    assert main(["export", "empty", "--format", "parquet"]) == 0
    out = capsysbinary.readouterr().out
    assert pq.read_table(io.BytesIO(out[out.index(b"PAR1") :])).num_rows == 0
