"""SinGAN-Seg for MONAI: a GAN pyramid trained on one image and its label map, sampled for synthetic pairs.

Thambawita et al., "SinGAN-Seg: Synthetic training data generation for medical image segmentation",
PLoS ONE 17(5), 2022; Shaham, Dekel and Michaeli, "SinGAN", ICCV 2019.
"""

__version__ = "0.1.0"

from monai_singanseg.networks import (  # noqa: E402
    SinGANCritic,
    SinGANDiscriminator,
    SinGANGenerator,
    SinGANSeg,
)
from monai_singanseg.settings import SinGANSegSettings  # noqa: E402
from monai_singanseg.layout import ChannelLayout, LabelEncoding  # noqa: E402

__all__ = ["ChannelLayout", "LabelEncoding", "SinGANCritic", "SinGANDiscriminator", "SinGANGenerator", "SinGANSeg",
           "SinGANSegSettings", "__version__"]
