"""The leaderboard's maths on synthetic battles: order, gaps, counts, interval coverage."""

from __future__ import annotations

import numpy as np
import pytest

from app.leaderboard.board import Battle, Source, leaderboard
from app.leaderboard.bradley_terry import fit_strengths
from tests.evaluation.synthetic import draw_battles, true_ratings

pytestmark = pytest.mark.nodb

A, B, C = Source(version_id=1), Source(version_id=2), Source(name="imported model")


def test_known_strengths_are_recovered_in_order_and_gap() -> None:
    strengths = np.array([-1.0, -0.4, 0.0, 0.5, 1.2])
    board = leaderboard(draw_battles(strengths, 40_000, seed=3), rounds=200)
    truth = true_ratings(strengths)
    assert [e.source.version_id for e in board.entries] == [4, 3, 2, 1, 0]
    for e in board.entries:
        # 16,000 battles per model: the rating's standard error is about 6 points.
        assert e.rating == pytest.approx(truth[e.source.version_id], abs=20)
        assert e.ci_low < e.rating < e.ci_high
    gaps = np.diff([e.rating for e in board.entries])
    assert np.allclose(gaps, np.diff(sorted(truth, reverse=True)), atol=25)
    assert board.battles == 40_000


def test_wins_losses_and_ties_are_counted_from_each_side() -> None:
    battles = [
        Battle(A, B, "better", 3),  # B won three times
        Battle(A, B, "worse", 2),  # A won twice
        Battle(B, A, "same", 4),
        Battle(B, C, "worse", 5),  # B beat C five times
        Battle(A, A, "better", 7),  # a version against itself: no battle
    ]
    board = leaderboard(battles, base=A, rounds=100)
    by_source = {e.source: e for e in board.entries}
    assert set(by_source) == {A, B, C}
    assert (by_source[A].wins, by_source[A].losses, by_source[A].ties) == (2, 3, 4)
    assert (by_source[B].wins, by_source[B].losses, by_source[B].ties) == (8, 2, 4)
    assert (by_source[C].wins, by_source[C].losses, by_source[C].ties) == (0, 5, 0)
    assert [by_source[s].battles for s in (A, B, C)] == [9, 14, 5]
    assert by_source[A].win_rate == pytest.approx((2 + 2) / 9)
    assert board.battles == 14
    assert board.entries[0].source == B
    assert by_source[A].win_rate_vs_base == 0.5


def test_two_models_win_rate_against_the_base_is_their_head_to_head_share() -> None:
    board = leaderboard([Battle(A, B, "better", 70), Battle(A, B, "worse", 30)], base=A)
    tuned = next(e for e in board.entries if e.source == B)
    assert tuned.win_rate_vs_base == pytest.approx(0.7, abs=0.002)  # the prior's pull is tiny
    assert tuned.win_rate_vs_base_low is not None and tuned.win_rate_vs_base_high is not None
    assert 0.58 < tuned.win_rate_vs_base_low < 0.65 and 0.75 < tuned.win_rate_vs_base_high < 0.8


def test_no_battles_is_an_empty_board_and_a_clean_sweep_stays_finite() -> None:
    assert leaderboard([]).entries == ()
    assert leaderboard([Battle(A, A, "better", 3)]).entries == ()
    sweep = leaderboard([Battle(A, B, "better", 12)], rounds=50)
    assert all(np.isfinite([e.rating, e.ci_low, e.ci_high]).all() for e in sweep.entries)
    assert sweep.entries[0].source == B


def test_the_same_battles_give_the_same_board_from_the_cache() -> None:
    battles = [Battle(A, B, "better", 5), Battle(B, A, "better", 2)]
    assert leaderboard(battles) is leaderboard(list(reversed(battles)))


def test_batched_fits_match_one_at_a_time() -> None:
    rng = np.random.default_rng(0)
    wins = rng.integers(0, 20, size=(4, 5, 5)).astype(float)
    for w in wins:
        np.fill_diagonal(w, 0)
    batched = fit_strengths(wins)
    single = np.stack([fit_strengths(w) for w in wins])
    assert np.allclose(batched, single, atol=1e-8)
    assert np.allclose(batched.sum(axis=1), 0)


def test_intervals_cover_the_truth_at_about_the_stated_rate() -> None:
    strengths = np.array([-0.8, -0.3, 0.0, 0.3, 0.9])
    truth = true_ratings(strengths)
    covered = total = 0
    for seed in range(60):
        board = leaderboard(draw_battles(strengths, 1_500, seed=100 + seed), rounds=300)
        for e in board.entries:
            covered += e.ci_low <= truth[e.source.version_id] <= e.ci_high
            total += 1
    # 300 intervals at 95 %: coverage below 0.90 or above 0.99 would be a 3-sigma event.
    assert 0.90 <= covered / total <= 0.99, covered / total
