"""Networks of SinGAN-Seg: ``nn.Module`` s only."""

from monai_singanseg.networks.critic import SinGANCritic, SinGANDiscriminator
from monai_singanseg.networks.generator import SinGANGenerator
from monai_singanseg.networks.inception_sifid import InceptionSIFIDFeatures
from monai_singanseg.networks.lpips import LPIPSAlexNet
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.networks.vgg import VGG19Features

__all__ = [
    "InceptionSIFIDFeatures",
    "LPIPSAlexNet",
    "SinGANCritic",
    "SinGANDiscriminator",
    "SinGANGenerator",
    "SinGANSeg",
    "VGG19Features",
]
