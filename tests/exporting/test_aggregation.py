"""Several labels per comparison: majority vote, ties and splits left out of trl, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from app.db import session_scope
from app.models import Project, Role
from tests.api.committed import LiveApp, live
from tests.factories import make_comparison, make_label, make_user

__all__ = ["live"]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def voted(live: LiveApp) -> dict[str, int]:
    """c1 2:1 for B, c2 split 1:1, c3 tie by majority, c4 one vote for A, c5 one tie, c6 unlabelled."""
    project_id = live.new_project(labels_per_comparison=3)
    with session_scope(live.engine) as s:
        project = s.get(Project, project_id)
        assert project is not None
        u1, u2, u3 = (make_user(s, role=Role.annotator) for _ in range(3))
        c = [make_comparison(s, project) for _ in range(6)]
        make_label(s, c[0], annotator=u1, choice="better", strength="much", created_at=T0)
        make_label(s, c[0], annotator=u2, choice="better", created_at=T0 + timedelta(days=1))
        make_label(s, c[0], annotator=u3, choice="worse", flag_harmful=True, created_at=T0)
        make_label(s, c[1], annotator=u1, choice="better", created_at=T0)
        make_label(s, c[1], annotator=u2, choice="worse", created_at=T0)
        make_label(s, c[2], annotator=u1, choice="same", created_at=T0)
        make_label(s, c[2], annotator=u2, choice="same", created_at=T0)
        make_label(s, c[2], annotator=u3, choice="better", created_at=T0)
        make_label(s, c[3], choice="worse", strength="slightly", created_at=T0)
        make_label(s, c[4], annotator=u1, choice="same", created_at=T0 + timedelta(days=2))
        return {
            "project": project_id,
            "u1": u1.id,
            **{f"c{i + 1}": comparison.id for i, comparison in enumerate(c)},
            "u1name": u1.username,  # type: ignore[dict-item]
        }


def export(
    live: LiveApp, project_id: int, query: str
) -> tuple[list[dict[str, object]], dict[str, str]]:
    response = live.client.get(f"/api/v1/projects/{project_id}/export?{query}", headers=live.admin)
    assert response.status_code == 200, response.text
    return [orjson.loads(x) for x in response.content.splitlines()], dict(response.headers)


def test_majority_vote_leaves_out_ties_and_splits(live: LiveApp, voted: dict[str, int]) -> None:
    rows, headers = export(live, voted["project"], "schema=trl")
    by_id = {row["comparison_id"]: row for row in rows}
    assert set(by_id) == {voted["c1"], voted["c4"]}
    assert headers["x-rows-written"] == "2"
    assert (headers["x-left-out-ties"], headers["x-left-out-splits"]) == ("2", "1")
    c1 = by_id[voted["c1"]]
    assert c1["agreement"] == pytest.approx(2 / 3) and c1["labels"] == 3
    # B won; only the "much" vote gave a strength, so the margin is its margin alone.
    assert c1["margin"] == 1.0
    assert c1["chosen"][0]["content"].startswith("Answer")  # type: ignore[index]
    c4 = by_id[voted["c4"]]
    assert c4["margin"] == pytest.approx(1 / 3) and c4["agreement"] == 1.0


def test_raw_keeps_ties_and_every_label(live: LiveApp, voted: dict[str, int]) -> None:
    rows, headers = export(live, voted["project"], "schema=raw")
    assert len(rows) == 10 == int(headers["x-rows-written"])
    assert sum(r["choice"] == "same" for r in rows) == 3
    assert voted["c6"] not in {r["comparison_id"] for r in rows}
    assert [r["label_id"] for r in rows] == sorted(r["label_id"] for r in rows)  # type: ignore[type-var]


def test_min_agreement(live: LiveApp, voted: dict[str, int]) -> None:
    rows, headers = export(live, voted["project"], "schema=trl&min_agreement=0.7")
    assert [r["comparison_id"] for r in rows] == [voted["c4"]]
    assert headers["x-left-out-low-agreement"] == "1"
    raw, _ = export(live, voted["project"], "schema=raw&min_agreement=0.7")
    # c1, c3 agree 2/3 and c2 1/2; c4 and c5 have one label each.
    assert {r["comparison_id"] for r in raw} == {voted["c4"], voted["c5"]}


def test_filters(live: LiveApp, voted: dict[str, int]) -> None:
    project = voted["project"]
    mine, _ = export(live, project, f"annotator={voted['u1name']}")
    assert len(mine) == 4 and {r["annotator_id"] for r in mine} == {voted["u1"]}
    flagged, _ = export(live, project, "flag=harmful")
    assert len(flagged) == 1 and flagged[0]["flag_harmful"] is True
    # Without the harmful vote c1 is 2:0 for B.
    trl, _ = export(live, project, "schema=trl&not_flag=harmful")
    c1 = next(r for r in trl if r["comparison_id"] == voted["c1"])
    assert c1["agreement"] == 1.0
    imported, _ = export(live, project, "source=import:test")
    assert [r["comparison_id"] for r in imported] == [voted["c4"]]
    later, _ = export(live, project, "since=2026-01-01T12:00:00Z&until=2026-01-02T12:00:00Z")
    assert len(later) == 1 and later[0]["created_at"].startswith("2026-01-02")  # type: ignore[union-attr]
    naive, _ = export(live, project, "since=2026-01-02T12:00:00")
    assert [r["choice"] for r in naive] == ["same"]


def test_bad_parameters_and_non_admins(live: LiveApp, voted: dict[str, int]) -> None:
    project = voted["project"]
    bad = live.client.get(f"/api/v1/projects/{project}/export?schema=csv", headers=live.admin)
    assert bad.status_code == 422
    missing = live.client.get("/api/v1/projects/999999/export", headers=live.admin)
    assert missing.status_code == 404
    from tests.auth_helpers import bearer
    from tests.factories import make_token

    with session_scope(live.engine) as s:
        tokens = [make_token(s, make_user(s, role=r))[1] for r in (Role.annotator, Role.trainer)]
    for token in tokens:
        response = live.client.get(f"/api/v1/projects/{project}/export", headers=bearer(token))
        assert response.status_code == 403


def test_empty_parquet_is_still_a_parquet_file(live: LiveApp) -> None:
    import io

    import pyarrow.parquet as pq

    project = live.new_project()
    response = live.client.get(
        f"/api/v1/projects/{project}/export?format=parquet&schema=trl", headers=live.admin
    )
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == 0 and "chosen" in table.column_names
