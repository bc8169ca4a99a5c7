"""Which network a saved configuration describes: the plain `VAE` or the `AdvancedVAE`.

Holds `config_from_dict` (a config dict from a checkpoint, a shipped model or a TOML
file -> `VAEConfig` or `AdvancedVAEConfig`) and `build_model` (config -> untrained
network). Checkpoints, shipped models and training all go through it, so that a dict
written by any version of the package rebuilds the same network. It does not hold the
networks (`model.py`, `advanced/model.py`) or the loading of weights (`checkpoint.py`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from .advanced.model import AdvancedVAE, AdvancedVAEConfig
from .model import VAE, VAEConfig

PLAIN_FIELDS = frozenset(f.name for f in fields(VAEConfig))
ADVANCED_FIELDS = frozenset(f.name for f in fields(AdvancedVAEConfig))


def config_from_dict(d: dict[str, Any]) -> VAEConfig:
    """`VAEConfig` when `d` describes the plain VAE, else `AdvancedVAEConfig`.

    Older files list the advanced fields at their plain values (res_blocks = flow_steps =
    prior_flow_steps = 0): those are plain VAEs. Unknown keys raise ValueError.
    """
    unknown = sorted(set(d) - ADVANCED_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown model config keys {', '.join(unknown)}; known keys: "
            f"{', '.join(sorted(ADVANCED_FIELDS))}"
        )
    advanced = AdvancedVAEConfig(**d)
    if advanced.is_plain:
        return VAEConfig(**{k: v for k, v in d.items() if k in PLAIN_FIELDS})
    return advanced


def build_model(config: VAEConfig) -> VAE:
    """An untrained network for `config`: `AdvancedVAE` for an `AdvancedVAEConfig`."""
    if isinstance(config, AdvancedVAEConfig):
        return AdvancedVAE(config=config)
    return VAE(config=config)
