"""Training loops of SinGAN-Seg, built on ignite."""

from monai_singanseg.engines.batched import train_batched
from monai_singanseg.engines.fleet import FleetModel, TrainedModel, launch, train_fleet_batch, train_many
from monai_singanseg.engines.scale_trainer import ScaleResult, ScaleTrainer, noise_amplitude
from monai_singanseg.engines.train import train_singanseg
from monai_singanseg.engines.trainer import SinGANSegTrainer, real_pyramid

__all__ = ["FleetModel", "ScaleResult", "ScaleTrainer", "SinGANSegTrainer", "TrainedModel", "launch",
           "noise_amplitude", "real_pyramid", "train_batched", "train_fleet_batch", "train_many", "train_singanseg"]
