"""Beyond the book's plain VAE: the evaluation chapter's best model and its objective.

Built on the teaching core (`vae_tutorial.model`, `vae_tutorial.elbo`), never the other
way round:
    flows        MADE, an inverse autoregressive flow (posterior), a masked autoregressive
                 flow (learned prior)
    model        AdvancedVAEConfig, AdvancedVAE: residual stages and the two flows
    objectives   IWAEObjective: training on the importance-weighted bound

The plain `VAE` of chapters 3-7 needs none of this.
"""

from __future__ import annotations

from .model import AdvancedVAE, AdvancedVAEConfig
from .objectives import IWAEObjective

__all__ = ["AdvancedVAE", "AdvancedVAEConfig", "IWAEObjective"]
