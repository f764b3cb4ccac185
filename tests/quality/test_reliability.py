"""The reliability figures and rules on simulated raters (no database, no HTTP): every bad
kind is flagged by the signal meant for it, honest raters are not."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from app.models import Choice
from app.quality.intervals import wilson
from app.quality.reliability import CHOICES, NO_GOLD, Activity, LabelTable, compute
from app.quality.rules import judge
from app.quality.thresholds import QualityThresholds
from app.simulation.raters import Shown, build_raters
from app.simulation.spec import SpecError, parse_spec

pytestmark = pytest.mark.nodb

SPEC = "honest:16:0.75,random:2,left:1,always-better:1,flipper:1,fast:1,colluders:2:0.7"


def _simulate(labels_each: int, seed: int = 3) -> tuple[LabelTable, dict[int, str]]:
    """Each rater labels `labels_each` pairs; every pair gets 3 labels; 5 % of pairs gold."""
    rng = random.Random(seed)
    raters = build_raters(parse_spec(SPEC), seed)
    kinds = {i + 1: r.kind for i, r in enumerate(raters)}
    n_pairs = labels_each * len(raters) // 3
    truth = [rng.choice((Choice.better, Choice.worse)) for _ in range(n_pairs)]
    gold = [i % 20 == 0 for i in range(n_pairs)]
    rows = []
    order = list(range(len(raters)))
    for pair in range(n_pairs):
        rng.shuffle(order)
        for index in order[:3]:
            rater = raters[index]
            swapped = rng.random() < 0.5
            choice = rater.choose(Shown(pair, truth[pair], swapped))
            gold_code = CHOICES.index(truth[pair].value) if gold[pair] else NO_GOLD
            rows.append(
                (
                    pair,
                    index + 1,
                    CHOICES.index(choice.value),
                    swapped,
                    rater.time_spent_ms(),
                    gold_code,
                )
            )
    arrays = list(zip(*rows, strict=True))
    table = LabelTable(
        comparison=np.array(arrays[0], dtype=np.int64),
        worker=np.array(arrays[1], dtype=np.int64),
        choice=np.array(arrays[2], dtype=np.int8),
        swapped=np.array(arrays[3], dtype=np.bool_),
        time_ms=np.array(arrays[4], dtype=np.float64),
        gold=np.array(arrays[5], dtype=np.int8),
    )
    return table, kinds


def test_every_bad_kind_is_flagged_and_honest_raters_are_not() -> None:
    table, kinds = _simulate(labels_each=100)
    project, figures = compute(table, {w: Activity() for w in kinds})
    verdicts = {f.user_id: judge(f, project, QualityThresholds()) for f in figures}
    flagged = {w for w, v in verdicts.items() if v.status.value == "flagged"}
    honest = {w for w, k in kinds.items() if k == "honest"}
    assert flagged == set(kinds) - honest, {kinds[w]: verdicts[w].reasons for w in kinds}
    by_kind = {kinds[w]: " ".join(v.reasons) for w, v in verdicts.items()}
    assert "left of the screen" in by_kind["left"]
    assert "chose Better" in by_kind["always-better"]
    assert "per label against the project's" in by_kind["fast"]
    assert "competence" in by_kind["flipper"] and "competence" in by_kind["random"]
    # Competence is P(label = truth): a flipper's is near 0, an honest rater's near 0.75.
    competence = {kinds[f.user_id]: f.competence for f in figures}
    assert competence["flipper"] is not None and competence["flipper"] < 0.15
    honest_mean = np.mean([f.competence for f in figures if f.user_id in honest])
    assert 0.68 < honest_mean < 0.85
    assert project.model.startswith("Dawid-Skene")


def test_reasons_read_like_sentences_with_intervals() -> None:
    table, kinds = _simulate(labels_each=100)
    project, figures = compute(table, {})
    flipper = next(f for f in figures if kinds[f.user_id] == "flipper")
    reasons = judge(flipper, project, QualityThresholds(min_gold_labels=3)).reasons
    gold = [r for r in reasons if r.startswith("gold accuracy")]
    assert gold and gold[0].endswith(f"over {flipper.gold_labels} gold pairs")
    assert "[" in gold[0] and "–" in gold[0]  # noqa: RUF001 - the interval's dash


def test_automatic_suspension_only_when_configured() -> None:
    table, kinds = _simulate(labels_each=100)
    project, figures = compute(table, {})
    flipper = next(f for f in figures if kinds[f.user_id] == "flipper")
    assert judge(flipper, project, QualityThresholds()).status.value == "flagged"
    strict = QualityThresholds.from_overrides({"suspend_competence_below": 0.3})
    assert judge(flipper, project, strict).status.value == "suspended"


def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson(9, 22)
    # 9/22 = 41 %: Wilson 95 % [23.3, 61.3] (Newcombe 1998, method 3).
    assert math.isclose(low, 0.2326, abs_tol=5e-4) and math.isclose(high, 0.6127, abs_tol=5e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_spec_errors_name_the_item() -> None:
    assert [g.kind for g in parse_spec("honest:2:0.9,left:1")] == ["honest", "left"]
    for bad, words in [
        ("honest:x", "COUNT"),
        ("lazy:2", "KIND"),
        ("left:1:0.5", "no PARAM"),
        ("honest:1:2", "0..1"),
    ]:
        with pytest.raises(SpecError, match=words):
            parse_spec(bad)
