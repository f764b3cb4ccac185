"""The bulk writer (SQLite): a batch of rows at a time, de-duplicated by content hash, in one
transaction.

Each step inserts with ON CONFLICT DO NOTHING, which returns the rows it created, and
looks up the rest (there before, or inserted by a concurrent import); when the previous
batch was mostly there already, it looks up first and inserts what is missing. The rows that
result are the same whether or not the data were there before, which is what makes
re-import a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from app.importing.records import ImportRow, flipped
from app.importing.stores import CoreStore, NewComparison, NewLabel
from app.models import utcnow

K = TypeVar("K")
V = TypeVar("V")


def import_key(project_id: int, digest: str) -> str:
    """The idempotency key of an imported label: one per pair and project, whatever the format."""
    return f"import:{project_id}:{digest}"


@dataclass
class BatchResult:
    imported: int
    duplicates: int


class BatchWriter(Protocol):
    def write(self, rows: Sequence[ImportRow]) -> BatchResult: ...
    def close(self) -> None: ...


def _resolve(
    keys: Sequence[K],
    insert: Callable[[Sequence[K]], dict[K, V]],
    find: Callable[[Sequence[K]], dict[K, V]],
    *,
    find_first: bool,
) -> tuple[dict[K, V], set[K]]:
    """Ids for every key, and the keys inserted now.

    New data are cheapest inserted straight away (no lookup at all); data mostly there
    already are cheapest looked up first, as a conflicting insert costs more than a probe.
    """
    if find_first:
        found = find(keys)
        missing = [k for k in keys if k not in found]
        inserted = insert(missing) if missing else {}
    else:
        found = {}
        inserted = insert(keys)
    found.update(inserted)
    rest = [k for k in keys if k not in found]
    if rest:
        found.update(find(rest))
    return found, set(inserted)


class BulkWriter:
    """Writes batches of ImportRows into one project within the caller's transaction."""

    def __init__(self, session: Session, project_id: int, source: str, *, queue: bool) -> None:
        self.project_id = project_id
        self.store = CoreStore(session, project_id, source, utcnow())
        # Whether imported labels leave their comparison in the annotators' queue: then they
        # do not count toward label_count, which the queue compares with the overlap wanted.
        self.queue = queue
        # Look up before inserting; set when the last batch was mostly there already.
        self.find_first = False

    def write(self, rows: Sequence[ImportRow]) -> BatchResult:
        # A pair repeated within the batch is a duplicate of its first occurrence.
        unique: dict[str, ImportRow] = {}
        for row in rows:
            unique.setdefault(row.pair_hash, row)
        batch = list(unique.values())
        store = self.store

        by_prompt = {row.prompt_hash: row.messages for row in batch}
        prompt_ids, _ = _resolve(
            list(by_prompt),
            lambda hashes: store.insert_prompts([(h, by_prompt[h]) for h in hashes]),
            store.find_prompts,
            find_first=self.find_first,
        )

        # (text, source name) per response; a response repeated in the batch keeps its first.
        texts: dict[tuple[int, str], tuple[str, str | None]] = {}
        for row in batch:
            prompt_id = prompt_ids[row.prompt_hash]
            texts.setdefault((prompt_id, row.hash_a), (row.text_a, row.model_a))
            texts.setdefault((prompt_id, row.hash_b), (row.text_b, row.model_b))
        response_ids, _ = _resolve(
            list(texts),
            lambda keys: store.insert_responses([(p, h, *texts[(p, h)]) for p, h in keys]),
            store.find_responses,
            find_first=self.find_first,
        )

        def new_comparison(row: ImportRow) -> NewComparison:
            prompt_id = prompt_ids[row.prompt_hash]
            counted = row.choice is not None and not self.queue
            return (
                prompt_id,
                response_ids[(prompt_id, row.hash_a)],
                response_ids[(prompt_id, row.hash_b)],
                row.pair_hash,
                # Counted here rather than by an UPDATE after the label insert.
                1 if counted else 0,
            )

        comparisons, created = _resolve(
            list(unique),
            lambda hashes: store.insert_comparisons([new_comparison(unique[h]) for h in hashes]),
            store.find_comparisons,
            find_first=self.find_first,
        )
        # A re-import shows itself in its first batch; the rest of the file follows suit.
        self.find_first = len(created) * 2 < len(unique)

        golds: list[tuple[int, str]] = []
        for row in batch:
            if row.gold is None:
                continue
            comparison_id, stored_a = comparisons[row.pair_hash]
            gold = row.gold
            if stored_a != response_ids[(prompt_ids[row.prompt_hash], row.hash_a)]:
                gold = flipped(gold)
            golds.append((comparison_id, gold.value))
        if golds:
            store.set_gold(golds)

        labels: list[NewLabel] = []
        for row in batch:
            if row.choice is None:
                continue
            comparison_id, stored_a = comparisons[row.pair_hash]
            choice = row.choice
            # The comparison may exist from elsewhere with A and B the other way round.
            if stored_a != response_ids[(prompt_ids[row.prompt_hash], row.hash_a)]:
                choice = flipped(choice)
            strength = row.strength.value if row.strength else None
            key = import_key(self.project_id, row.pair_hash)
            labels.append((comparison_id, choice.value, strength, key))
        labelled_ids = store.insert_labels(labels) if labels else set()
        by_id = {cid: digest for digest, (cid, _) in comparisons.items()}
        labelled = {by_id[cid] for cid in labelled_ids}
        if not self.queue:
            older = [cid for cid in labelled_ids if by_id[cid] not in created]
            if older:
                store.count_labels(older)

        new = created | labelled
        return BatchResult(imported=len(new), duplicates=len(rows) - len(new))

    def close(self) -> None:
        """Nothing to release: every batch went straight into the tables."""
