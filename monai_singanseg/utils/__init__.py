"""Pure maths: pyramid shapes, resizing, seed rules (``ChannelLayout`` is re-exported from :mod:`monai_singanseg.layout`)."""

from monai_singanseg.layout import ChannelLayout, LabelEncoding
from monai_singanseg.utils.pyramid import PyramidSpec, compute_pyramid, features_at_scale, upsampled_shape
from monai_singanseg.utils.resize import resize, upsample_to_scale

__all__ = ["ChannelLayout", "LabelEncoding", "PyramidSpec", "compute_pyramid", "features_at_scale", "resize",
           "upsample_to_scale", "upsampled_shape"]
