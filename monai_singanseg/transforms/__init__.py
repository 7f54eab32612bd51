"""MONAI transforms: SinGAN-Seg as random augmentation, label quantisation, style transfer.

``transforms.SinGANSeg`` is the deterministic array transform; the network of the same name is
``monai_singanseg.networks.SinGANSeg``.
"""

from monai_singanseg.transforms.singanseg import *  # noqa: F401,F403
from monai_singanseg.transforms.singanseg import __all__ as _singanseg_all
from monai_singanseg.transforms.style import *  # noqa: F401,F403
from monai_singanseg.transforms.style import __all__ as _style_all

__all__ = sorted([*_singanseg_all, *_style_all])
