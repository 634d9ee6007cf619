"""The numpy engine: exact gradients, the same outputs as Keras, and formulas kept as written."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from model import MODEL_DIR
from model.data.mnist import MnistError, load_mnist
from model.scratch import (
    SGD,
    Conv2D,
    Dense,
    ExponentialSchedule,
    Flatten,
    MaxPool2x2,
    ReLU,
    Standardize,
    batches,
    build_network,
    fit,
    fold_standardize,
    from_keras,
    load_network,
    softmax_cross_entropy,
    to_keras,
)

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ("seed000_numpy", "seed003_numpy")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # As in training (model/scratch/training.py): on a busy 2-core machine two OpenBLAS
    # threads spin-wait for each other and these small products run many times slower.
    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def digits():
    """The real MNIST set. Missing data skips outside CI and fails in CI."""
    data_dir = os.environ.get("MNIST_DIR") or ROOT.parent / "shared" / "mnist"
    try:
        return load_mnist(data_dir)
    except MnistError as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have MNIST (set MNIST_DIR): {e}")
        pytest.skip(f"needs MNIST: set MNIST_DIR to the folder of the four IDX files ({e})")


# --------------------------------------------------------------------------- gradient checks


def numerical_gradient(f, w: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(w + eps) - f(w - eps)) / 2 eps, one entry of w at a time."""
    grad = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        old = w[i]
        w[i] = old + eps
        plus = f()
        w[i] = old - eps
        minus = f()
        w[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    assert scale > 0, "both gradients are zero: the check would prove nothing"
    return float(np.linalg.norm(analytic - numeric) / scale)


def check_layer(layer, x: np.ndarray, rng) -> None:
    """Every gradient of loss = sum(layer(x) * R), R random, against central differences."""
    projection = rng.normal(size=layer.forward(x).shape)

    def loss() -> float:
        return float((layer.forward(x) * projection).sum())

    layer.forward(x)
    dx = layer.backward(projection)
    analytic = {"input": dx, **{name: g.copy() for name, g in layer.grads.items()}}
    numeric = {"input": numerical_gradient(loss, x)}
    numeric.update({name: numerical_gradient(loss, w) for name, w in layer.params.items()})
    assert analytic.keys() == numeric.keys()
    for name in analytic:
        assert analytic[name].dtype == np.float64
        assert relative_error(analytic[name], numeric[name]) < 1e-6, (layer.type, name)


def away_from_zero(rng, shape, gap=1e-3):
    """Random values no closer than ``gap`` to 0, where ReLU has its kink."""
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < gap, gap, x)


def test_conv2d_gradients():
    rng = np.random.default_rng(1)
    layer = Conv2D("conv", in_channels=2, filters=3, size=3, rng=rng, dtype=np.float64)
    layer.params["bias"] = rng.normal(size=3)
    check_layer(layer, rng.normal(size=(2, 6, 5, 2)), rng)


def test_dense_gradients():
    rng = np.random.default_rng(2)
    layer = Dense("dense", 7, 4, rng=rng, dtype=np.float64)
    layer.params["bias"] = rng.normal(size=4)
    check_layer(layer, rng.normal(size=(5, 7)), rng)


def test_relu_gradients():
    rng = np.random.default_rng(3)
    check_layer(ReLU("relu"), away_from_zero(rng, (4, 3, 3, 2)), rng)


def test_maxpool_gradients():
    rng = np.random.default_rng(4)
    check_layer(MaxPool2x2("pool"), rng.normal(size=(2, 6, 4, 3)), rng)


def test_maxpool_gives_a_tie_to_the_first_pixel_only():
    # A blank background is a 2x2 block of equal values; its gradient must not be counted 4 times.
    layer = MaxPool2x2("pool")
    y = layer.forward(np.ones((1, 2, 2, 1)))
    dx = layer.backward(np.full_like(y, 5.0))
    assert y.item() == 1.0
    assert dx[0, :, :, 0].tolist() == [[5.0, 0.0], [0.0, 0.0]]


def test_flatten_and_standardize_gradients():
    rng = np.random.default_rng(5)
    check_layer(Flatten("flatten"), rng.normal(size=(2, 3, 3, 2)), rng)
    check_layer(Standardize("standardize", 0.1307, 0.3081), rng.random((2, 4, 4, 1)), rng)


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(6)
    logits, labels = rng.normal(size=(6, 10)) * 3, rng.integers(0, 10, 6)
    loss, dlogits = softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    assert relative_error(dlogits, numeric) < 1e-6
    # The loss itself: -log softmax(logits)[label], averaged.
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(probabilities[np.arange(6), labels]).mean(), rel=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_whole_network_gradients(arch):
    """The full-size networks in float64, on 13 entries of every weight array (all would take minutes)."""
    rng = np.random.default_rng(7)
    kwargs = {"standardize": True} if arch == "seed000_numpy" else {}
    network = build_network(arch, seed=7, dtype=np.float64, **kwargs)
    for layer in network.trainable:  # non-zero biases, so no ReLU sits exactly on its kink by design
        layer.params["bias"] = rng.normal(scale=0.1, size=layer.params["bias"].shape)
    images, labels = rng.random((3, 28, 28)), rng.integers(0, 10, 3)

    def loss() -> float:
        return softmax_cross_entropy(network.forward(images[..., None]), labels)[0]

    network.loss_and_grads(images, labels)
    for layer in network.trainable:
        for name, w in layer.params.items():
            picks = [tuple(rng.integers(0, s) for s in w.shape) for _ in range(12)]
            # Make sure some picked entries matter: the gradient's largest entry is among them.
            picks.append(np.unravel_index(np.abs(layer.grads[name]).argmax(), w.shape))
            analytic = np.array([layer.grads[name][i] for i in picks])
            numeric = []
            for i in picks:
                old = w[i]
                w[i] = old + 1e-6
                plus = loss()
                w[i] = old - 1e-6
                minus = loss()
                w[i] = old
                numeric.append((plus - minus) / 2e-6)
            assert relative_error(analytic, np.array(numeric)) < 1e-6, (layer.name, name)


def test_folding_the_standardization_keeps_the_function():
    rng = np.random.default_rng(8)
    network = build_network("seed000_numpy", seed=8, dtype=np.float64, standardize=True)
    network.layers[1].params["bias"] = rng.normal(size=28)
    images = rng.random((4, 28, 28))
    before = network.predict_proba(images)
    folded = fold_standardize(network)
    assert not any(isinstance(layer, Standardize) for layer in folded.layers)
    np.testing.assert_allclose(folded.predict_proba(images), before, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- Keras equivalence


def shipped_or_fresh(arch: str):
    """The shipped weights when present (what the app serves), else a fresh network."""
    path = MODEL_DIR / arch / "weights.npz"
    return load_network(path) if path.is_file() else build_network(arch, seed=11)


@pytest.mark.mnist
@pytest.mark.parametrize("arch", ARCHS)
def test_same_weights_give_keras_probabilities(arch, digits):
    network = shipped_or_fresh(arch)
    keras_model = to_keras(network)
    images = digits.test.images[:1000].astype(np.float32) / 255
    ours = network.predict_proba(images)
    theirs = keras_model.predict_on_batch(images[..., None])
    assert ours.shape == theirs.shape == (1000, 10)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    # And back: Keras weights into a fresh scratch network reproduce ours exactly.
    back = from_keras(keras_model, arch)
    for a, b in zip(back.get_weights(), network.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.mnist
@pytest.mark.parametrize("arch", ARCHS)
def test_shipped_weights_score_their_card(arch, digits):
    folder = MODEL_DIR / arch
    if not (folder / "weights.npz").is_file():
        pytest.skip(f"{folder} not trained yet: python -m model.train --arch {arch}")
    card = json.loads((folder / "card.json").read_text())
    network = load_network(folder / "weights.npz")
    probabilities = network.predict_proba(digits.test.images.astype(np.float32) / 255)
    accuracy = float((probabilities.argmax(axis=1) == digits.test.labels).mean())
    assert accuracy == pytest.approx(card["test_accuracy"], abs=1e-4)
    assert accuracy > card["published_accuracy"]


# --------------------------------------------------------------------------- formulas


def test_schedule_is_lr0_times_alpha_to_the_floor_of_t_over_T():
    schedule = ExponentialSchedule(0.5, alpha=0.5, every=500)
    for t in (0, 1, 499, 500, 501, 999, 1000, 1499, 1500, 6874):
        assert schedule(t) == pytest.approx(0.5 * 0.5 ** (t // 500), rel=1e-15)
    assert [schedule(t) for t in (0, 499, 500, 1000)] == [0.5, 0.5, 0.25, 0.125]


def test_sgd_step_with_weight_decay_and_momentum():
    rng = np.random.default_rng(9)
    layer = Dense("dense", 3, 2, rng=rng, dtype=np.float64)
    w0, b0 = layer.params["kernel"].copy(), rng.normal(size=2)
    layer.params["bias"] = b0.copy()
    g1, gb1 = rng.normal(size=(3, 2)), rng.normal(size=2)
    g2, gb2 = rng.normal(size=(3, 2)), rng.normal(size=2)
    lr, wd, m = 0.1, 0.01, 0.9
    sgd = SGD(ExponentialSchedule(lr), momentum=m, weight_decay=wd)

    layer.grads = {"kernel": g1, "bias": gb1}
    sgd.step([layer])
    v1 = -lr * (g1 + wd * w0)  # decay on the kernel ...
    np.testing.assert_allclose(layer.params["kernel"], w0 + v1, rtol=1e-14)
    np.testing.assert_allclose(layer.params["bias"], b0 - lr * gb1, rtol=1e-14)  # ... not on the bias

    w1 = w0 + v1
    layer.grads = {"kernel": g2, "bias": gb2}
    sgd.step([layer])
    v2 = m * v1 - lr * (g2 + wd * w1)
    np.testing.assert_allclose(layer.params["kernel"], w1 + v2, rtol=1e-14)
    assert sgd.step_count == 2


def test_plain_sgd_weight_decay_shrinks_weights_by_lr_times_decay():
    # With a zero gradient, each step multiplies every kernel weight by (1 - lr * wd).
    rng = np.random.default_rng(10)
    layer = Dense("dense", 4, 4, rng=rng, dtype=np.float64)
    w0 = layer.params["kernel"].copy()
    layer.grads = {"kernel": np.zeros((4, 4)), "bias": np.zeros(4)}
    sgd = SGD(ExponentialSchedule(0.5), weight_decay=1e-2)
    for _ in range(3):
        sgd.step([layer])
    np.testing.assert_allclose(layer.params["kernel"], w0 * (1 - 0.5 * 1e-2) ** 3, rtol=1e-14)


def test_batches_cover_every_example_once_in_a_seeded_order():
    first = list(batches(10, 4, np.random.default_rng(0)))
    again = list(batches(10, 4, np.random.default_rng(0)))
    other = list(batches(10, 4, np.random.default_rng(1)))
    assert [len(b) for b in first] == [4, 4, 2]
    assert sorted(np.concatenate(first).tolist()) == list(range(10))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


# --------------------------------------------------------------------------- training


@pytest.mark.mnist
@pytest.mark.parametrize("arch", ARCHS)
def test_short_training_run_lowers_the_loss(arch, digits):
    from model.data.mnist import Split

    train = Split(digits.train.images[:384], digits.train.labels[:384])
    val = Split(digits.train.images[384:640], digits.train.labels[384:640])
    kwargs = {"standardize": True} if arch == "seed000_numpy" else {"hidden": 64}
    network = build_network(arch, seed=0, **kwargs)
    optimizer = SGD(ExponentialSchedule(0.05 if arch == "seed000_numpy" else 0.2), momentum=0.9)
    from model.scratch import evaluate

    loss_before, _ = evaluate(network, train)
    history, best_epoch = fit(network, optimizer, train, val, epochs=3, batch_size=64, seed=0)
    loss_after, _ = evaluate(network, train)
    assert optimizer.step_count == 18
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert np.isfinite(loss_after) and loss_after < 0.7 * loss_before, (loss_before, loss_after)
    # fit hands back the best validation epoch's weights, not the last epoch's.
    assert evaluate(network, val)[0] == pytest.approx(history[best_epoch - 1]["val_loss"], rel=1e-6)


def test_save_and_load_round_trip(tmp_path):
    network = build_network("seed003_numpy", seed=3, hidden=32)
    network.save(tmp_path)
    loaded = load_network(tmp_path / "weights.npz")
    assert loaded.arch == "seed003_numpy" and loaded.config == {"hidden": 32}
    images = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(images), network.predict_proba(images))
    assert loaded.predict_proba(images).dtype == np.float32


def test_load_network_rejects_a_file_of_the_wrong_shapes(tmp_path):
    network = build_network("seed003_numpy", seed=3, hidden=32)
    network.save(tmp_path)
    with np.load(tmp_path / "weights.npz") as npz:
        arrays = dict(npz)
    arrays["logits.kernel"] = np.zeros((31, 10), np.float32)
    np.savez(tmp_path / "weights.npz", **arrays)
    with pytest.raises(ValueError, match="logits.kernel"):
        load_network(tmp_path / "weights.npz")


# --------------------------------------------------------------------------- search results


def test_search_results_reader(tmp_path):
    from model.serving.artifacts import ArtifactError
    from model.training.search import load_search_results

    with pytest.raises(ArtifactError, match="python -m model.training.search") as missing:
        load_search_results(tmp_path)
    assert "missing" in str(missing.value)

    path = tmp_path / "search" / "results.json"
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_search_results(tmp_path)

    row = {"learning_rate": 0.5, "hidden": 1024, "weight_decay": 1e-5}
    row.update({"val_accuracy": 0.9, "val_loss": 0.3, "seconds": 1.0})
    path.write_text(json.dumps({"arch": "seed003_numpy", "rows": [row], "best": row}))
    assert load_search_results(tmp_path)["best"] == row
    path.write_text(json.dumps({"arch": "seed003_numpy", "rows": [{"hidden": 1}], "best": row}))
    with pytest.raises(ArtifactError, match="rows"):
        load_search_results(tmp_path)


def test_shipped_search_results_are_readable():
    from model.training.search import GRID, load_search_results

    if not (MODEL_DIR / "search" / "results.json").is_file():
        pytest.skip("no search run yet: python -m model.training.search")
    results = load_search_results()
    assert len(results["rows"]) == np.prod([len(v) for v in GRID.values()])
    assert results["best"]["val_accuracy"] == max(r["val_accuracy"] for r in results["rows"])
