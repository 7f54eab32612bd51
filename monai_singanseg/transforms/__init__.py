"""MONAI transforms: SinGAN-Seg as random augmentation, label quantisation, style transfer.

``SinGANSegSample`` is the deterministic twin of ``RandSinGANSeg`` (its old name ``SinGANSeg`` stays one release;
the network is ``monai_singanseg.networks.SinGANSeg``).
"""

from monai_singanseg.transforms.quantize_label import *  # noqa: F401,F403
from monai_singanseg.transforms.quantize_label import __all__ as _quantize_all
from monai_singanseg.transforms.singanseg import *  # noqa: F401,F403
from monai_singanseg.transforms.singanseg import __all__ as _singanseg_all
from monai_singanseg.transforms.style import *  # noqa: F401,F403
from monai_singanseg.transforms.style import __all__ as _style_all

__all__ = sorted({*_quantize_all, *_singanseg_all, *_style_all})
