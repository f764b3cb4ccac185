"""Per-annotator reliability figures from a project's labels, vectorised (1M labels: seconds).

Competence comes from a latent-truth model: Dawid-Skene as `crowd-kit` implements it (each
annotator has a confusion matrix, P(label | true answer), fitted by EM over every label of
the project, imported ones included as one pseudo-annotator per source). Competence is the
probability that the annotator's label is the pair's true answer, the matrix's diagonal
weighted by the answers' priors: a flipper scores near 0, a clicker of one button near the
share of that answer. (The one-coin model, one accuracy per annotator, was tried first: an
annotator who always answers Better drags its class prior up and came out as the most
competent of all.) For `aggregation=model` each label weighs the log-odds of its
annotator's competence, the one-coin reading of the fitted model, so that the trl export
can combine one pair's labels in SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from app.quality.intervals import binomial_p, wilson

# Choice codes: response B compared with response A.
CHOICES = ("worse", "same", "better")
WORSE, SAME, BETTER = 0, 1, 2
NO_GOLD = -1
MODEL = "Dawid-Skene (crowd-kit DawidSkene)"
EM_ITERATIONS = 50


@dataclass(frozen=True)
class LabelTable:
    """Every label of a project, one array element per label."""

    comparison: NDArray[np.int64]
    # The annotator's user id (> 0), or minus the number of an import source (< 0).
    worker: NDArray[np.int64]
    choice: NDArray[np.int8]
    swapped: NDArray[np.bool_]
    # NaN where unknown.
    time_ms: NDArray[np.float64]
    # The comparison's gold answer, NO_GOLD if it has none.
    gold: NDArray[np.int8]


@dataclass(frozen=True)
class Activity:
    """What SQL aggregates cheaply per annotator: pace and repeated feedback."""

    labels_per_minute: float | None = None
    # The most often repeated non-empty feedback text: how often, out of non-empty ones.
    repeated_feedback: int = 0
    feedback_labels: int = 0


@dataclass(frozen=True)
class AnnotatorFigures:
    user_id: int
    labels: int
    gold_labels: int = 0
    gold_correct: int = 0
    agreement: float | None = None
    # Labels that had another label on the same pair to agree with.
    agreement_n: int = 0
    competence: float | None = None
    vote_weight: float = 1.0
    median_time_ms: float | None = None
    decided: int = 0
    left_picks: int = 0
    choice_counts: tuple[int, int, int] = (0, 0, 0)
    # The share of the annotator's most frequent choice among everyone else's labels.
    others_share_of_top: float | None = None
    activity: Activity = field(default_factory=Activity)

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_labels if self.gold_labels else None

    @property
    def gold_interval(self) -> tuple[float, float] | None:
        return wilson(self.gold_correct, self.gold_labels) if self.gold_labels else None

    @property
    def agreement_interval(self) -> tuple[float, float] | None:
        if self.agreement is None:
            return None
        return wilson(self.agreement * self.agreement_n, self.agreement_n)

    @property
    def competence_interval(self) -> tuple[float, float] | None:
        """Wilson over half the labels: the truth they are scored against is itself an
        estimate, and competence varies about twice as much as a plain proportion would."""
        if self.competence is None:
            return None
        effective = self.labels / 2
        return wilson(self.competence * effective, effective)

    @property
    def left_share(self) -> float | None:
        return self.left_picks / self.decided if self.decided else None

    @property
    def left_p(self) -> float:
        return binomial_p(self.left_picks, self.decided, 0.5)

    @property
    def top_choice(self) -> int:
        return int(np.argmax(self.choice_counts))

    @property
    def top_choice_p(self) -> float:
        if self.others_share_of_top is None:
            return 1.0
        return binomial_p(
            self.choice_counts[self.top_choice], self.labels, self.others_share_of_top
        )


@dataclass(frozen=True)
class ProjectFigures:
    labels: int
    median_time_ms: float | None
    median_competence: float | None
    # The upper quartile: the level of the project's careful annotators.
    upper_quartile_competence: float | None
    median_agreement: float | None
    median_labels_per_minute: float | None
    # The weight of an imported label (no annotator) in `model` aggregation.
    import_vote_weight: float = 1.0
    model: str = MODEL


def _median(values: list[float]) -> float | None:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.median(clean)) if clean else None


def _quantile(values: list[float], q: float) -> float | None:
    return float(np.quantile(values, q)) if values else None


def competences(table: LabelTable, exclude: frozenset[int] = frozenset()) -> dict[int, float]:
    """P(label = true answer) per worker, from the latent-truth model.

    The model is fitted on every label but those of `exclude` (annotators already flagged:
    their labels would only blur the truth the others are measured against), with the gold
    answers given as known truths. A fitted worker's competence is the diagonal of their
    confusion matrix weighted by the answers' priors; an excluded one's is the mean
    posterior probability of the answers they gave.
    """
    import pandas as pd  # seconds at start-up: imported by the computation only

    fitted = ~np.isin(table.worker, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
    if not fitted.any() or len(np.unique(table.worker[fitted])) < 2:
        return {}
    frame = pd.DataFrame({"task": table.comparison, "worker": table.worker, "label": table.choice})
    gold = table.gold != NO_GOLD
    truths = pd.Series(table.gold[gold], index=table.comparison[gold])
    truths = truths[~truths.index.duplicated()]
    from crowdkit.aggregation import DawidSkene  # a heavy import: only when used

    model = DawidSkene(n_iter=EM_ITERATIONS).fit(
        frame[fitted], true_labels=truths if len(truths) else None
    )
    priors = model.priors_
    result: dict[int, float] = {}
    for (worker, given), row in model.errors_.iterrows():
        if given in row.index:
            result[int(worker)] = result.get(int(worker), 0.0) + float(priors[given] * row[given])
    if exclude:
        others = frame[~fitted]
        posterior = model.probas_.stack()
        keys = pd.MultiIndex.from_arrays([others["task"], others["label"]])
        chance = posterior.reindex(keys).to_numpy(dtype=np.float64)
        by_worker = pd.Series(chance, index=others["worker"].to_numpy()).groupby(level=0).mean()
        result.update({int(w): float(v) for w, v in by_worker.items() if not pd.isna(v)})
    return result


def vote_weight(competence: float) -> float:
    """A label's weight in a pair's vote: the log-odds that it is right. A preference is a
    choice between two answers (ties are rare), so a coin's 50 % weighs nothing and a
    flipper's vote counts against its choice."""
    s = min(max(competence, 0.01), 0.99)
    return math.log(s / (1 - s))


def _agreement(table: LabelTable) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Per label: the share of the other labels on its pair that made the same choice."""
    _, pair = np.unique(table.comparison, return_inverse=True)
    cells = np.bincount(pair * 3 + table.choice, minlength=3 * (pair.max() + 1)).reshape(-1, 3)
    per_pair = cells.sum(axis=1)
    others = per_pair[pair] - 1
    same = cells[pair, table.choice] - 1
    has_others = others > 0
    share = np.zeros(len(pair), dtype=np.float64)
    share[has_others] = same[has_others] / others[has_others]
    return share, has_others


def compute(
    table: LabelTable,
    activity: dict[int, Activity],
    exclude_from_model: frozenset[int] = frozenset(),
) -> tuple[ProjectFigures, list[AnnotatorFigures]]:
    """The figures of every annotator (human labels only) and the project's medians."""
    import pandas as pd

    human = table.worker > 0
    if not human.any():
        return ProjectFigures(len(table.choice), None, None, None, None, None), []
    skill = competences(table, exclude_from_model)
    agree, has_others = _agreement(table)
    left = ((table.choice == WORSE) & ~table.swapped) | ((table.choice == BETTER) & table.swapped)
    gold_known = table.gold != NO_GOLD
    frame = pd.DataFrame(
        {
            "worker": table.worker[human],
            "choice": table.choice[human],
            "gold": gold_known[human],
            "correct": (gold_known & (table.gold == table.choice))[human],
            "agree": np.where(has_others, agree, 0.0)[human],
            "with_others": has_others[human],
            "decided": (table.choice != SAME)[human],
            "left": left[human],
            "time": table.time_ms[human],
        }
    )
    grouped = frame.groupby("worker", sort=True)
    sums = grouped[["gold", "correct", "agree", "with_others", "decided", "left"]].sum()
    sizes = grouped.size()
    times = grouped["time"].median()
    counts = pd.crosstab(frame["worker"], frame["choice"]).reindex(columns=range(3), fill_value=0)
    totals = np.bincount(table.choice, minlength=3)
    result = []
    for worker, n in sizes.items():
        row = sums.loc[worker]
        own = tuple(int(counts.loc[worker, c]) for c in range(3))
        top = int(np.argmax(own))
        rest = len(table.choice) - n
        with_others = int(row["with_others"])
        competence = skill.get(int(worker))
        median_time = times.loc[worker]
        result.append(
            AnnotatorFigures(
                user_id=int(worker),
                labels=int(n),
                gold_labels=int(row["gold"]),
                gold_correct=int(row["correct"]),
                agreement=float(row["agree"]) / with_others if with_others else None,
                agreement_n=with_others,
                competence=competence,
                vote_weight=vote_weight(competence) if competence is not None else 1.0,
                median_time_ms=None if pd.isna(median_time) else float(median_time),
                decided=int(row["decided"]),
                left_picks=int(row["left"]),
                choice_counts=own,  # type: ignore[arg-type]
                others_share_of_top=(totals[top] - own[top]) / rest if rest > 0 else None,
                activity=activity.get(int(worker), Activity()),
            )
        )
    project = ProjectFigures(
        labels=len(table.choice),
        median_time_ms=_median([f.median_time_ms for f in result if f.median_time_ms]),
        median_competence=_median([f.competence for f in result if f.competence is not None]),
        upper_quartile_competence=_quantile(
            [f.competence for f in result if f.competence is not None and f.labels >= 20], 0.75
        ),
        median_agreement=_median([f.agreement for f in result if f.agreement is not None]),
        median_labels_per_minute=_median(
            [f.activity.labels_per_minute for f in result if f.activity.labels_per_minute]
        ),
        import_vote_weight=_import_weight(skill),
    )
    return project, result


def _import_weight(skill: dict[int, float]) -> float:
    """Imported labels (no annotator) weigh what the model estimated for their sources."""
    sources = [s for w, s in skill.items() if w < 0]
    return vote_weight(float(np.mean(sources))) if sources else 1.0
