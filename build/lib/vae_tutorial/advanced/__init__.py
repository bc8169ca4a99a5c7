"""Beyond the book's plain VAE: the evaluation chapter's best model and its objective.

Built on the teaching core (`vae_tutorial.model`, `vae_tutorial.elbo`): the model, the
bounds and sampling never import it; only the training loop takes `IWAEObjective` for an
IWAE phase, and `vae_tutorial.architectures` builds `AdvancedVAE` from a saved config.

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
