"""save/load: exact round trip, and clear errors for files that are not (or no longer) models."""

import pickle

import pytest
import torch

from kandisco.kan import KAN, KANFileError
from kandisco.kan.network import FORMAT_NAME


def _trained(tmp_path):
    g = torch.Generator().manual_seed(0)
    X = torch.rand(400, 3, generator=g, dtype=torch.float64) * 10 + 5
    y = X[:, :1] * X[:, 1:2] + torch.sin(X[:, 2:])
    model = KAN([3, [2, 1], 1], grid=5, seed=3)
    model.fit(X, y, steps=5, verbose=False)
    model.refine(8, X)
    model.prune(X, edge_threshold=0.05)
    return model, X


def test_save_load_round_trip_is_exact(tmp_path):
    model, X = _trained(tmp_path)
    path = model.save(tmp_path / "sub" / "model.kan")
    loaded = KAN.load(path)
    assert loaded.config() == model.config()
    assert torch.equal(loaded(X), model(X))
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    assert [layer.grid_size for layer in loaded.layers] == [8, 8]
    assert bool(loaded.grids_initialized)


def test_missing_file(tmp_path):
    with pytest.raises(KANFileError, match="no such model file"):
        KAN.load(tmp_path / "nope.kan")


def test_corrupt_file_names_the_file(tmp_path):
    model, _ = _trained(tmp_path)
    path = model.save(tmp_path / "m.kan")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(KANFileError, match="m.kan"):
        KAN.load(path)


def test_not_a_model_and_code_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("open(%r, 'w').write('pwned')" % str(tmp_path / "pwned"),))

    path = tmp_path / "evil.kan"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(KANFileError, match="evil.kan"):
        KAN.load(path)
    assert not (tmp_path / "pwned").exists()
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(KANFileError, match="not a kandisco model file"):
        KAN.load(other)


def test_incompatible_version_and_config(tmp_path):
    model, _ = _trained(tmp_path)
    payload = torch.load(model.save(tmp_path / "m.kan"), weights_only=True)
    payload["version"] = 99
    torch.save(payload, tmp_path / "v99.kan")
    with pytest.raises(KANFileError, match="version 99"):
        KAN.load(tmp_path / "v99.kan")
    payload["version"] = 1
    payload["config"] = payload["config"].replace('"k": 3', '"k": 2')
    torch.save(payload, tmp_path / "k2.kan")
    with pytest.raises(KANFileError, match="does not match"):
        KAN.load(tmp_path / "k2.kan")
    assert payload["format"] == FORMAT_NAME
