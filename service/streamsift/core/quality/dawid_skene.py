"""Dawid-Skene: EM over per-annotator confusion matrices (Dawid & Skene, 1979).

Each annotator ``a`` is modelled by a confusion matrix ``pi[a][k, l]`` = P(annotator
says ``l`` | true class ``k``); classes have priors ``rho[k]``. EM alternates the
posterior of each item's true class (E-step) with the maximum-likelihood confusion
matrices and priors given those posteriors (M-step), starting from majority-vote
shares, until the log-likelihood improves by less than ``tol``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from streamsift.core.quality._util import check_int, check_positive, label_key
from streamsift.core.types import Label
from streamsift.errors import ConfigurationError

__all__ = ["DawidSkene", "DawidSkeneResult"]


@dataclass(frozen=True)
class DawidSkeneResult:
    """A fitted Dawid-Skene model.

    Parameters
    ----------
    classes
        The classes seen, in a deterministic order (rows/columns of the matrices).
    posterior
        Item id to ``{class: P(true class | labels)}``.
    labels
        Item id to its most probable class (ties broken by class order).
    confusion
        Annotator to confusion matrix; row = true class, column = given label.
    accuracy
        Annotator to estimated accuracy ``sum_k prior[k] * confusion[k][k]``.
    priors
        Class to estimated prior probability.
    n_iter
        EM iterations run.
    converged
        True when the log-likelihood change fell below ``tol`` before ``max_iter``.
    log_likelihood
        Marginal log-likelihood of the labels under the final parameters.

    Examples
    --------
    >>> fit = DawidSkene().fit([("i1", "a", "x"), ("i1", "b", "x"), ("i2", "a", "y")])
    >>> fit.classes, dict(fit.labels), {c: round(p, 3) for c, p in fit.priors.items()}
    (('x', 'y'), {'i1': 'x', 'i2': 'y'}, {'x': 0.502, 'y': 0.498})
    """

    classes: tuple[Label, ...]
    posterior: Mapping[str, Mapping[Label, float]]
    labels: Mapping[str, Label]
    confusion: Mapping[str, tuple[tuple[float, ...], ...]]
    accuracy: Mapping[str, float]
    priors: Mapping[Label, float]
    n_iter: int
    converged: bool
    log_likelihood: float

    def posterior_for(self, labels: Mapping[str, Label]) -> dict[Label, float] | None:
        """Posterior over classes for a new item, given ``annotator -> label``.

        Returns ``None`` when an annotator or a label is unknown to the fit (the
        caller then falls back to majority vote).

        Examples
        --------
        >>> fit = DawidSkene().fit([("i1", "a", 0), ("i1", "b", 0), ("i2", "a", 1),
        ...                        ("i2", "b", 1)])
        >>> {k: round(v, 3) for k, v in fit.posterior_for({"a": 1, "b": 1}).items()}
        {0: 0.0, 1: 1.0}
        >>> fit.posterior_for({"zed": 1}) is None
        True
        """
        index = {c: j for j, c in enumerate(self.classes)}
        logp = np.log(np.array([self.priors[c] for c in self.classes]))
        for annotator, lab in labels.items():
            if annotator not in self.confusion or lab not in index:
                return None
            logp = logp + np.log(np.array(self.confusion[annotator])[:, index[lab]])
        post = np.exp(logp - logp.max())
        post /= post.sum()
        return {c: float(p) for c, p in zip(self.classes, post, strict=True)}


class DawidSkene:
    """Fit Dawid-Skene annotator models by EM.

    Parameters
    ----------
    max_iter
        Maximum EM iterations (default 100).
    tol
        Stop when the log-likelihood improves by less than this (default 1e-6).
    smoothing
        Pseudo-count added to every confusion cell and class count (default 0.01),
        which keeps probabilities away from 0 on small data.

    Examples
    --------
    >>> ann = [("i1", "a", "x"), ("i1", "b", "x"), ("i1", "c", "y"),
    ...        ("i2", "a", "y"), ("i2", "b", "y"), ("i2", "c", "y"),
    ...        ("i3", "a", "x"), ("i3", "b", "x"), ("i3", "c", "x")]
    >>> fit = DawidSkene().fit(ann)
    >>> dict(fit.labels)
    {'i1': 'x', 'i2': 'y', 'i3': 'x'}
    >>> {a: round(v, 3) for a, v in fit.accuracy.items()}
    {'a': 0.993, 'b': 0.993, 'c': 0.664}
    >>> fit.converged
    True
    """

    def __init__(self, max_iter: int = 100, tol: float = 1e-6, smoothing: float = 0.01) -> None:
        self.max_iter = check_int("max_iter", max_iter, minimum=1)
        self.tol = check_positive("tol", tol)
        self.smoothing = check_positive("smoothing", smoothing)

    def fit(self, annotations: Iterable[tuple[str, str, Label]]) -> DawidSkeneResult:
        """Fit on ``(item_id, annotator, label)`` triples and return the result.

        Raises
        ------
        ConfigurationError
            If ``annotations`` is empty.
        """
        triples = list(annotations)
        if not triples:
            raise ConfigurationError("annotations must not be empty")
        items = list(dict.fromkeys(t[0] for t in triples))
        annotators = sorted(set(t[1] for t in triples))
        classes = tuple(sorted({t[2] for t in triples}, key=label_key))
        i_idx = {x: j for j, x in enumerate(items)}
        a_idx = {x: j for j, x in enumerate(annotators)}
        c_idx = {x: j for j, x in enumerate(classes)}
        ii = np.array([i_idx[t[0]] for t in triples])
        aa = np.array([a_idx[t[1]] for t in triples])
        ll = np.array([c_idx[t[2]] for t in triples])
        n_i, n_a, n_c = len(items), len(annotators), len(classes)
        al = aa * n_c + ll

        # Initialise the posteriors with majority-vote shares.
        post = np.bincount(ii * n_c + ll, minlength=n_i * n_c).reshape(n_i, n_c).astype(float)
        post /= post.sum(axis=1, keepdims=True)

        prev = -math.inf
        converged = False
        n_iter = 0
        loglik = -math.inf
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007
            # M-step.
            priors = post.sum(axis=0) + self.smoothing
            priors /= priors.sum()
            conf = np.full((n_a, n_c, n_c), self.smoothing)
            for k in range(n_c):
                conf[:, k, :] += np.bincount(al, weights=post[ii, k], minlength=n_a * n_c).reshape(
                    n_a, n_c
                )
            conf /= conf.sum(axis=2, keepdims=True)
            # E-step.
            log_conf = np.log(conf[aa, :, ll])
            logp = np.log(priors) + np.stack(
                [np.bincount(ii, weights=log_conf[:, k], minlength=n_i) for k in range(n_c)],
                axis=1,
            )
            top = logp.max(axis=1, keepdims=True)
            norm = top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))
            post = np.exp(logp - norm[:, None])
            loglik = float(norm.sum())
            if loglik - prev < self.tol:
                converged = True
                break
            prev = loglik

        accuracy = np.einsum("k,akk->a", priors, conf)
        return DawidSkeneResult(
            classes=classes,
            posterior={
                it: {c: float(p) for c, p in zip(classes, post[j], strict=True)}
                for j, it in enumerate(items)
            },
            labels={it: classes[int(np.argmax(post[j]))] for j, it in enumerate(items)},
            confusion={
                a: tuple(tuple(float(x) for x in row) for row in conf[j])
                for j, a in enumerate(annotators)
            },
            accuracy={a: float(accuracy[j]) for j, a in enumerate(annotators)},
            priors={c: float(p) for c, p in zip(classes, priors, strict=True)},
            n_iter=n_iter,
            converged=converged,
            log_likelihood=loglik,
        )
