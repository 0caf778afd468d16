"""Small helpers to drive pykan 0.2.8 (the KAN 2.0 reference implementation) from benchmarks.

pykan is an optional benchmark dependency (``pip install --no-deps pykan==0.2.8`` plus pyyaml); it is
never imported by kandisco itself.  Quirks handled here:

* ``KAN(..., auto_save=True)`` (the default) writes a checkpoint to ``./model`` on construction and on
  every ``fit``/prune; we pass ``auto_save=False``.
* pykan builds every tensor in torch's *default* dtype (it has no ``dtype`` argument), so float64 runs
  need ``torch.set_default_dtype(torch.float64)`` before construction.  :func:`make_pykan` does that.
* ``KAN`` mutates the ``width`` list it is given (``[4, 5, 1]`` -> ``[[4, 0], [5, 0], [1, 0]]``), so a
  deep copy is passed.
* ``fit`` needs a dict with ``train_input/train_label/test_input/test_label`` and evaluates the whole
  test set after every LBFGS step; it always shows a tqdm bar (silence it with ``TQDM_DISABLE=1``).
* ``model.speed()`` switches off the symbolic branch and activation caching (``save_act``).
"""

from __future__ import annotations

import copy

import torch

PYKAN_VERSION_EXPECTED = "0.2.8"


def pykan_version() -> str:
    try:
        from importlib.metadata import version

        return version("pykan")
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


def make_pykan(width, grid: int, k: int, seed: int, dtype: torch.dtype, speed: bool = False):
    """A pykan ``KAN`` in ``dtype`` (via the default dtype), without checkpointing; ``speed()`` if asked."""
    from kan import KAN  # pykan

    torch.set_default_dtype(dtype)
    model = KAN(width=copy.deepcopy(width), grid=grid, k=k, seed=seed, auto_save=False, device="cpu")
    if speed:
        model = model.speed()
    return model


def pykan_dataset(x_train, y_train, x_test, y_test) -> dict:
    return {"train_input": x_train, "train_label": y_train, "test_input": x_test, "test_label": y_test}


def pykan_fit(model, x_train, y_train, x_test, y_test, steps: int):
    """pykan's own ``fit``: LBFGS, no grid updates, no regularisation (lamb=0)."""
    data = pykan_dataset(x_train, y_train, x_test, y_test)
    res = model.fit(data, opt="LBFGS", steps=steps, update_grid=False, lamb=0.0)
    return float(res["train_loss"][-1]) ** 2  # pykan logs RMSE; return MSE
