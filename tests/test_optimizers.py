"""Tests for the flat-vector optimizers (skdigits/_optimizers.py).

Each step is compared with the formula of the class docstring, computed here
by hand, over two steps so that momentum and bias correction matter.
"""

import numpy as np
import pytest

from skdigits._optimizers import OPTIMIZERS, SCHEDULES, SGD, Adam, optimizer_params


def theta_and_grads(dtype=np.float64):
    rng = np.random.default_rng(0)
    theta = rng.normal(size=7).astype(dtype)
    return theta, [rng.normal(size=7).astype(dtype) for _ in range(2)]


def test_registry_names_the_stochastic_solvers():
    assert OPTIMIZERS == {"sgd": SGD, "adam": Adam}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_plain_momentum_two_steps(dtype):
    theta, (g1, g2) = theta_and_grads(dtype)
    lr, mu = 0.1, 0.9
    opt = SGD(theta, learning_rate_init=lr, momentum=mu, nesterovs_momentum=False)
    expected = theta.astype(np.float64)
    v = -lr * g1
    expected = expected + v
    v = mu * v - lr * g2
    expected = expected + v
    opt.step(theta, g1)
    opt.step(theta, g2)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(theta, expected, rtol=rtol)
    np.testing.assert_allclose(opt.velocity, v, rtol=rtol)
    assert theta.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_nesterov_two_steps(dtype):
    theta, (g1, g2) = theta_and_grads(dtype)
    lr, mu = 0.05, 0.8
    opt = SGD(theta, learning_rate_init=lr, momentum=mu, nesterovs_momentum=True)
    expected = theta.astype(np.float64)
    v = -lr * g1
    expected = expected + mu * v - lr * g1
    v = mu * v - lr * g2
    expected = expected + mu * v - lr * g2
    opt.step(theta, g1)
    opt.step(theta, g2)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(theta, expected, rtol=rtol)


def test_sgd_without_momentum_is_plain_gradient_descent():
    theta, (g1, g2) = theta_and_grads()
    start = theta.copy()
    opt = SGD(theta, learning_rate_init=0.3, momentum=0.0)
    opt.step(theta, g1)
    opt.step(theta, g2)
    np.testing.assert_allclose(theta, start - 0.3 * (g1 + g2), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_two_steps(dtype):
    theta, (g1, g2) = theta_and_grads(dtype)
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-8
    opt = Adam(theta, learning_rate_init=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    expected = theta.astype(np.float64)
    m = np.zeros(7)
    v = np.zeros(7)
    for t, g in enumerate([g1, g2], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        expected = expected - step * m / (np.sqrt(v) + eps)
        opt.step(theta, g, np.empty_like(theta))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(theta, expected, rtol=rtol)
    assert opt.t == 2
    assert theta.dtype == dtype


def test_adam_first_step_moves_every_parameter_by_about_the_learning_rate():
    """With bias correction the first step is lr * sign(g), whatever |g|."""
    theta = np.zeros(4)
    grad = np.array([1e-3, -5.0, 200.0, -0.1])
    Adam(theta, learning_rate_init=0.01).step(theta, grad, np.empty(4))
    np.testing.assert_allclose(theta, -0.01 * np.sign(grad), rtol=1e-3)


def test_invscaling_schedule():
    theta = np.zeros(3)
    opt = SGD(theta, learning_rate_init=0.2, learning_rate="invscaling", power_t=0.25)
    opt.iteration_ends(99)
    assert opt.learning_rate == pytest.approx(0.2 / 100**0.25)
    opt.iteration_ends(9999)
    assert opt.learning_rate == pytest.approx(0.2 / 10000**0.25)


def test_constant_schedule_ignores_time_and_stops_when_loss_stalls(capsys):
    opt = SGD(np.zeros(3), learning_rate_init=0.2, learning_rate="constant")
    opt.iteration_ends(10_000)
    assert opt.learning_rate == 0.2
    assert opt.trigger_stopping("Stalled.", verbose=True)
    assert "Stalled. Stopping." in capsys.readouterr().out


def test_adaptive_schedule_divides_by_five_until_1e6(capsys):
    opt = SGD(np.zeros(3), learning_rate_init=0.1, learning_rate="adaptive")
    opt.iteration_ends(10_000)
    assert opt.learning_rate == 0.1
    rates = []
    while not opt.trigger_stopping("Stalled.", verbose=True):
        rates.append(opt.learning_rate)
    np.testing.assert_allclose(rates, 0.1 / 5.0 ** np.arange(1, len(rates) + 1))
    assert rates[-1] <= 1e-6 < rates[-2]
    out = capsys.readouterr().out
    assert "Setting learning rate to" in out
    assert "Learning rate too small. Stopping." in out


def test_adam_stops_when_loss_stalls():
    assert Adam(np.zeros(3)).trigger_stopping("Stalled.", verbose=False)


def test_matches_checks_size_and_dtype():
    opt = Adam(np.zeros(5))
    assert opt.matches(np.ones(5))
    assert not opt.matches(np.ones(6))
    assert not opt.matches(np.ones(5, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "make",
    [lambda t: Adam(t), lambda t: SGD(t, nesterovs_momentum=False)],
    ids=["adam", "sgd"],
)
def test_decay_steps_along_grad_plus_decay_times_theta_on_the_first_entries(
    make, dtype
):
    theta, (g1, g2) = theta_and_grads(dtype)
    expected, decay, n_decay = theta.copy(), 0.3, 5
    reference, opt = make(expected), make(theta)
    for g in (g1, g2):
        decayed = g.copy()
        decayed[:n_decay] += dtype(decay) * expected[:n_decay]
        reference.step(expected, decayed, np.empty_like(theta))
        opt.step(theta, g.copy(), np.empty_like(theta), decay=decay, n_decay=n_decay)
    np.testing.assert_array_equal(theta, expected)
    # the entries past n_decay (the biases) took the plain gradient's steps
    plain = theta_and_grads(dtype)[0]
    plain_opt = make(plain)
    for g in (g1, g2):
        plain_opt.step(plain, g.copy(), np.empty_like(plain))
    np.testing.assert_array_equal(theta[n_decay:], plain[n_decay:])
    assert not np.array_equal(theta[:n_decay], plain[:n_decay])


def _cosine(lr0, k, budget):
    return 0.5 * lr0 * (1 + np.cos(np.pi * min(k, budget) / budget))


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_cosine_schedule_follows_its_formula_step_by_step(name):
    theta = np.zeros(3)
    opt = OPTIMIZERS[name](theta, learning_rate_init=0.2, learning_rate="cosine")
    opt.plan(8)
    rates = []
    for _ in range(11):  # past the budget the rate stays at 0
        opt.step(theta, np.ones(3), np.empty(3))
        rates.append(opt.learning_rate)
    assert rates == pytest.approx([_cosine(0.2, k, 8) for k in range(11)], abs=1e-15)
    assert rates[0] == 0.2 and rates[8:] == [0.0, 0.0, 0.0]


def test_cosine_sgd_moves_theta_by_the_scheduled_rate():
    theta = np.zeros(2)
    opt = SGD(theta, learning_rate_init=0.5, learning_rate="cosine", momentum=0.0)
    opt.plan(4)
    for k in range(3):
        before = theta.copy()
        opt.step(theta, np.ones(2), np.empty(2))
        np.testing.assert_allclose(before - theta, _cosine(0.5, k, 4))


def test_adam_ignores_sklearns_sgd_schedules():
    """'invscaling' and 'adaptive' are sgd-only, as in scikit-learn."""
    theta, grads = theta_and_grads()
    results = []
    for schedule in ["constant", "invscaling", "adaptive"]:
        t = theta.copy()
        opt = Adam(t, learning_rate_init=0.01, learning_rate=schedule)
        for g in grads:
            opt.step(t, g, np.empty_like(t))
            opt.iteration_ends(1000)
        results.append(t)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_flush_keeps_adams_parameters_and_moments_out_of_the_subnormal_range():
    """With L2 and no data gradient, Adam's decay drives theta and v subnormal.

    Subnormal floats take x86's slow path (an epoch of the best recipe went from
    6 s to 15 s); flushing once an epoch keeps every vector normal or zero.
    """
    theta = np.full(64, 1e-3, dtype=np.float32)
    opt = Adam(theta, learning_rate_init=1e-3)  # (without the flush: 128 entries)
    tiny = np.finfo(np.float32).tiny

    def subnormal():
        vectors = (theta, *opt._state())
        return sum(int(((v != 0) & (np.abs(v) < tiny)).sum()) for v in vectors)

    seen = 0
    for step in range(1, 5 * 469 + 1):
        opt.step(theta, np.zeros_like(theta), np.empty_like(theta), 0.5, 64)
        seen = max(seen, subnormal())
        if step % 469 == 0:  # an epoch of MNIST at batch 128
            opt.flush_negligible(theta)
            assert subnormal() == 0
    assert seen == 0


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_optimizer_arguments_are_estimator_parameters(solver):
    """The constructor's arguments are read from the estimator by name."""
    from skdigits import NumpyMLPClassifier

    names = optimizer_params(solver)
    assert "learning_rate_init" in names
    assert set(names) <= set(NumpyMLPClassifier().get_params())


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_adam_honours_only_the_schedules_for_every_solver(name):
    opt = Adam(np.zeros(3), learning_rate_init=0.01, learning_rate=name)
    expected = SCHEDULES["constant"] if SCHEDULES[name].sgd_only else SCHEDULES[name]
    assert opt.schedule is expected
    assert SGD(np.zeros(3), learning_rate=name).schedule is SCHEDULES[name]


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
@pytest.mark.parametrize("schedule", ["cosine", "invscaling"])
def test_state_dict_resumes_the_same_steps(solver, schedule):
    theta, grads = theta_and_grads(np.float32)
    params = dict(learning_rate=schedule, learning_rate_init=0.05)
    first = OPTIMIZERS[solver](theta, **params)
    first.plan(5)
    first.step(theta, grads[0], np.empty_like(theta), 0.01, 3)
    first.iteration_ends(7)
    state = first.state_dict()
    assert set(state["scalars"]) >= {"learning_rate", "n_steps", "planned_steps"}
    # a new optimizer, loaded, then both step on: the same bits
    resumed_theta = theta.copy()
    resumed = OPTIMIZERS[solver](resumed_theta, **params)
    resumed.load_state_dict(
        {
            "scalars": dict(state["scalars"]),
            "arrays": {k: v.copy() for k, v in state["arrays"].items()},
        }
    )
    for opt, values in ((first, theta), (resumed, resumed_theta)):
        for grad in grads:
            opt.step(values, grad, np.empty_like(values), 0.01, 3)
    assert np.array_equal(theta, resumed_theta)
    for name, array in first.state_dict()["arrays"].items():
        assert np.array_equal(array, resumed.state_dict()["arrays"][name])
    assert first.state_dict()["scalars"] == resumed.state_dict()["scalars"]


def test_load_state_dict_refuses_another_layout():
    theta = np.zeros(4)
    state = Adam(np.zeros(5)).state_dict()
    with pytest.raises(ValueError, match="m has shape"):
        Adam(theta).load_state_dict(state)
    del state["scalars"]["t"]
    with pytest.raises(ValueError, match="lacks t"):
        Adam(np.zeros(5)).load_state_dict(state)


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_an_optimizer_holds_no_function(solver):
    """A model file (.skops) may hold no function: the schedule is a name."""
    opt = OPTIMIZERS[solver](np.zeros(3), learning_rate="cosine")
    assert opt.schedule is SCHEDULES["cosine"]
    plain = (bool, int, float, str, type(None), np.ndarray, np.dtype)
    assert all(isinstance(value, plain) for value in vars(opt).values())


def test_an_optimizer_pickled_with_its_schedule_object_still_loads():
    import pickle

    opt = SGD(np.zeros(3), learning_rate="adaptive")
    state = dict(vars(opt))
    state["schedule"] = SCHEDULES[state.pop("lr_schedule")]  # the old layout
    old = SGD.__new__(SGD)
    old.__setstate__(state)
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.schedule is SCHEDULES["adaptive"] and "schedule" not in vars(loaded)
