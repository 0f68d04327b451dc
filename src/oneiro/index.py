"""The in-memory vector index that serves dense recall, rebuilt from the store's vectors.

``VectorIndex`` is the seam for an ANN index; ``NumpyIndex`` is the exact default: one matrix
product and a partial sort. Beside the matrix it keeps the facts recall filters on (time, kind,
session, actor, episode or entry) as numpy arrays, so a filter is a vectorised mask, not a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from oneiro.store.vectors import Matrix, VectorRows

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Filter:
    """Restrictions on what recall may return. ``None`` means no restriction. ``upto_rowid``
    bounds the rows to those whose vectors' store rowid is at most it (what one read transaction
    saw), whatever rows the shared index gained since."""

    sessions: frozenset[str] | None = None
    actors: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    since: float | None = None
    until: float | None = None
    include_entries: bool = True
    upto_rowid: int | None = None

    @property
    def empty(self) -> bool:
        return (
            self.sessions is None
            and self.actors is None
            and self.kinds is None
            and self.since is None
            and self.until is None
            and self.include_entries
            and self.upto_rowid is None
        )


class VectorIndex(Protocol):
    def __len__(self) -> int: ...
    def add(self, rows: VectorRows) -> None: ...
    def search(
        self, query: Matrix, n: int, mask: BoolArray | None = None
    ) -> tuple[list[str], list[float]]: ...
    def search_many(
        self, queries: Matrix, n: int, mask: BoolArray | None = None
    ) -> list[tuple[list[str], list[float]]]: ...
    def mask(self, flt: Filter, hidden_entries: set[str]) -> BoolArray | None: ...
    def position(self, item_id: str) -> int | None: ...
    def vector(self, item_id: str) -> Matrix: ...
    def is_entry(self, item_id: str) -> bool: ...


#: Query rows per matrix product in :meth:`NumpyIndex.search_many` (256 x 100k floats = 100 MB).
SEARCH_BLOCK = 256


class _Codes:
    """Interns strings to small integers so filters compare arrays of ints."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def encode(self, values: list[str]) -> IntArray:
        return np.fromiter(
            (self.codes.setdefault(v, len(self.codes)) for v in values), dtype=np.int64, count=len(values)
        )

    def lookup(self, values: frozenset[str]) -> IntArray:
        return np.array([self.codes[v] for v in values if v in self.codes], dtype=np.int64)


class _Partition:
    """The vectors of one kind of item (episodes, or entries) in one contiguous matrix grown by
    doubling, with each row's position in the index and its id.

    Why two: a dream's neighbour lookups ask for episodes only, and a dreamed store holds several
    entries an episode. Kept apart, an episodes-only search multiplies by the episodes' matrix as
    it is, instead of gathering the allowed rows out of one mixed matrix (a copy of every episode
    vector, each lookup) or scoring every entry only to mask it out."""

    def __init__(self, dim: int) -> None:
        self.matrix: Matrix = np.zeros((0, dim), dtype=np.float32)
        self.pos: IntArray = np.zeros(0, dtype=np.int64)
        self.ids: list[str] = []
        self.n = 0

    def add(self, matrix: Matrix, positions: IntArray, ids: list[str]) -> None:
        need = self.n + len(ids)
        if need > self.matrix.shape[0]:
            cap = max(need, 2 * self.matrix.shape[0], 1024)
            bigger = np.zeros((cap, self.matrix.shape[1]), dtype=np.float32)
            bigger[: self.n] = self.matrix[: self.n]
            pos = np.zeros(cap, dtype=np.int64)
            pos[: self.n] = self.pos[: self.n]
            self.matrix, self.pos = bigger, pos
        self.matrix[self.n : need] = matrix
        self.pos[self.n : need] = positions
        self.ids.extend(ids)
        self.n = need

    def rows_below(self, position: int) -> int:
        """How many of this partition's rows sit at index positions below ``position`` (a prefix:
        positions only grow)."""
        return int(np.searchsorted(self.pos[: self.n], position))

    def allowed(self, rows: int, mask: BoolArray | None) -> BoolArray | None:
        """The mask restricted to this partition's first ``rows`` rows (None: all allowed)."""
        return None if mask is None else mask[self.pos[:rows]]


class NumpyIndex:
    """Exact cosine search over L2-normalised float32 vectors, grown by doubling.

    Positions number the items in the order they were added, episodes and entries alike (masks
    are over positions); the vectors live in two :class:`_Partition` s, one per kind."""

    def __init__(self, dim: int = 0) -> None:
        self.dim = dim
        self._n = 0
        self._cap = 0
        self.ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._entry: npt.NDArray[Any] = np.zeros(0, dtype=bool)
        self._offset: npt.NDArray[Any] = np.zeros(0, dtype=np.int64)
        self._ts: npt.NDArray[Any] = np.zeros(0, dtype=np.float64)
        self._session: npt.NDArray[Any] = np.zeros(0, dtype=np.int64)
        self._actor: npt.NDArray[Any] = np.zeros(0, dtype=np.int64)
        self._kind: npt.NDArray[Any] = np.zeros(0, dtype=np.int64)
        self._rowid: npt.NDArray[Any] = np.zeros(0, dtype=np.int64)
        self._codes = {"session": _Codes(), "actor": _Codes(), "kind": _Codes()}
        self._parts = (_Partition(dim), _Partition(dim))  # episodes, entries

    def __len__(self) -> int:
        return self._n

    @property
    def matrix(self) -> Matrix:
        """Every vector, in position order (a copy)."""
        out = np.zeros((self._n, self.dim), dtype=np.float32)
        for part in self._parts:
            out[part.pos[: part.n]] = part.matrix[: part.n]
        return out

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap, 1024)

        def extend(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
            out = np.zeros(cap, dtype=arr.dtype)
            out[: self._n] = arr[: self._n]
            return out

        self._entry = extend(self._entry)
        self._offset = extend(self._offset)
        self._ts = extend(self._ts)
        self._session = extend(self._session)
        self._actor = extend(self._actor)
        self._kind = extend(self._kind)
        self._rowid = extend(self._rowid)
        self._cap = cap

    def add(self, rows: VectorRows) -> None:
        if not rows.ids:
            return
        if self.dim == 0:
            self.dim = int(rows.matrix.shape[1])
            self._parts = (_Partition(self.dim), _Partition(self.dim))
        self._grow(len(rows.ids))
        start, end = self._n, self._n + len(rows.ids)
        entry = np.fromiter((t == "entry" for t in rows.types), dtype=bool, count=len(rows.ids))
        self._entry[start:end] = entry
        for is_entry, part in enumerate(self._parts):
            local = np.flatnonzero(entry == bool(is_entry))
            if len(local):
                self._offset[start + local] = part.n + np.arange(len(local))
                part.add(rows.matrix[local], start + local, [rows.ids[i] for i in local.tolist()])
        self._ts[start:end] = rows.ts
        self._session[start:end] = self._codes["session"].encode(rows.sessions)
        self._actor[start:end] = self._codes["actor"].encode(rows.actors)
        self._kind[start:end] = self._codes["kind"].encode(rows.kinds)
        self._rowid[start:end] = rows.rowids
        for offset, item_id in enumerate(rows.ids):
            self._pos[item_id] = start + offset
        self.ids.extend(rows.ids)
        self._n = end

    def position(self, item_id: str) -> int | None:
        return self._pos.get(item_id)

    def vector(self, item_id: str) -> Matrix:
        """The stored vector of an item the index holds (KeyError otherwise)."""
        pos = self._pos[item_id]
        row: Matrix = self._parts[int(self._entry[pos])].matrix[self._offset[pos]]
        return row

    def is_entry(self, item_id: str) -> bool:
        pos = self._pos.get(item_id)
        return pos is not None and bool(self._entry[pos])

    def mask(self, flt: Filter, hidden_entries: set[str]) -> BoolArray | None:
        """Positions recall may return, or None when every position may be returned."""
        n = self._n
        if flt.empty and not hidden_entries:
            return None
        keep = np.ones(n, dtype=bool)
        for name, values, arr in (
            ("session", flt.sessions, self._session),
            ("actor", flt.actors, self._actor),
            ("kind", flt.kinds, self._kind),
        ):
            if values is not None:
                keep &= np.isin(arr[:n], self._codes[name].lookup(values))
        if flt.since is not None:
            keep &= self._ts[:n] >= flt.since
        if flt.until is not None:
            keep &= self._ts[:n] <= flt.until
        if not flt.include_entries:
            keep &= ~self._entry[:n]
        if flt.upto_rowid is not None:
            keep &= self._rowid[:n] <= flt.upto_rowid
        for item_id in hidden_entries:
            pos = self._pos.get(item_id)
            if pos is not None:
                keep[pos] = False
        return keep

    def search(self, query: Matrix, n: int, mask: BoolArray | None = None) -> tuple[list[str], list[float]]:
        """The ``n`` most similar items (ids, cosine similarities), best first.

        Safe beside a writer that grows the index: it searches the rows that existed when
        ``mask`` was made (or now, without one); rows added since are not searched."""
        return self.search_many(query.reshape(1, -1), n, mask)[0]

    def search_many(
        self, queries: Matrix, n: int, mask: BoolArray | None = None
    ) -> list[tuple[list[str], list[float]]]:
        """:meth:`search` for each row of ``queries``, as blocked matrix products (a dream looks
        up neighbours for thousands of episodes at once). Each partition is searched on its own
        and the best of both merged; a partition the mask wholly excludes is not scored."""
        rows = self._n if mask is None else min(self._n, len(mask))
        if rows == 0 or n <= 0 or len(queries) == 0:
            return [([], []) for _ in range(len(queries))]
        found: list[list[tuple[float, str]]] = [[] for _ in range(len(queries))]
        for part in self._parts:
            count = part.rows_below(rows)
            allowed = part.allowed(count, mask)
            if count == 0 or (allowed is not None and not allowed.any()):
                continue
            for start in range(0, len(queries), SEARCH_BLOCK):
                block = queries[start : start + SEARCH_BLOCK].astype(np.float32, copy=False)
                # One query is a matrix-vector product (BLAS gemv): as a 1-row matrix product it
                # runs several times slower with two threads.
                scores = (
                    (part.matrix[:count] @ block[0])[None, :]
                    if len(block) == 1
                    else block @ part.matrix[:count].T
                )
                if allowed is not None:
                    scores[:, ~allowed] = -np.inf
                for row, best in enumerate(_top_rows(scores, min(n, count), part.ids)):
                    found[start + row].extend((float(scores[row, i]), part.ids[i]) for i in best)
        out: list[tuple[list[str], list[float]]] = []
        for hits in found:
            hits.sort(key=lambda h: (-h[0], h[1]))
            out.append(([h[1] for h in hits[:n]], [h[0] for h in hits[:n]]))
        return out


def _top_rows(scores: Matrix, n: int, ids: Sequence[str]) -> list[list[int]]:
    """:func:`_top_of` for each row of ``scores``: the n-th best score of every row by one
    partition of the block (a partition of values is several times faster than one of indices),
    then, per row, the columns scoring at least it (ties included) sorted by score and id."""
    width = scores.shape[1]
    kth = np.partition(scores, width - n, axis=1)[:, width - n]
    rows, cols = np.nonzero(scores >= kth[:, None])
    per_row = np.split(cols, np.cumsum(np.bincount(rows, minlength=scores.shape[0]))[:-1])
    out: list[list[int]] = []
    for row, cand in enumerate(per_row):
        values = scores[row, cand]
        keep = cand[np.isfinite(values)].tolist()
        out.append(sorted(keep, key=lambda i: (-float(scores[row, i]), ids[i]))[:n])
    return out


def _top_of(scores: Matrix, n: int, ids: Sequence[str]) -> list[int]:
    """Positions of the ``n`` best finite scores, best first, equal scores in item-id order
    (``ids[i]`` names position ``i``).

    Ties are broken by id, not by position, so that the same items give the same answer in
    any index, whatever else it holds and in what order rows were added: a cycle resumed in
    another process (whose index was loaded in another order) finds the same neighbours."""
    cand = np.argpartition(-scores, n - 1)[:n]
    kth = scores[cand].min()
    if np.isfinite(kth) and np.count_nonzero(scores == kth) > np.count_nonzero(scores[cand] == kth):
        above = np.flatnonzero(scores > kth)
        tied = sorted(np.flatnonzero(scores == kth).tolist(), key=lambda i: ids[i])
        cand = np.concatenate([above, np.asarray(tied[: n - len(above)], dtype=np.int64)])
    best = sorted(cand.tolist(), key=lambda i: (-float(scores[i]), ids[i]))
    return [i for i in best if np.isfinite(scores[i])]


def top_n_within(matrix: Matrix, n: int) -> tuple[npt.NDArray[np.int64], Matrix]:
    """For each row of ``matrix`` (unit vectors), its ``n`` most similar other rows and their
    cosines, best first, computed in blocks so memory stays bounded (10k rows: 10 MB a block)."""
    count = len(matrix)
    n = min(n, max(0, count - 1))
    idx = np.zeros((count, n), dtype=np.int64)
    sims = np.zeros((count, n), dtype=np.float32)
    if n == 0:
        return idx, sims
    for start in range(0, count, SEARCH_BLOCK):
        block = matrix[start : start + SEARCH_BLOCK] @ matrix.T
        rows = np.arange(block.shape[0])
        block[rows, rows + start] = -np.inf
        top = np.argpartition(-block, n - 1, axis=1)[:, :n]
        order = np.argsort(-np.take_along_axis(block, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        idx[start : start + len(block)] = top
        sims[start : start + len(block)] = np.take_along_axis(block, top, axis=1)
    return idx, sims
