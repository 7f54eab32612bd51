"""The graph-safe training step: counter-based noise (settings.noise="counter", Philox4x32-10 exactly, each model's
numbers its own, the standard distributions) and fused Adam leave no host work in a step; batched and resumed runs
stay exact."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from ignite.engine import Events
from scipy import stats
from torch.utils._python_dispatch import TorchDispatchMode

from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.engines.scale_trainer import ScaleTrainer
from monai_singanseg.layout import ChannelLayout
from monai_singanseg.networks import SinGANDiscriminator, SinGANGenerator
from monai_singanseg.utils.noise import CounterNoise, GeneratorNoise
from monai_singanseg.utils.philox import philox4x32


# Known-answer vectors of Random123 (Salmon et al.), the library that defines Philox4x32-10.
@pytest.mark.parametrize("counter, key, expected", [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
])
def test_philox_matches_the_known_answers(counter, key, expected):
    assert philox4x32(torch.tensor(counter), torch.tensor(key)).tolist() == expected


def test_each_model_draws_the_same_numbers_alone_as_in_a_batch():
    together, alone = CounterNoise([3, 7, 11], "cpu"), CounterNoise([7], "cpu")
    for single_channel in (True, False, False):
        batch = together.normal(4, (5, 6), single_channel)
        assert batch.shape == (1, 12, 5, 6)
        torch.testing.assert_close(batch[:, 4:8], alone.normal(4, (5, 6), single_channel), rtol=0, atol=0)
        torch.testing.assert_close(together.uniform()[1:2], alone.uniform(), rtol=0, atol=0)
    assert not torch.equal(batch[:, :4], batch[:, 4:8]), "two seeds gave the same noise"


def test_single_channel_noise_is_one_map_repeated():
    z = CounterNoise([0, 1], "cpu").normal(3, (4, 4, 4), single_channel=True)
    assert z.shape == (1, 6, 4, 4, 4)
    assert torch.equal(z[:, 0], z[:, 2]) and torch.equal(z[:, 3], z[:, 5]) and not torch.equal(z[:, 0], z[:, 3])


def test_draws_are_standard_normal_and_uniform_and_uncorrelated():
    noise = CounterNoise([0, 1], "cpu")
    first, second = noise.normal(1, (100, 100)), noise.normal(1, (100, 100))
    for sample in (first[0, 0], first[0, 1], second[0, 0]):
        assert stats.kstest(sample.flatten().numpy(), "norm").pvalue > 1e-3
    uniforms = torch.cat([noise.uniform() for _ in range(2000)]).numpy()
    assert stats.kstest(uniforms, "uniform").pvalue > 1e-3
    # The check rejects numbers that are not standard normal: the uniforms, or normals off by a tenth in scale.
    assert stats.kstest(uniforms, "norm").pvalue < 1e-6
    assert stats.kstest(1.1 * first[0, 0].flatten().numpy(), "norm").pvalue < 1e-3
    for a, b in ((first[0, 0], first[0, 1]), (first[0, 0], second[0, 0]), (first[0, 0, :, :-1], first[0, 0, :, 1:])):
        assert abs(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1]) < 0.04


class _HostWork(TorchDispatchMode):
    """Records the operators that read a device value on the host or draw from a torch generator."""

    HOST_READS = frozenset({"_local_scalar_dense", "is_nonzero", "item", "equal"})

    def __init__(self):
        super().__init__()
        self.host_reads, self.random_ops, self.shapes = [], [], []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in self.HOST_READS:
            self.host_reads.append(name)
        if any(word in name for word in ("rand", "normal", "uniform", "bernoulli")):
            self.random_ops.append(name)
        out = func(*args, **(kwargs or {}))
        self.shapes.append((name, tuple(out.shape) if isinstance(out, torch.Tensor) else None))
        return out


def _scale_trainer(noise, settings):
    real = torch.rand(1, 4, 20, 20) * 2 - 1
    networks = [cls(2, 4, 8, settings.num_layers, settings.kernel_size, 1) for cls in (SinGANGenerator, SinGANDiscriminator)]
    return ScaleTrainer(1, real, *networks, settings, noise, sample_coarser=lambda: noise.normal(4, (20, 20)) * 0.1,
                        coarser_reconstruction=torch.zeros_like(real))


@pytest.mark.parametrize("kind", ["counter", "generator"])
def test_a_graph_safe_step_does_no_host_work_and_keeps_its_shapes(tiny_settings, kind):
    # Counter noise and fused Adam: what a CUDA graph needs of a step. The generators' noise is the contrast.
    settings = dataclasses.replace(tiny_settings, critic_steps=2, noise=kind, fused_adam=kind == "counter")
    noise = CounterNoise([5], "cpu") if kind == "counter" else GeneratorNoise([torch.Generator().manual_seed(5)], "cpu")
    trainer = _scale_trainer(noise, settings)
    trainer.step()  # the first step builds Adam's state
    steps = []
    for _ in range(2):
        with _HostWork() as record:
            trainer.step()
        steps.append(record)
    if kind == "generator":  # the recorder sees what makes a step host-bound: the generators' draws
        assert steps[0].random_ops
        return
    assert steps[0].host_reads == [] and steps[0].random_ops == []
    assert steps[0].shapes == steps[1].shapes, "the step's shapes changed between iterations"
    # The learning-rate decay reaches the fused optimiser through its tensor learning rate.
    for _ in range(settings.lr_decay_iteration_of(settings.iterations) - 3):
        trainer.step()
    lr = trainer.optimizer_d.param_groups[0]["lr"]
    assert isinstance(lr, torch.Tensor) and float(lr) == pytest.approx(settings.lr_critic * settings.lr_decay)


def _stacks():
    pairs = [endoscopy_phantom(28, 32, seed=s) for s in (1, 2)]
    layouts = [ChannelLayout.from_data(*pair) for pair in pairs]
    return [layout.encode(*pair) for layout, pair in zip(layouts, pairs)], layouts


def test_models_trained_together_with_counter_noise_equal_the_models_trained_alone(tiny_settings):
    settings = dataclasses.replace(tiny_settings, noise="counter", fused_adam=True, concurrent_scales=2)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # GAN training amplifies rounding; in float64 the paths agree closely
    try:
        stacks, layouts = _stacks()
        together = SinGANSegTrainer(stacks, layouts, settings, [10, 20]).run()
        alone = SinGANSegTrainer(stacks[1], layouts[1], dataclasses.replace(settings, seed=20)).run()
        generator_noise = SinGANSegTrainer(stacks[1], layouts[1], dataclasses.replace(settings, seed=20, noise="generator")).run()
    finally:
        torch.set_default_dtype(previous)
    torch.testing.assert_close(together[1].noise_amplitudes, alone.noise_amplitudes, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(together[1].reconstruct(), alone.reconstruct(), rtol=1e-6, atol=1e-8)
    assert not torch.allclose(alone.reconstruct(), generator_noise.reconstruct()), "the setting changed nothing"


def test_counter_noise_training_resumes_bit_exactly(tiny_settings, tmp_path):
    from monai_singanseg.handlers import PyramidCheckpoint

    settings = dataclasses.replace(tiny_settings, noise="counter")
    stacks, layouts = _stacks()
    whole = SinGANSegTrainer(stacks[0], layouts[0], settings).run()
    first = SinGANSegTrainer(stacks[0], layouts[0], settings)
    PyramidCheckpoint(first, tmp_path / "run.pt").attach(first.engine)
    first.engine.add_event_handler(Events.EPOCH_COMPLETED(once=2), lambda engine: engine.terminate())
    first.run()
    second = SinGANSegTrainer(stacks[0], layouts[0], settings)
    assert PyramidCheckpoint(second, tmp_path / "run.pt").resume() == 2
    assert int(second.noise.offset) == int(first.noise.offset) > 0
    resumed = second.run()
    for a, b in zip(whole.generators, resumed.generators):
        for name, tensor in a.state_dict().items():
            torch.testing.assert_close(tensor, b.state_dict()[name], rtol=0, atol=0, msg=name)


def test_an_unknown_noise_source_is_refused_by_name():
    from monai_singanseg.settings import SinGANSegSettings
    from monai_singanseg.utils.noise import noise_source

    with pytest.raises(ValueError, match="noise must be one of generator, counter"):
        SinGANSegSettings(noise="philox")
    with pytest.raises(ValueError, match="noise must be one of"):
        noise_source("philox", [], [], torch.device("cpu"))
