"""Per-annotator quality statistics as a value: serialise, read back, merge.

The label collector's per-annotator statistics (gold answers and the items of the
Dawid-Skene fitting window) are kept per *group* (the stream service uses the
partition an item came from). :class:`QualityState` is one group's share: what a
worker saves for a partition it owns and what the next owner of that partition
merges into its own collector (:meth:`LabelCollector.export`,
:meth:`LabelCollector.restore`, :meth:`LabelCollector.forget`).

Pure: no I/O. The encoding is JSON compressed with zlib, versioned, and checked
on the way back in (:class:`QualityStateError` on anything else).

Examples
--------
>>> s = QualityState(gold={"ann-a": (3, 2)}, items=(("e1", (("ann-a", "cat"), ("ann-b", 1))),))
>>> back = QualityState.decode(s.encode())
>>> back == s, back.items[0][1][1]
(True, ('ann-b', 1))
>>> merge_states(s, QualityState(gold={"ann-a": (1, 1), "ann-c": (2, 0)})).gold
{'ann-a': (4, 3), 'ann-c': (2, 0)}
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamsift.core.types import Label
from streamsift.errors import ConfigurationError

__all__ = ["QualityState", "QualityStateError", "merge_states"]

#: Version of the encoding written by :meth:`QualityState.encode`.
FORMAT_VERSION = 1

#: One finished multi-label item of the Dawid-Skene window: (item id, ((annotator, label), ...)).
WindowItem = tuple[str, tuple[tuple[str, Label], ...]]


class QualityStateError(ConfigurationError):
    """Bytes that are not an encoded :class:`QualityState`."""


@dataclass(frozen=True)
class QualityState:
    """One group's per-annotator statistics.

    Parameters
    ----------
    gold
        Annotator to ``(gold answers, correct answers)``.
    items
        Finished multi-label items of the Dawid-Skene window, oldest first, each
        ``(item_id, ((annotator, label), ...))``.
    """

    gold: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    items: tuple[WindowItem, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing recorded.

        >>> QualityState().is_empty, QualityState(gold={"a": (1, 0)}).is_empty
        (True, False)
        """
        return not self.gold and not self.items

    def encode(self) -> bytes:
        """Serialise (zlib-compressed JSON, annotators sorted: equal states, equal bytes).

        >>> QualityState(gold={"b": (1, 1), "a": (2, 0)}).encode() == QualityState(
        ...     gold={"a": (2, 0), "b": (1, 1)}).encode()
        True
        """
        body = {
            "v": FORMAT_VERSION,
            "gold": [[a, n, c] for a, (n, c) in sorted(self.gold.items())],
            "items": [[i, [[a, lab] for a, lab in labels]] for i, labels in self.items],
        }
        return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 6)

    @classmethod
    def decode(cls, raw: bytes) -> QualityState:
        """Read back what :meth:`encode` wrote; raise :class:`QualityStateError` otherwise.

        >>> QualityState.decode(b"not a state")
        Traceback (most recent call last):
        ...
        streamsift.core.quality.persist.QualityStateError: not an encoded quality state: ...
        """
        try:
            body = json.loads(zlib.decompress(raw))
        except (zlib.error, ValueError, TypeError) as exc:
            raise QualityStateError(f"not an encoded quality state: {exc}") from exc
        if not isinstance(body, dict) or body.get("v") != FORMAT_VERSION:
            version = body.get("v") if isinstance(body, dict) else None
            raise QualityStateError(f"unsupported quality state version {version!r}")
        try:
            gold = {_text(a): _counts(n, c) for a, n, c in body["gold"]}
            items = tuple(
                (_text(i), tuple((_text(a), _label(lab)) for a, lab in labels))
                for i, labels in body["items"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise QualityStateError(f"malformed quality state: {exc!r}") from exc
        return cls(gold, items)


def merge_states(a: QualityState, b: QualityState, *, max_items: int | None = None) -> QualityState:
    """The statistics of ``a`` and ``b`` together.

    Gold counts add up; window items are ``a``'s then ``b``'s, an item id already in
    ``a`` is kept once, and only the newest ``max_items`` are kept (all if ``None``).

    Examples
    --------
    >>> a = QualityState({"x": (2, 1)}, (("i1", (("x", 0), ("y", 0))),))
    >>> b = QualityState({"x": (1, 1)}, (("i1", (("x", 0), ("y", 0))), ("i2", (("x", 1),))))
    >>> m = merge_states(a, b)
    >>> m.gold, [i for i, _ in m.items]
    ({'x': (3, 2)}, ['i1', 'i2'])
    >>> [i for i, _ in merge_states(a, b, max_items=1).items]
    ['i2']
    """
    gold = dict(a.gold)
    for ann, (n, c) in b.gold.items():
        n0, c0 = gold.get(ann, (0, 0))
        gold[ann] = (n0 + n, c0 + c)
    seen = {i for i, _ in a.items}
    items = (*a.items, *(it for it in b.items if it[0] not in seen))
    if max_items is not None:
        items = items[len(items) - max_items :] if len(items) > max_items else items
    return QualityState(gold, items)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _label(value: Any) -> Label:
    if not isinstance(value, str | int | bool) or isinstance(value, float):
        raise TypeError(f"a label must be a string, an integer or a boolean, got {value!r}")
    return value


def _counts(n: Any, c: Any) -> tuple[int, int]:
    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (n, c))
    if not ok or not 0 <= c <= n:
        raise ValueError(f"gold counts must be integers with 0 <= correct <= answers: {n}, {c}")
    return n, c
