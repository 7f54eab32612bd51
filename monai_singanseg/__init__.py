"""SinGAN-Seg for MONAI: a GAN pyramid trained on one image and its label map, sampled for synthetic pairs."""

__version__ = "0.1.0"
