"""A trained tiny policy on disk: `<name>.safetensors` (weights) + `<name>.json` (config,
vocabulary, state normalisation, how it was trained). The packaged ones live in weights/."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_wamrobust.core.model.errors import MissingAssetError
from pytest_wamrobust.policies.tiny.vocab import Vocabulary

if TYPE_CHECKING:  # torch loads with the weights, not where a session only names the policy
    from pytest_wamrobust.policies.tiny.model import ModelConfig


@dataclass
class Checkpoint:
    config: ModelConfig
    vocab: Vocabulary
    state_mean: np.ndarray
    state_std: np.ndarray
    weights: dict[str, Any]  # name -> torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: Path, name: str) -> Path:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.weights.items()},
                  folder / f"{name}.safetensors")
        meta = {"config": self.config.to_dict(), "vocabulary": self.vocab.tokens,
                "state_mean": self.state_mean.tolist(), "state_std": self.state_std.tolist(),
                "info": self.info}
        path = folder / f"{name}.json"
        path.write_text(json.dumps(meta, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, folder: Path, name: str) -> Checkpoint:
        from safetensors.torch import load_file

        meta_path, weights_path = folder / f"{name}.json", folder / f"{name}.safetensors"
        for path in (meta_path, weights_path):
            if not path.is_file():
                raise MissingAssetError(f"{name}: no {path}; train it with "
                                        f"`wamrobust train {name}` or reinstall pytest-wamrobust")
        from pytest_wamrobust.policies.tiny.model import ModelConfig

        meta = json.loads(meta_path.read_text())
        return cls(ModelConfig.from_dict(meta["config"]), Vocabulary(meta["vocabulary"]),
                   np.asarray(meta["state_mean"], np.float32),
                   np.asarray(meta["state_std"], np.float32),
                   load_file(weights_path), meta.get("info", {}))


def packaged_dir() -> Path:
    return Path(str(resources.files(__package__).joinpath("weights")))
