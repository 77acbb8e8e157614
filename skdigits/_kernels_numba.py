"""numba versions of the optimizer steps in :mod:`skdigits._kernels`.

Imported only by :func:`skdigits._kernels.kernels`, so that ``import skdigits``
does not pay for importing numba. Each loop repeats its numpy twin's operations
in the same order (``a + b`` and ``b + a`` are the same bits, so the decay term
may be added from either side); with numba's default (no fast-math) LLVM
neither reorders them nor fuses a multiply and an add, so the results are
bit-identical.
``error_model="numpy"`` drops the ZeroDivisionError check that would otherwise
keep the loop from being vectorised (it then ran 2-4x slower than numpy).
Compiled on first use for each dtype and cached on disk (``cache=True``).
"""

import math

import numba

_jit = numba.njit(error_model="numpy", nogil=True, cache=True)


@_jit
def sgd(lr, mu, nesterov, decay, n_decay, theta, grad, work, velocity):
    for i in range(theta.size):
        g = grad[i] + theta[i] * decay if i < n_decay else grad[i]
        step = g * lr
        vel = velocity[i] * mu - step
        velocity[i] = vel
        if nesterov:
            theta[i] = (theta[i] - step) + vel * mu
        else:
            theta[i] = theta[i] + vel


@_jit
def adam(b1, b2, eps, lr, decay, n_decay, theta, grad, work, m, v):
    for i in range(theta.size):
        g = grad[i] + theta[i] * decay if i < n_decay else grad[i]
        mi = m[i] * b1 + g
        vi = v[i] * b2 + g * g
        m[i] = mi
        v[i] = vi
        theta[i] = theta[i] - mi / (math.sqrt(vi) + eps) * lr


KERNELS = {"sgd": sgd, "adam": adam}
