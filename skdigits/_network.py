"""The pure NumPy network: parameter layout, initialisation, forward and backward.

Nothing here knows about scikit-learn. All weights and biases live in one
contiguous vector ``theta`` laid out as scikit-learn packs them (every
``W`` row-major, then every ``b``); ``coefs``/``intercepts`` are views into it,
and the gradient ``grad`` has the same layout, so optimizers and L-BFGS work
on flat vectors without copying.

For a batch ``X`` with per-row loss weights :math:`w_i` (all ones without
sample weights), hidden layers :math:`l = 1..L-1` and the output layer ``L``:

.. math::

    Z_l = A_{l-1} W_l + b_l, \\quad A_l = f_l(Z_l) \\odot M_l, \\quad A_0 = X

with :math:`M_l` the inverted-dropout mask (ones when not training), and the
loss

.. math::

    J = \\frac{1}{\\sum_i w_i} \\Big( \\sum_i w_i \\, \\ell(Z_{L,i}, Y_i)
        + \\frac{\\alpha}{2} \\sum_l \\lVert W_l \\rVert^2 \\Big)

whose gradient is back-propagated with
:math:`\\delta_L = \\operatorname{diag}(w / \\textstyle\\sum w)(P - Y)`,
:math:`\\delta_{l-1} = (\\delta_l W_l^\\top) \\odot M_{l-1} \\odot f'_{l-1}`,
:math:`\\nabla W_l = A_{l-1}^\\top \\delta_l + \\alpha W_l / \\sum w` and
:math:`\\nabla b_l = \\mathbf{1}^\\top \\delta_l`.
"""

import functools

import numpy as np
import scipy.sparse as sp

from skdigits._activations import ACTIVATIONS
from skdigits._losses import OUTPUTS


def init_bound(activation, fan_in, fan_out):
    """Half-width of the uniform initial weights of one layer.

    The scheme belongs to the layer's activation (``init_bound`` of its
    :data:`~skdigits._activations.ACTIVATIONS` entry).
    """
    return ACTIVATIONS[activation].init_bound(fan_in, fan_out)


def flush_negligible(values):
    """Set the negligible entries of ``values`` to 0, in place.

    Products and sums with subnormal floats take a slow path on x86: the
    output layer's two products ran 77 times slower with subnormal deltas.
    Training makes them in two places. A confident network's softmax gives the
    wrong classes probabilities that underflow (``exp`` of a logit 90 below the
    max is about 1e-39 in float32), so the output delta is flushed every batch.
    And with the L2 term, a weight that sees no data gradient (a border pixel's)
    shrinks geometrically under Adam, and its second moment then decays by
    ``beta_2`` a step through the subnormal range for tens of epochs, so the
    optimizers flush the parameters and their moments once an epoch
    (:meth:`skdigits._optimizers._FlatOptimizer.flush_negligible`). Without
    both, an epoch of the ``best`` recipe grew from 6 s to 15 s by epoch 45.
    Entries below ``tiny / eps`` (about 1e-31 in float32, 1e-292 in float64)
    are flushed: smaller than any step can resolve, and far enough above the
    subnormal range that nothing reaches it between two flushes.
    """
    np.putmask(values, np.abs(values) < _negligible(values.dtype), 0)


@functools.cache
def _negligible(dtype):
    """``tiny / eps`` of ``dtype``: below it, an entry is flushed (once per dtype,
    not per batch)."""
    info = np.finfo(dtype)
    return info.tiny / info.eps


def logits(X, coefs, intercepts, activations):
    """Output pre-activations of the network made of these per-layer arrays.

    Reads ``coefs`` and ``intercepts`` as they are (no copy into a parameter
    vector), so a prediction costs only its products; ``activations`` are the
    hidden layers' ``ACTIVATIONS`` entries. No dropout.
    """
    A = X
    for W, b, act in zip(coefs, intercepts, activations):
        Z = _dot(A, W, np.empty((X.shape[0], W.shape[1]), W.dtype))
        Z += b
        A = act.forward(Z, Z)
    W, b = coefs[-1], intercepts[-1]
    Z = _dot(A, W, np.empty((X.shape[0], W.shape[1]), W.dtype))
    Z += b
    return Z


def _dot(A, W, out):
    """``A @ W`` into ``out``; ``A`` may be a scipy sparse matrix."""
    if sp.issparse(A):
        np.copyto(out, A @ W)
        return out
    return np.matmul(A, W, out=out)


class Network:
    """A multi-layer perceptron whose parameters are one flat vector.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input and output included.
    activations : sequence of str
        One ``ACTIVATIONS`` name per hidden layer.
    output : str
        ``'softmax'``, ``'logistic'``, ``'identity'`` or ``'exp'`` (a key of
        ``OUTPUTS``).
    dtype : numpy dtype
        float32 or float64, the dtype of the parameters and of every buffer.
    """

    def __init__(self, layer_units, activations, output, dtype):
        self.layer_units = tuple(int(u) for u in layer_units)
        self.activation_names = tuple(activations)
        self.activations = [ACTIVATIONS[name] for name in activations]
        self.output = OUTPUTS[output]
        self.dtype = np.dtype(dtype)
        shapes = list(zip(self.layer_units[:-1], self.layer_units[1:]))
        self.n_coef = sum(i * o for i, o in shapes)
        self.theta = np.zeros(self.n_coef + sum(self.layer_units[1:]), self.dtype)
        self.grad = np.zeros_like(self.theta)
        self.coefs, self.intercepts = self.views(self.theta)
        self.coef_grads, self.intercept_grads = self.views(self.grad)

    @property
    def uniform_loss(self):
        """Data loss of a network that outputs 0 logits (a uniform guess), or
        None for a regression output (see :class:`skdigits._losses.Output`)."""
        if self.output.uniform_loss is None:
            return None
        return self.output.uniform_loss(self.layer_units[-1])

    @property
    def n_layers(self):
        return len(self.layer_units)

    def views(self, flat):
        """Per-layer ``(coefs, intercepts)`` views into a flat vector."""
        coefs, intercepts, start = [], [], 0
        for fan_in, fan_out in zip(self.layer_units[:-1], self.layer_units[1:]):
            coefs.append(
                flat[start : start + fan_in * fan_out].reshape(fan_in, fan_out)
            )
            start += fan_in * fan_out
        for fan_out in self.layer_units[1:]:
            intercepts.append(flat[start : start + fan_out])
            start += fan_out
        return coefs, intercepts

    def initialize(self, rng):
        """Zero biases and symmetric uniform weights scaled to each activation."""
        self.theta[:] = 0
        # The output layer (softmax, logistic, identity or exp): Glorot-uniform,
        # as "identity".
        names = self.activation_names + ("identity",)
        for W, name in zip(self.coefs, names):
            bound = init_bound(name, *W.shape)
            W[:] = rng.uniform(-bound, bound, W.shape)

    def set_params(self, coefs, intercepts):
        """Copy per-layer arrays (e.g. from an unpickled model) into ``theta``."""
        for view, value in zip(self.coefs + self.intercepts, coefs + intercepts):
            view[...] = value

    def predict_proba(self, X):
        """Output probabilities for ``X`` (no dropout)."""
        return self.output.proba(self.logits(X))

    def logits(self, X):
        """Output pre-activations for ``X``, allocating fresh arrays (no dropout)."""
        return logits(X, self.coefs, self.intercepts, self.activations)

    def forward(self, X, ws, masks=None):
        """Training forward pass of a batch into workspace ``ws``; returns logits."""
        n, A = X.shape[0], X
        for i, (W, b, act) in enumerate(
            zip(self.coefs, self.intercepts, self.activations)
        ):
            # only the input may be sparse; the hidden activations are ndarrays
            Z = _dot(A, W, ws.Z[i][:n]) if i == 0 else np.matmul(A, W, out=ws.Z[i][:n])
            Z += b
            A = act.forward(Z, ws.H[i][:n])
            if masks is not None and masks[i] is not None:
                A = np.multiply(A, masks[i], out=ws.A[i][:n])
        Z = _dot(A, self.coefs[-1], ws.Z[-1][:n])
        Z += self.intercepts[-1]
        return Z

    def loss_grad(self, X, Y, weights, total, alpha, ws, masks=None, l2_grad=True):
        """Loss of a batch and its gradient, written into ``self.grad``.

        ``weights`` are per-row loss weights (or None for ones) and ``total``
        the normaliser :math:`\\sum_i w_i` of the formula above (the sum of the
        sample weights). Returns the loss, L2 penalty included (the loss
        without it is left in ``self.data_loss``); a batch whose ``total`` is
        zero gives loss 0 and a zero gradient. With ``l2_grad=False`` the
        gradient leaves out the L2 term :math:`\\alpha W / \\sum w`, for an
        optimizer step that adds it (``decay=alpha / total`` on the first
        ``n_coef`` entries, see :mod:`._kernels`).
        """
        if total == 0.0:
            self.grad[:] = 0
            self.data_loss = 0.0
            return 0.0
        Z = self.forward(X, ws, masks)
        losses = self.output.loss_and_proba(Z, Y)
        if weights is not None:
            losses *= weights
        loss = self.data_loss = float(losses.sum()) / total
        delta = np.subtract(Z, Y, out=Z)
        if weights is None:
            delta *= 1.0 / total
        else:
            delta *= (weights / total).astype(self.dtype, copy=False)[:, None]
        flush_negligible(delta)
        self._backward(X, delta, ws, masks)
        if alpha:
            W_all, gW_all = self.theta[: self.n_coef], self.grad[: self.n_coef]
            loss += 0.5 * alpha * float(np.dot(W_all, W_all)) / total
            if l2_grad:
                gW_all += (alpha / total) * W_all
        return loss

    def _backward(self, X, delta, ws, masks):
        """Back-propagate ``delta`` (output layer) and fill ``self.grad``."""
        n = X.shape[0]
        ones = ws.ones[:n]
        for i in range(self.n_layers - 2, -1, -1):
            A_in = X if i == 0 else ws.layer_input(i - 1, n, masks)
            if i == 0 and sp.issparse(A_in):
                np.copyto(self.coef_grads[i], (A_in.T @ delta))
            else:
                np.matmul(A_in.T, delta, out=self.coef_grads[i])
            # column sums as a BLAS matrix-vector product: 3-4x faster than
            # np.sum(axis=0) on a minibatch's deltas
            np.matmul(ones, delta, out=self.intercept_grads[i])
            if i == 0:
                break
            previous = np.matmul(delta, self.coefs[i].T, out=ws.D[i - 1][:n])
            if masks is not None and masks[i - 1] is not None:
                previous *= masks[i - 1]
            act = self.activations[i - 1]
            Z = ws.Z[i - 1][:n] if act.needs_z else None
            act.derivative(Z, ws.H[i - 1][:n], previous)
            delta = previous


class Workspace:
    """Buffers for batches of up to ``n_rows`` rows, allocated once per fit.

    Per hidden layer ``l``: ``Z[l]`` pre-activations, ``H[l]`` activations
    (the same array as ``Z[l]`` unless the derivative needs ``Z``), ``A[l]``
    activations after dropout, ``D[l]`` back-propagated deltas; ``Z[-1]`` holds
    the output logits, then probabilities, then the output delta. ``work`` is
    the optimizer's scratch vector, ``ones`` a column of ones.
    """

    def __init__(self, network, n_rows, dropout=False):
        dtype, units = network.dtype, network.layer_units
        self.Z, self.H, self.A, self.D = [], [], [], []
        for act, width in zip(network.activations, units[1:-1]):
            Z = np.empty((n_rows, width), dtype)
            self.Z.append(Z)
            self.H.append(np.empty_like(Z) if act.needs_z else Z)
            self.A.append(np.empty_like(Z) if dropout else None)
            self.D.append(np.empty_like(Z))
        self.Z.append(np.empty((n_rows, units[-1]), dtype))
        self.work = np.empty_like(network.theta)
        self.ones = np.ones(n_rows, dtype)  # for column sums of the deltas

    def layer_input(self, i, n, masks):
        """What hidden layer ``i`` passed on: after dropout when it had a mask."""
        if masks is not None and masks[i] is not None:
            return self.A[i][:n]
        return self.H[i][:n]
