"""L2 logistic regression by preconditioned L-BFGS: scikit-learn's lbfgs problem, stopped by
its rule, in fewer iterations.

:class:`~sklearn.linear_model.LogisticRegression` (``solver="lbfgs"``) minimises, over the
weights ``W`` (classes, dim) and intercepts ``b`` (classes,),

    L(W, b) = mean_i [logsumexp(x_i Wᵀ + b) - (x_i Wᵀ + b)_{y_i}] + ||W||² / (2 C n)

(for two classes one weight row, of class 1, with ``log(1 + e^z) - y z``) and stops when the
largest absolute entry of the gradient is at most ``tol``. On the states of
a recurrent model (standardised, strongly correlated columns) with many classes and a weak
penalty this takes 500-1,000 iterations: the loss is much flatter along some directions of the
state space than along others. Here L-BFGS walks ``V`` with ``W = V M``, where
``M = (α S + λ I)^(-1/2)``, ``S = XᵀX / n`` and ``λ = 1 / (C n)`` (applied in ``S``'s
eigenbasis, so no dim × dim matrix is formed per fit): the change of variables that
makes the curvature of the penalised loss about even when the softmax's own curvature ``α``
(:data:`CURVATURE`) is about constant. It is the same problem: any symmetric positive-definite
``M`` has the same optimum, and the stop is tested on the gradient in ``W`` with the same rule
and the same ``tol`` as scikit-learn's (scikit-learn's own lbfgs, started there, takes no step:
tested). On 21 letter classes of a hidden-64 layer (5,193 rows) the C path went from 1,020
iterations to 147.

:func:`fit_logistic` returns the solution; :func:`curvature_basis` is ``S``'s eigenbasis,
computed once and shared by every fit on a cell's rows (``M`` only has to be positive
definite, not exact, so a cell's folds, C values and MDL blocks share one; the basis a fit
uses is decided by the cell's own fits, never by other cells, so the numbers do not depend on
how cells are spread over workers).

Only fits with at least as many rows as columns are solved here (:func:`has_full_rows`): with
fewer, ``λ`` is large against the loss's curvature along the rows' span, and scikit-learn's
rule (max |gradient| <= 1e-4) stops well short of the optimum. Where it stops then depends on
the walk: on 101 rows × 512 columns at C = 10, scikit-learn's lbfgs stopped at 0.73 held-out
accuracy and a walk in the rows' span at 0.85, the optimum reading 0.77. Such fits keep
scikit-learn's own walk, so their numbers stay the project's.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult, minimize
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning

#: The softmax curvature assumed by the preconditioner (``α``); 1 was the fastest of
#: {1/K, 0.25, 1} on the letter tasks (fewest iterations), and any value gives the same optimum.
CURVATURE = 1.0


@dataclass(frozen=True)
class CurvatureBasis:
    """``S = XᵀX / n = Q diag(eigenvalues) Qᵀ`` (float64) of ``rows`` standardised rows."""

    eigenvalues: np.ndarray
    vectors: np.ndarray
    rows: int

    def serves(self, X: np.ndarray) -> bool:
        """Whether this basis preconditions fits on rows ``X`` (rows, dim): the same width,
        and found on at least half as many rows (rows of one cell share their ``S``; a basis
        from far fewer rows is a poor guide)."""
        return X.shape[1] == len(self.eigenvalues) and len(X) <= 2 * self.rows

    def scales(self, lam: float) -> np.ndarray:
        """``(α eigenvalues + λ)^(-1/2)``: ``M``'s eigenvalues (dim,)."""
        return (CURVATURE * np.maximum(self.eigenvalues, 0.0) + lam) ** -0.5


def curvature_basis(X: np.ndarray) -> CurvatureBasis:
    """The eigenbasis of ``XᵀX / n`` for the standardised features ``X`` (rows, dim)."""
    X = np.asarray(X)
    gram = (X.T @ X).astype(np.float64) / max(len(X), 1)
    eigenvalues, vectors = np.linalg.eigh(gram)
    return CurvatureBasis(eigenvalues, vectors, len(X))


def has_full_rows(X: np.ndarray) -> bool:
    """Whether rows ``X`` are at least as many as their columns, so a fit is solved here
    (module docstring)."""
    return len(X) >= X.shape[1]


@dataclass
class Solution:
    """``coef`` (classes, dim; (1, dim) for two classes), ``intercept`` (classes,; (1,)), the
    L-BFGS iterations and whether the gradient rule was met (False: ``max_iter`` reached or
    the line search stalled)."""

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int
    converged: bool


class _Objective:
    """L and its gradient in ``(A, b)``, with the weights ``A · m`` in the coordinates of
    ``X``'s columns turned by ``Q`` (``W = (A · m) Qᵀ``), or in ``X``'s own coordinates when
    ``Q`` is None (``X`` is given already turned).

    It remembers whether the last point met the rule: the largest |gradient| in the original
    ``(W, b)``, i.e. after ``lift`` (orthonormal rows) when ``X`` is turned. The lifted
    gradient is formed only when its Frobenius norm allows the rule to hold
    (``max |g| >= ||g|| / sqrt(size)``), so turned coordinates cost nothing per step.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, n_classes: int, lam: float,
                 m: np.ndarray, Q: np.ndarray | None, lift: np.ndarray | None,
                 tol: float) -> None:
        self.X, self.y, self.lam, self.tol = X, y, lam, tol
        self.K = _weight_rows(n_classes)
        self.m = m.astype(X.dtype)
        self.Q = None if Q is None else Q.astype(X.dtype)
        self.lift = None if lift is None else lift.astype(X.dtype)
        self.rows = np.arange(len(y))
        self.last_x: np.ndarray | None = None
        self.last_gmax = np.inf

    def weights(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(W, b)`` of the point ``theta``, ``W`` in ``X``'s coordinates."""
        K, d = self.K, self.X.shape[1]
        W = theta[:K * d].reshape(K, d).astype(self.X.dtype) * self.m
        return (W if self.Q is None else W @ self.Q.T), theta[K * d:].astype(self.X.dtype)

    def _gmax(self, grad_w: np.ndarray, grad_b: np.ndarray) -> float:
        largest_b = float(np.abs(grad_b).max())
        if self.lift is None:
            return max(float(grad_w.max()), -float(grad_w.min()), largest_b)
        bound = float(np.linalg.norm(grad_w)) / np.sqrt(grad_w.shape[0] * self.lift.shape[1])
        if bound > self.tol:
            return max(bound, largest_b)  # the rule fails already: no need for the product
        full = grad_w @ self.lift
        return max(float(full.max()), -float(full.min()), largest_b)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        n = len(self.y)
        W, b = self.weights(theta)
        Z = self.X @ W.T
        Z += b
        data, Z = (self._binary if self.K == 1 else self._multinomial)(Z)
        loss = data / n + 0.5 * self.lam * float(np.square(W, dtype=np.float64).sum())
        Z /= n
        grad_w = Z.T @ self.X + self.lam * W
        grad_b = Z.sum(axis=0, dtype=np.float64)
        self.last_x = theta
        self.last_gmax = self._gmax(grad_w, grad_b)
        grad_a = (grad_w if self.Q is None else grad_w @ self.Q) * self.m
        return loss, np.concatenate([grad_a.ravel().astype(np.float64), grad_b])

    def _multinomial(self, Z: np.ndarray) -> tuple[float, np.ndarray]:
        """Summed cross-entropy of the softmax of ``Z`` (rows, K), and its gradient in ``Z``
        (in place)."""
        Z -= Z.max(axis=1, keepdims=True)
        picked = Z[self.rows, self.y]
        np.exp(Z, out=Z)
        total = Z.sum(axis=1, keepdims=True)
        data = float(np.log(total).sum(dtype=np.float64)) - float(picked.sum(dtype=np.float64))
        Z /= total
        Z[self.rows, self.y] -= 1.0
        return data, Z

    def _binary(self, Z: np.ndarray) -> tuple[float, np.ndarray]:
        """scikit-learn's two-class loss (one weight row for ``classes_[1]``): summed
        ``log(1 + e^z) - y z`` of ``Z`` (rows, 1), and its gradient ``expit(z) - y``."""
        z = Z[:, 0]
        data = float(np.logaddexp(0, z).sum(dtype=np.float64)) - float(
            z[self.y == 1].sum(dtype=np.float64))
        return data, (expit(z) - self.y)[:, None].astype(Z.dtype)


def _weight_rows(n_classes: int) -> int:
    """Rows of ``W``: one per class, or one for two classes (scikit-learn's binary model)."""
    return 1 if n_classes == 2 else n_classes


@dataclass(frozen=True)
class _Coordinates:
    """Where a fit walks: ``X`` as given (turned by ``Q`` per step) or turned once
    (``Q`` None), the basis, and ``lift`` back to the original columns."""

    X: np.ndarray
    basis: CurvatureBasis
    Q: np.ndarray | None
    lift: np.ndarray | None


def _coordinates(X: np.ndarray, basis: CurvatureBasis, turn_rows: bool) -> _Coordinates:
    if turn_rows:  # once for many fits on these rows (a C path): no dim × dim product a step
        vectors = basis.vectors.astype(X.dtype)
        return _Coordinates(np.ascontiguousarray(X @ vectors), basis, None, vectors.T)
    return _Coordinates(np.ascontiguousarray(X), basis, basis.vectors, None)


def fit_logistic(
    X: np.ndarray, y: np.ndarray, n_classes: int, C: float, basis: CurvatureBasis,
    init: tuple[np.ndarray, np.ndarray] | None = None, tol: float = 1e-4,
    max_iter: int = 1000,
) -> Solution:
    """Minimise scikit-learn's lbfgs objective for ``X`` (rows, dim; float32 or float64,
    computed in that dtype as scikit-learn does) and integer codes ``y`` (rows,) in
    ``[0, n_classes)`` (multinomial; two classes: scikit-learn's binary model, one weight row
    for class 1), from ``init`` (``(coef, intercept)``) or zero, until the largest
    |gradient| in ``(W, b)`` is at most ``tol``."""
    return _walk(_coordinates(X, basis, turn_rows=False), y, n_classes, C, init, tol,
                 max_iter)


def _walk(at: _Coordinates, y: np.ndarray, n_classes: int, C: float,
          init: tuple[np.ndarray, np.ndarray] | None, tol: float, max_iter: int) -> Solution:
    """L-BFGS in ``at``'s preconditioned coordinates; the solution in the original ones."""
    n, d = at.X.shape
    lam = 1.0 / (C * n)
    m = at.basis.scales(lam)
    objective = _Objective(at.X, np.asarray(y, dtype=np.intp), n_classes, lam, m, at.Q,
                           at.lift, tol)
    theta = np.zeros((d + 1) * _weight_rows(n_classes))
    if init is not None:
        turn = at.Q if at.lift is None else at.lift.T
        A = (np.asarray(init[0], dtype=np.float64) @ turn) / m
        theta = np.concatenate([A.ravel(), np.asarray(init[1], dtype=np.float64)])

    def stop_at_tol(intermediate_result: OptimizeResult) -> None:
        if (objective.last_gmax <= tol and objective.last_x is not None
                and np.array_equal(objective.last_x, intermediate_result.x)):
            raise StopIteration

    objective(theta)
    if objective.last_gmax <= tol:
        iterations, x, done = 0, theta, True
    else:
        res = minimize(objective, theta, jac=True, method="L-BFGS-B", callback=stop_at_tol,
                       options={"maxiter": max_iter, "maxls": 50, "gtol": 0.0,
                                "ftol": 64 * np.finfo(float).eps})
        iterations, x = int(res.nit), res.x
        if not np.array_equal(objective.last_x, x):
            objective(x)
        done = objective.last_gmax <= tol
    coef, intercept = objective.weights(x)
    if at.lift is not None:
        coef = (coef.astype(np.float64) @ at.lift).astype(coef.dtype)
    return Solution(coef, intercept, iterations, done)


def path_probabilities(
    X_tr: np.ndarray, y_tr: np.ndarray, n_classes: int, X_dev: np.ndarray,
    Cs: Sequence[float], basis: CurvatureBasis, tol: float = 1e-4, max_iter: int = 1000,
) -> Iterator[tuple[float, np.ndarray, Solution]]:
    """Walk ``Cs`` from the strongest penalty to the weakest, each fit started from the last:
    per C, the dev rows' probabilities (dev, n_classes) and the solution. A fit that misses
    the gradient rule warns with :class:`~sklearn.exceptions.ConvergenceWarning`, as
    scikit-learn's does. The training rows are turned into the basis once for the path."""
    at = _coordinates(X_tr, basis, turn_rows=True)
    init = None
    for C in sorted(float(c) for c in Cs):
        found = _walk(at, y_tr, n_classes, C, init, tol, max_iter)
        if not found.converged:
            warnings.warn(f"preconditioned L-BFGS did not reach tol={tol} at C={C} in "
                          f"{found.n_iter} iterations", ConvergenceWarning, stacklevel=2)
        init = (found.coef, found.intercept)
        scores = X_dev @ found.coef.T + found.intercept
        if n_classes == 2:
            scores = np.hstack([np.zeros_like(scores), scores])  # sklearn: [1 - p, p]
        yield C, softmax(scores, axis=1), found
