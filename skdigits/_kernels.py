"""Optimizer steps as numpy passes, or as one compiled loop when numba is installed.

An optimizer step reads and writes a few vectors as long as the network's
parameters. With numpy it is a sequence of in-place ufunc passes (Adam: ten,
twelve with the L2 term), each streaming whole vectors through the caches;
compiled by numba it is one loop that touches each element once, about three
times faster inside a training loop (``benchmarks/bench_phases.py``). Both
backends do the same float operations in the same order, in the parameters'
dtype and without fused multiply-adds, so they give the same bits; numba only
changes the speed (``pip install "skdigits[fast]"``). The forward and backward
passes are numpy either way.

Every kernel takes ``decay`` and ``n_decay`` and steps along the gradient
``grad + decay * theta`` on the first ``n_decay`` entries (the weights; ``grad``
as given on the rest): the L2 term of the loss's gradient, applied where
``theta`` is read anyway, as ``weight_decay`` is in ``torch.optim``. Numba then
saves the two passes that term costs as numpy.

:func:`kernels` returns the backend in use, a ``{name: function}`` dict with
the keys of ``NUMPY_KERNELS``: numba's when it imports, numpy's when it does not or when
the environment variable ``SKDIGITS_KERNELS`` is ``numpy``.
"""

import functools
import os
import warnings

import numpy as np

#: Bytes of each vector a chunk of the numpy passes covers. A step makes ten
#: or more passes over five vectors; chunks of 256 KiB keep all five (1.25 MiB)
#: in a core's L2 cache from the first pass to the last, instead of streaming
#: every pass from L3 or memory. The passes are element-wise, so the chunking
#: changes no result.
CHUNK_BYTES = 1 << 18


def _in_chunks(theta, n_decay, *vectors):
    """``(n_decay, theta, *vectors)`` of each chunk, as views."""
    size = max(CHUNK_BYTES // theta.itemsize, 1)
    for start in range(0, theta.size, size):
        stop = start + size
        yield (
            min(max(n_decay - start, 0), size),
            theta[start:stop],
            *(vector[start:stop] for vector in vectors),
        )


def _decayed(decay, n_decay, theta, grad, work):
    """``grad + decay * theta`` on the first ``n_decay`` entries, in ``work``.

    Returns ``grad`` itself (untouched) when there is nothing to add.
    """
    if not decay or not n_decay:
        return grad
    np.multiply(theta[:n_decay], decay, out=work[:n_decay])
    work[:n_decay] += grad[:n_decay]
    work[n_decay:] = grad[n_decay:]
    return work


def sgd(lr, mu, nesterov, decay, n_decay, theta, grad, work, velocity):
    """SGD with momentum: ``v = mu v - lr g``, then ``theta += v``.

    With Nesterov's momentum ``theta += mu v - lr g`` instead; ``g`` is
    ``grad`` plus the decay term, ``work`` is scratch space. The passes run
    chunk by chunk (:func:`_in_chunks`).
    """
    for c in _in_chunks(theta, n_decay, grad, work, velocity):
        _sgd_passes(lr, mu, nesterov, decay, *c)


def _sgd_passes(lr, mu, nesterov, decay, n_decay, theta, grad, work, velocity):
    grad = _decayed(decay, n_decay, theta, grad, work)
    velocity *= mu
    np.multiply(grad, lr, out=work)
    velocity -= work
    if nesterov:
        theta -= work
        np.multiply(velocity, mu, out=work)
    else:
        np.copyto(work, velocity)
    theta += work


def adam(b1, b2, eps, lr, decay, n_decay, theta, grad, work, m, v):
    """Adam on pre-scaled moments: ``m = b1 m + g``, ``v = b2 v + g^2``.

    Then ``theta -= lr m / (sqrt(v) + eps)``; ``g`` is ``grad`` plus the decay
    term, ``work`` is scratch space. The passes run chunk by chunk
    (:func:`_in_chunks`).
    """
    for c in _in_chunks(theta, n_decay, grad, work, m, v):
        _adam_passes(b1, b2, eps, lr, decay, *c)


def _adam_passes(b1, b2, eps, lr, decay, n_decay, theta, grad, work, m, v):
    grad = _decayed(decay, n_decay, theta, grad, work)
    m *= b1
    m += grad
    np.multiply(grad, grad, out=work)
    v *= b2
    v += work
    np.sqrt(v, out=work)
    work += eps
    np.divide(m, work, out=work)
    work *= lr
    theta -= work


NUMPY_KERNELS = {"sgd": sgd, "adam": adam}


@functools.cache
def kernels():
    """The ``{name: function}`` backend in use (decided once per process)."""
    if os.environ.get("SKDIGITS_KERNELS", "").lower() == "numpy":
        return NUMPY_KERNELS
    try:
        from skdigits import _kernels_numba
    except ImportError:
        return NUMPY_KERNELS
    except Exception as exc:  # numba installed but unusable here
        warnings.warn(
            f"numba is installed but its kernels could not be built ({exc}); "
            "training uses the numpy optimizer steps. Set SKDIGITS_KERNELS=numpy "
            "to silence this.",
            RuntimeWarning,
            stacklevel=2,
        )
        return NUMPY_KERNELS
    return _kernels_numba.KERNELS


def backend_name():
    """``'numba'`` or ``'numpy'``: which optimizer steps training uses."""
    return "numpy" if kernels() is NUMPY_KERNELS else "numba"
