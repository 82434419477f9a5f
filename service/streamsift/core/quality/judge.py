"""Whether the online model may judge a single label.

A single label that contradicts a confident model is sent for a second opinion
(:class:`~streamsift.core.quality.LabelCollector`, ``contradicts_model``) and held
out when none comes. The premise is that a confident model is usually right. It
does not hold after a concept change: the model's watch
(:class:`~streamsift.core.concept.ConceptWatch`) raised an alarm because confident
predictions turned out wrong, and the contradicting labels are the ones that teach
the new concept. While the model relearns, it judges no label; gold items,
redundant labelling and annotator flags still apply.

Examples
--------
>>> from streamsift.core.online import OnlineModel
>>> model = OnlineModel(min_labels=0)
>>> model_judges(model), model.relearning
(True, False)
>>> class Stale:
...     relearning = True
>>> model_judges(Stale())
False
"""

from __future__ import annotations

__all__ = ["model_judges"]


def model_judges(model: object) -> bool:
    """Whether ``model``'s predictions may be checked against single labels: not while
    it is relearning after a concept change (``model.relearning``; models without
    a watch always judge)."""
    return getattr(model, "relearning", False) is not True
