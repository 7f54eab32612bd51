"""Old home of :class:`~monai_singanseg.networks.critic.SinGANCritic`, kept one release for existing imports."""

from __future__ import annotations

from monai_singanseg.networks.critic import SinGANCritic, SinGANDiscriminator

__all__ = ["SinGANCritic", "SinGANDiscriminator"]
