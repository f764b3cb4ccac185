"""GET /api/v1/projects/{id}/stats (the maths alone: tests/test_agreement.py)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests.auth_helpers import bearer
from tests.factories import make_comparison, make_label, make_project, make_token, make_user

VALUE = {"worse": 0, "same": 1, "better": 2}


def test_project_stats(client: TestClient, db: Session) -> None:
    _, token = make_token(db, make_user(db, role=Role.admin))
    project = make_project(db, labels_per_comparison=2)
    ann = [make_user(db, role=Role.annotator) for _ in range(3)]
    votes = [
        # (choices by annotator 0, 1, 2 or None), shown_swapped for all of them
        (("better", "better", None), False),
        (("better", "worse", "same"), True),
        (("worse", "worse", "worse"), False),
        (("same", None, None), False),
    ]
    matrix = np.full((3, len(votes)), np.nan)
    times = iter([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000])
    for unit, (choices, swapped) in enumerate(votes):
        comparison = make_comparison(db, project)
        for coder, choice in enumerate(choices):
            if choice is not None:
                make_label(
                    db,
                    comparison,
                    annotator=ann[coder],
                    choice=choice,
                    shown_swapped=swapped,
                    time_spent_ms=next(times),
                )
                matrix[coder, unit] = VALUE[choice]
    make_comparison(db, project)
    imported = make_comparison(db, project)
    make_label(db, imported, choice="better")
    db.commit()

    stats = client.get(f"/api/v1/projects/{project.id}/stats", headers=bearer(token)).json()
    assert stats["comparisons"] == 6 and stats["comparisons_labelled"] == 5
    assert stats["comparisons_complete"] == 3
    assert (stats["labels"], stats["labels_human"], stats["labels_imported"]) == (10, 9, 1)
    assert stats["choices"] == {"better": 4, "worse": 4, "same": 2}
    # Left picks: "worse" unswapped (3 in c3) and "better" swapped (1 in c2) of 7 decided.
    assert stats["position_bias"]["decided"] == 7
    assert stats["position_bias"]["left_share"] == pytest.approx(4 / 7)
    assert stats["median_time_ms"] == 5000
    agreement = stats["agreement"]
    assert agreement["comparisons"] == 3 and agreement["labels"] == 8
    expected = krippendorff.alpha(
        reliability_data=matrix, level_of_measurement="ordinal", value_domain=[0, 1, 2]
    )
    assert agreement["krippendorff_alpha_ordinal"] == pytest.approx(expected)
    # Pairs: c1 1 of 1, c2 0 of 3, c3 3 of 3.
    assert agreement["percent_agreement"] == pytest.approx(4 / 7)
    first = next(a for a in stats["per_annotator"] if a["annotator_id"] == ann[0].id)
    assert first["labels"] == 4 and first["choices"] == {"better": 2, "worse": 1, "same": 1}
    assert first["median_time_ms"] == pytest.approx((3000 + 6000) / 2)
    assert first["position_bias"]["left_share"] == pytest.approx(2 / 3)
