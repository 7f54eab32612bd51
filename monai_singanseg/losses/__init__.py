"""Losses of SinGAN-Seg training."""

from monai_singanseg.losses.adversarial import critic_wasserstein_loss, generator_wasserstein_loss
from monai_singanseg.losses.gradient_penalty import gradient_penalty
from monai_singanseg.losses.style import content_loss, gram_matrix, style_loss

__all__ = ["content_loss", "critic_wasserstein_loss", "generator_wasserstein_loss", "gradient_penalty", "gram_matrix",
           "style_loss"]
