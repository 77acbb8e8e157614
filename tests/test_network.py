"""Tests for the pure NumPy network (skdigits/_network.py).

The gradient of ``Network.loss_grad`` is compared with central finite
differences of its own loss, in float64, for every output/loss pairing, every
activation (mixed per layer), L2, sample and class weights and dropout masks.
"""

import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skdigits import NumpyMLPClassifier
from skdigits._activations import ACTIVATIONS
from skdigits._network import Network, Workspace, init_bound

NAMES = sorted(ACTIVATIONS)
EPS = 1e-6

# (output, number of output units, kind of target)
OUTPUT_CASES = [
    ("softmax", 4, "multiclass"),
    ("logistic", 1, "binary"),
    ("logistic", 3, "multilabel"),
]


def targets(kind, n_outputs, n_rows, rng):
    if kind == "multiclass":
        return np.eye(n_outputs)[rng.integers(0, n_outputs, n_rows)]
    return rng.integers(0, 2, size=(n_rows, n_outputs)).astype(float)


def make_network(activations, output="softmax", n_outputs=4, seed=0, n_in=5):
    """A small float64 network with random weights *and* random biases."""
    rng = np.random.default_rng(seed)
    units = [n_in, *[4, 3, 3][: len(activations)], n_outputs]
    net = Network(units, activations, output, np.float64)
    net.initialize(rng)
    for b in net.intercepts:
        b[:] = rng.normal(scale=0.5, size=b.shape)
    return net


def loss_and_grad(net, X, Y, weights=None, total=None, alpha=0.0, masks=None):
    total = float(X.shape[0]) if total is None else total
    ws = Workspace(net, X.shape[0], dropout=masks is not None)
    loss = net.loss_grad(X, Y, weights, total, alpha, ws, masks)
    return loss, net.grad.copy()


def numerical_grad(net, X, Y, **kwargs):
    theta = net.theta.copy()
    grad = np.empty_like(theta)
    for i in range(theta.size):
        net.theta[:] = theta
        net.theta[i] += EPS
        plus = loss_and_grad(net, X, Y, **kwargs)[0]
        net.theta[i] -= 2 * EPS
        minus = loss_and_grad(net, X, Y, **kwargs)[0]
        grad[i] = (plus - minus) / (2 * EPS)
    net.theta[:] = theta
    return grad


def assert_gradient_ok(net, X, Y, **kwargs):
    _, analytic = loss_and_grad(net, X, Y, **kwargs)
    numerical = numerical_grad(net, X, Y, **kwargs)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-5, atol=1e-7)
    assert np.abs(analytic).max() > 1e-3  # the check is not vacuous


def problem(kind, n_outputs, n_rows=9, seed=0):
    rng = np.random.default_rng(seed + 100)
    X = rng.normal(size=(n_rows, 5))
    return X, targets(kind, n_outputs, n_rows, rng)


@pytest.mark.parametrize("output, n_outputs, kind", OUTPUT_CASES)
@pytest.mark.parametrize("name", NAMES)
def test_gradient_per_output_and_mixed_activations(name, output, n_outputs, kind):
    """Every activation, in the first and in the second hidden layer."""
    other = NAMES[(NAMES.index(name) + 3) % len(NAMES)]
    net = make_network([name, other], output, n_outputs)
    X, Y = problem(kind, n_outputs)
    assert_gradient_ok(net, X, Y)
    net = make_network([other, name], output, n_outputs, seed=1)
    assert_gradient_ok(net, X, Y)


@pytest.mark.parametrize("output, n_outputs, kind", OUTPUT_CASES)
def test_gradient_with_l2_and_sample_weights(output, n_outputs, kind):
    net = make_network(["tanh", "gelu", "softplus"], output, n_outputs)
    X, Y = problem(kind, n_outputs)
    w = np.random.default_rng(2).uniform(0.2, 3.0, X.shape[0])
    assert_gradient_ok(net, X, Y, weights=w, total=w.sum(), alpha=0.3)


def test_without_l2_grad_the_weights_lack_only_the_decay_term():
    """What ``l2_grad=False`` leaves out is what an optimizer's ``decay`` adds."""
    net = make_network(["relu", "tanh"])
    X, Y = problem("multiclass", 4)
    alpha, total = 0.3, 7.0
    loss, full = loss_and_grad(net, X, Y, total=total, alpha=alpha)
    ws = Workspace(net, X.shape[0])
    assert net.loss_grad(X, Y, None, total, alpha, ws, l2_grad=False) == loss
    expected = full.copy()
    expected[: net.n_coef] -= alpha / total * net.theta[: net.n_coef]
    np.testing.assert_allclose(net.grad, expected, rtol=1e-12, atol=1e-15)
    assert not np.allclose(net.grad[: net.n_coef], full[: net.n_coef])
    np.testing.assert_array_equal(net.grad[net.n_coef :], full[net.n_coef :])


@pytest.mark.parametrize("output, n_outputs, kind", OUTPUT_CASES)
def test_gradient_with_class_weights_not_normalised(output, n_outputs, kind):
    """Loss weights (sample x class weight) differ from the normaliser."""
    net = make_network(["relu", "silu"], output, n_outputs)
    X, Y = problem(kind, n_outputs)
    w = np.random.default_rng(3).uniform(0.0, 4.0, X.shape[0])
    assert_gradient_ok(net, X, Y, weights=w, total=7.5, alpha=0.05)


@pytest.mark.parametrize("output, n_outputs, kind", OUTPUT_CASES)
@pytest.mark.parametrize("which", [(0,), (1,), (0, 1)])
def test_gradient_with_fixed_dropout_masks(which, output, n_outputs, kind):
    net = make_network(["elu", "logistic"], output, n_outputs)
    X, Y = problem(kind, n_outputs)
    rng = np.random.default_rng(4)
    masks = [None, None]
    for layer in which:
        keep = rng.random((X.shape[0], net.layer_units[layer + 1])) >= 0.3
        masks[layer] = keep / 0.7
    assert_gradient_ok(net, X, Y, alpha=0.01, masks=masks)


def test_dropout_masks_change_the_loss_and_zero_units_get_no_gradient():
    net = make_network(["tanh"], n_outputs=4)
    X, Y = problem("multiclass", 4)
    mask = np.ones((X.shape[0], 4))
    mask[:, 2] = 0  # unit 2 is dropped for every row
    loss_plain, _ = loss_and_grad(net, X, Y)
    loss_masked, grad = loss_and_grad(net, X, Y, masks=[mask])
    assert loss_masked != pytest.approx(loss_plain)
    coef_grads, intercept_grads = net.views(grad)
    np.testing.assert_array_equal(coef_grads[0][:, 2], 0)
    np.testing.assert_array_equal(intercept_grads[0][2], 0)
    np.testing.assert_array_equal(coef_grads[1][2, :], 0)


def test_bias_gradient_is_one_value_per_unit():
    """Not the notebooks' ``np.sum(delta)`` scalar: one entry per output unit."""
    net = make_network(["relu", "tanh"], n_outputs=4)
    X, Y = problem("multiclass", 4)
    _, grad = loss_and_grad(net, X, Y)
    numerical = numerical_grad(net, X, Y)
    analytic_b = net.views(grad)[1]
    numerical_b = net.views(numerical)[1]
    for b, g, g_num in zip(net.intercepts, analytic_b, numerical_b):
        assert g.shape == b.shape == (b.size,)
        np.testing.assert_allclose(g, g_num, rtol=1e-5, atol=1e-7)
        assert np.unique(np.round(g, 8)).size == g.size  # not one value broadcast


def test_batch_gradient_is_normalised_by_its_own_size():
    """Gradient of 7 rows = mean of the 7 per-row gradients (no global ``m``)."""
    net = make_network(["tanh", "relu"], n_outputs=4)
    X, Y = problem("multiclass", 4, n_rows=7)
    loss, grad = loss_and_grad(net, X, Y)
    per_row = [loss_and_grad(net, X[i : i + 1], Y[i : i + 1]) for i in range(7)]
    assert loss == pytest.approx(np.mean([r[0] for r in per_row]))
    np.testing.assert_allclose(grad, np.mean([r[1] for r in per_row], axis=0))


def test_integer_sample_weight_equals_repeated_rows():
    net = make_network(["softplus", "tanh"], n_outputs=4)
    X, Y = problem("multiclass", 4, n_rows=6)
    counts = np.array([1, 3, 0, 2, 1, 1])
    w = counts.astype(float)
    weighted = loss_and_grad(net, X, Y, weights=w, total=w.sum(), alpha=0.2)
    Xr, Yr = np.repeat(X, counts, axis=0), np.repeat(Y, counts, axis=0)
    repeated = loss_and_grad(net, Xr, Yr, alpha=0.2)
    assert weighted[0] == pytest.approx(repeated[0])
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-10, atol=1e-14)


def test_zero_total_weight_gives_zero_loss_and_gradient():
    net = make_network(["relu"], n_outputs=4)
    X, Y = problem("multiclass", 4)
    net.grad[:] = 1.0
    loss, grad = loss_and_grad(net, X, Y, weights=np.zeros(9), total=0.0, alpha=1.0)
    assert loss == 0.0
    np.testing.assert_array_equal(grad, 0)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_gives_the_dense_loss_and_gradient(fmt):
    net = make_network(["relu", "tanh"], n_outputs=4)
    X, Y = problem("multiclass", 4)
    X[X < 0.3] = 0
    dense = loss_and_grad(net, X, Y, alpha=0.1)
    sparse = loss_and_grad(net, sp.csr_matrix(X).asformat(fmt), Y, alpha=0.1)
    assert sparse[0] == pytest.approx(dense[0])
    np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-12, atol=1e-15)


def test_float32_network_agrees_with_float64():
    net64 = make_network(["tanh", "gelu"], n_outputs=4)
    net32 = Network(net64.layer_units, ["tanh", "gelu"], "softmax", np.float32)
    net32.theta[:] = net64.theta
    X, Y = problem("multiclass", 4)
    loss64, grad64 = loss_and_grad(net64, X, Y, alpha=0.1)
    loss32, grad32 = loss_and_grad(
        net32, X.astype(np.float32), Y.astype(np.float32), alpha=0.1
    )
    assert grad32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-3, atol=1e-5)


def test_logits_equal_the_training_forward_pass_without_masks():
    net = make_network(["silu", "leaky_relu"], n_outputs=4)
    X, _ = problem("multiclass", 4)
    ws = Workspace(net, X.shape[0])
    np.testing.assert_allclose(net.logits(X), net.forward(X, ws), rtol=1e-14)
    P = net.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_parameters_are_views_of_one_flat_vector():
    net = make_network(["relu", "relu"], n_outputs=4)
    assert net.theta.size == sum(
        i * o + o for i, o in zip(net.layer_units[:-1], net.layer_units[1:])
    )
    for view in net.coefs + net.intercepts:
        assert np.shares_memory(view, net.theta)
    for view in net.coef_grads + net.intercept_grads:
        assert np.shares_memory(view, net.grad)
    net.theta[:] = np.arange(net.theta.size)
    assert net.coefs[0][0, 1] == 1.0  # row-major, as sklearn packs them


# ----------------------------------------------------------- initialisation


@pytest.mark.parametrize("name", NAMES)
def test_initial_weights_are_symmetric_and_scaled_by_fan_in(name):
    """Not the notebooks' positive-only ``np.random.rand`` weights."""
    units = [784, 256, 32, 10]
    net = Network(units, [name, name], "softmax", np.float64)
    net.initialize(np.random.default_rng(0))
    layer_names = [name, name, "identity"]
    for W, b, act, (fan_in, fan_out) in zip(
        net.coefs, net.intercepts, layer_names, zip(units[:-1], units[1:])
    ):
        bound = init_bound(act, fan_in, fan_out)
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() >= 0.95 * bound
        assert 0.4 < (W > 0).mean() < 0.6
        # uniform(-bound, bound) has std bound / sqrt(3): mean within 5 std errors
        assert abs(W.mean()) < 5 * bound / np.sqrt(3 * W.size)
        np.testing.assert_array_equal(b, 0)


def test_init_bound_shrinks_with_fan_in():
    for name in NAMES:
        bounds = [init_bound(name, fan_in, 10) for fan_in in (10, 100, 1000)]
        assert bounds[0] > bounds[1] > bounds[2] > 0
    assert init_bound("relu", 600, 10) == pytest.approx(np.sqrt(6 / 600))
    assert init_bound("tanh", 600, 10) == pytest.approx(np.sqrt(6 / 610))
    assert init_bound("logistic", 600, 10) == pytest.approx(4 * np.sqrt(6 / 610))


def test_initialize_depends_only_on_the_generator():
    nets = [Network([20, 8, 3], ["relu"], "softmax", np.float64) for _ in range(3)]
    for net, seed in zip(nets, [0, 0, 1]):
        net.initialize(np.random.default_rng(seed))
    np.testing.assert_array_equal(nets[0].theta, nets[1].theta)
    assert not np.array_equal(nets[0].theta, nets[2].theta)


def test_stacked_sigmoids_learn(digits):
    """3 logistic hidden layers leave the uniform-guess loss log(10) = 2.30."""
    X_train, X_test, y_train, y_test = digits
    clf = NumpyMLPClassifier((64, 64, 64), activation="logistic", max_iter=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(learning_rate_init=0.01, random_state=0).fit(X_train, y_train)
    assert clf.loss_ < 0.5
    assert np.unique(clf.predict(X_test)).size == 10
    assert clf.score(X_test, y_test) > 0.9


def test_classifier_starts_from_symmetric_weights(digits):
    """An (almost) zero learning rate leaves the initial weights visible."""
    X_train, _, y_train, _ = digits
    clf = NumpyMLPClassifier(
        (32,), solver="sgd", learning_rate_init=1e-12, momentum=0.0, max_iter=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(random_state=0).fit(X_train, y_train)
    W = clf.coefs_[0]
    assert 0.4 < (W > 0).mean() < 0.6
    assert abs(W.mean()) < 0.1 * np.abs(W).max()
    assert np.abs(W).max() == pytest.approx(np.sqrt(6 / 64), rel=0.05)


def test_every_pair_of_activations_trains_in_one_network(digits):
    X_train, X_test, y_train, y_test = digits
    pairs = list(itertools.islice(itertools.combinations(NAMES, 2), 0, None, 9))
    for pair in pairs:
        clf = NumpyMLPClassifier((32, 16), activation=list(pair), random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.set_params(max_iter=30, learning_rate_init=0.01).fit(X_train, y_train)
        assert clf.score(X_test, y_test) > 0.9, pair


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_confident_network_back_propagates_no_subnormal_numbers(dtype):
    """Subnormal deltas take x86's slow path (77x slower products, epochs 8 s -> 19 s).

    Logits 90-100 (float32) or 710-720 (float64) below the max give the other
    classes subnormal probabilities; the output delta must be flushed so that no
    gradient entry is subnormal.
    """
    rng = np.random.default_rng(0)
    net = Network([6, 8, 3], ["relu"], "softmax", dtype)
    net.initialize(rng)
    X = rng.random((32, 6)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, 32)]
    net.coefs[-1][:] = 0  # the logits are the output biases alone
    gaps = [90, 100] if dtype is np.float32 else [710, 720]
    net.intercepts[-1][:] = [0, -gaps[0], -gaps[1]]
    ws = Workspace(net, 32)
    net.loss_grad(X, Y, None, 32.0, 0.0, ws)
    tiny = np.finfo(dtype).tiny
    subnormal = (net.grad != 0) & (np.abs(net.grad) < tiny)
    assert not subnormal.any()
    assert np.abs(net.grad).max() > 0.01  # the true class still trains
