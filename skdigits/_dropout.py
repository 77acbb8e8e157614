"""Inverted-dropout masks, drawn per distinct sample.

A mask entry is 0 with probability ``p`` and ``1 / (1 - p)`` otherwise, so the
expected activation is unchanged and nothing needs rescaling at predict time.

Masks are drawn per *distinct row* of a batch rather than per row position:
rows with identical contents share one mask. Statistically this is ordinary
dropout (distinct samples get independent masks), and it keeps a promise
scikit-learn users rely on: a sample of weight ``k`` trains exactly like ``k``
copies of it. The draws are ordered by a content hash of each row, so they do
not depend on the order of rows in the batch either.
"""

import numpy as np
import scipy.sparse as sp

_MULT_SEED = 0x5EED5EED


def _bits(values):
    """The bit patterns of float values as unsigned integers."""
    values = np.ascontiguousarray(values)
    return values.view(np.uint32 if values.dtype.itemsize == 4 else np.uint64)


def _mix(keys):
    """splitmix64 finaliser: spread every input bit over the whole key."""
    keys = keys ^ (keys >> np.uint64(30))
    keys *= np.uint64(0xBF58476D1CE4E5B9)
    keys ^= keys >> np.uint64(27)
    keys *= np.uint64(0x94D049BB133111EB)
    return keys ^ (keys >> np.uint64(31))


def row_keys(X, chunk_rows=2048):
    """A 64-bit content hash of every row of ``X`` (dense or CSR/CSC sparse).

    Integer arithmetic modulo :math:`2^{64}`, so equal rows always get equal
    keys whatever their position.
    """
    mult = np.random.default_rng(_MULT_SEED).integers(
        1, 2**63, size=X.shape[1], dtype=np.uint64
    ) | np.uint64(1)
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        X.sum_duplicates()
        terms = _bits(X.data).astype(np.uint64) * mult[X.indices]
        cumulative = np.concatenate([[np.uint64(0)], np.cumsum(terms, dtype=np.uint64)])
        return _mix(cumulative[X.indptr[1:]] - cumulative[X.indptr[:-1]])
    keys = np.empty(X.shape[0], np.uint64)
    for start in range(0, X.shape[0], chunk_rows):
        block = _bits(X[start : start + chunk_rows]).astype(np.uint64)
        block *= mult
        keys[start : start + chunk_rows] = block.sum(axis=1, dtype=np.uint64)
    return _mix(keys)


class DropoutMasks:
    """Draws the masks of every hidden layer for one batch.

    Parameters
    ----------
    rates : sequence of float
        Dropout probability of each hidden layer (0 means no dropout there).
    keys : ndarray of uint64
        :func:`row_keys` of the training rows.
    rng : numpy.random.Generator
        The only source of randomness, seeded from ``random_state``.
    dtype : numpy dtype
        dtype of the masks (that of the network).
    """

    def __init__(self, rates, keys, rng, dtype):
        self.rates = [float(r) for r in rates]
        self.keys = keys
        self.rng = rng
        self.dtype = np.dtype(dtype)

    def draw(self, batch_idx, widths):
        """One mask (or None where the rate is 0) per hidden layer."""
        unique, inverse = np.unique(self.keys[batch_idx], return_inverse=True)
        masks = []
        for rate, width in zip(self.rates, widths):
            if rate == 0.0:
                masks.append(None)
                continue
            keep = self.rng.random((unique.size, width), dtype=self.dtype) >= rate
            # 0 or 1 / (1 - p) in one pass (not astype, then a scaling pass)
            mask = np.multiply(keep, self.dtype.type(1.0 / (1.0 - rate)))
            masks.append(mask[inverse])
        return masks
