"""GAN training in the engine (genai_roadmap.train.gan): each update does what it should, the gradient penalty
matches a hand computation, spectral norm bounds the weights, and a crashed GAN fit resumes exactly."""

import math

import pytest
import torch
from engine_fixtures import make_ctx
from torch import nn

from genai_roadmap.data.batches import TensorBatches
from genai_roadmap.nn.gan import DCDiscriminator, DCGenerator, MLPDiscriminator, MLPGenerator
from genai_roadmap.runs import seed_everything
from genai_roadmap.train import Trainer
from genai_roadmap.train.gan import (
    GAN,
    GANLoss,
    GeneratorEMA,
    discriminator_loss,
    gan_step,
    generate,
    gradient_penalty,
    renderer,
    spectral_norm,
    to_uint8,
)
from genai_roadmap.viz.generative import SampleGrids


def _tiny_gan(seed=0):
    torch.manual_seed(seed)
    return GAN(MLPGenerator(4, [16], (1, 2, 2)), MLPDiscriminator(4, [16], dropout=0.0), z_dim=4)


def _real(n=256, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (0.5 + 0.1 * torch.randn(n, 1, 2, 2, generator=g)).clamp(-1, 1)


def _trainer(gan, lr_d=0.05, lr_g=0.05, **kw):
    opts = {"d": torch.optim.SGD(gan.discriminator.parameters(), lr=lr_d),
            "g": torch.optim.SGD(gan.generator.parameters(), lr=lr_g)}
    return Trainer(gan, opts, kw.pop("ctx", None), manual=True, progress=False, **kw)


def _d_loss(gan, real, z, loss=GANLoss()):
    with torch.no_grad():
        return float(discriminator_loss(gan.discriminator(real), gan.discriminator(gan.generator(z)), loss))


def _g_loss(gan, z):
    with torch.no_grad():
        return float(nn.functional.softplus(-gan.discriminator(gan.generator(z))).mean())


def test_a_discriminator_step_lowers_its_loss_and_leaves_the_generator_alone():
    gan = _tiny_gan()
    trainer = _trainer(gan, epochs=1)
    real = _real(64)
    step = gan_step(GANLoss("ns", n_critic=1000))  # D updates only
    torch.manual_seed(5)
    z = gan.noise(64)
    before, g_before = _d_loss(gan, real, z), [p.detach().clone() for p in gan.generator.parameters()]
    torch.manual_seed(5)  # the step draws the same z
    out = step(gan, (real,), trainer)
    assert math.isclose(float(out["d_loss"]), before, rel_tol=1e-6) and "g_loss" not in out
    assert _d_loss(gan, real, z) < before - 1e-4
    assert all(torch.equal(a, b) for a, b in zip(g_before, gan.generator.parameters(), strict=True))
    assert trainer.updates == {"d": 1, "g": 0}


def test_the_generator_step_improves_g_and_leaves_the_discriminator_unchanged():
    gan = _tiny_gan()
    trainer = _trainer(gan, lr_d=0.0, epochs=1)  # D's own update is a no-op: any change of D is a leak
    d_before = [p.detach().clone() for p in gan.discriminator.parameters()]
    torch.manual_seed(7)
    z = gan.noise(64)
    g_before = _g_loss(gan, z)
    torch.manual_seed(7)
    out = gan_step(GANLoss("ns"))(gan, (_real(64),), trainer)
    assert math.isclose(float(out["g_loss"]), g_before, rel_tol=1e-6)
    assert _g_loss(gan, z) < g_before - 1e-4
    assert all(torch.equal(a, b) for a, b in zip(d_before, gan.discriminator.parameters(), strict=True))
    assert all(p.grad is None for p in gan.parameters())  # optimizer_step zeroed everything afterwards


def test_one_sided_label_smoothing_changes_only_the_real_target():
    d_real, d_fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    s = 0.1
    sp = nn.functional.softplus
    by_hand = ((1 - s) * sp(-d_real) + s * sp(d_real)).mean() + sp(d_fake).mean()
    assert torch.allclose(discriminator_loss(d_real, d_fake, GANLoss(label_smoothing=s)), by_hand)
    assert torch.allclose(discriminator_loss(d_real, d_fake, GANLoss()), sp(-d_real).mean() + sp(d_fake).mean())


def test_gradient_penalty_matches_a_hand_computation():
    # A linear critic D(x) = w·x + b has gradient w everywhere: the penalty is (|w| - 1)^2 whatever the points,
    # and its gradient with respect to w is 2 (|w| - 1) w / |w| (the penalty must train the critic).
    critic = nn.Sequential(nn.Flatten(), nn.Linear(3, 1))
    with torch.no_grad():
        critic[1].weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))
    real, fake = torch.randn(5, 3), torch.randn(5, 3)
    gp = gradient_penalty(critic, real, fake)
    assert math.isclose(gp.item(), (5.0 - 1.0) ** 2, rel_tol=1e-6)
    gp.backward()
    w = torch.tensor([[3.0, 0.0, 4.0]])
    assert torch.allclose(critic[1].weight.grad, 2 * (5.0 - 1.0) * w / 5.0)
    # A quadratic critic D(x) = |x|^2 / 2 has gradient x: the penalty at the interpolates, computed by hand.
    class Half(nn.Module):
        def forward(self, x):
            return 0.5 * x.pow(2).flatten(1).sum(1)

    real, fake, eps = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[3.0, 0.0], [0.6, 0.8]]), torch.tensor([
        0.5, 0.0])
    x_hat = torch.tensor([[2.0, 1.0], [0.6, 0.8]])  # 0.5·real + 0.5·fake; the fake itself
    expected = ((x_hat.norm(dim=1) - 1) ** 2).mean()  # ((√5 - 1)² + 0) / 2
    assert torch.allclose(gradient_penalty(Half(), real, fake, eps), expected)
    assert math.isclose(float(expected), (math.sqrt(5) - 1) ** 2 / 2, rel_tol=1e-6)


def test_wgan_gp_counts_n_critic_updates_and_reports_the_penalty():
    gan = _tiny_gan()
    trainer = _trainer(gan, epochs=2, step=gan_step(GANLoss()))
    trainer.fit(TensorBatches(_real(320), batch_size=16, shuffle=True))
    assert trainer.updates == {"d": 40, "g": 40}  # ns default: one G step per D step
    gan = _tiny_gan()
    trainer = Trainer(gan, {"d": torch.optim.Adam(gan.discriminator.parameters(), 1e-3),
                            "g": torch.optim.Adam(gan.generator.parameters(), 1e-3)}, None, manual=True,
                      progress=False, epochs=2, step=gan_step(GANLoss("wgan-gp", n_critic=5)))
    history = trainer.fit(TensorBatches(_real(320), batch_size=16, shuffle=True))
    assert trainer.updates == {"d": 40, "g": 8}
    assert {"train_gp", "train_wasserstein", "train_g_loss"} <= set(history[-1])


def test_spectral_norm_scales_every_layer_to_unit_spectral_norm():
    torch.manual_seed(0)
    d = spectral_norm(DCDiscriminator(width=8, norm="none"))
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(hasattr(m, "parametrizations") for m in convs)
    d.train()
    for _ in range(20):  # power iteration: one step per training forward
        d(torch.randn(2, 3, 32, 32))
    for m in convs:
        sigma = torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2)
        assert abs(float(sigma) - 1.0) < 1e-3


def test_dcgan_shapes_and_range():
    torch.manual_seed(0)
    g, d = DCGenerator(z_dim=16, width=8), DCDiscriminator(width=8)
    x = generate(g, torch.randn(5, 16))
    assert x.shape == (5, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (5,)
    pics = to_uint8(x)
    assert pics.shape == (5, 32, 32, 3) and pics.dtype.name == "uint8"
    edges = to_uint8(torch.tensor([-1.5, -1.0, 0.0, 0.999, 1.0]).view(1, 1, 1, 5))
    assert edges.tolist() == [[[0, 0, 128, 255, 255]]]  # [-1, 1] -> 0..255, clipped outside


def _fit_gan(path, resume=False, crash_at=None):
    seed_everything(0)
    gan = _tiny_gan()
    gan.generator.net.insert(1, nn.BatchNorm1d(16))  # running statistics must resume too
    ema = GeneratorEMA(0.9)
    grid = SampleGrids(path / "samples", gan.fixed_noise(8, seed=3), renderer(ema), name="fixed", ncols=4)
    opts = {"d": torch.optim.Adam(gan.discriminator.parameters(), 2e-3, betas=(0.5, 0.999)),
            "g": torch.optim.Adam(gan.generator.parameters(), 2e-3, betas=(0.5, 0.999))}
    inner = gan_step(GANLoss("ns", label_smoothing=0.1))

    def step(model, batch, trainer):
        if crash_at is not None and trainer.step == crash_at:
            raise KeyboardInterrupt("killed")
        return inner(model, batch, trainer)

    trainer = Trainer(gan, opts, make_ctx(path, resume), epochs=3, manual=True, step=step, checkpoint_every=4,
                      callbacks=[ema, grid])
    history = trainer.fit(TensorBatches(_real(160), batch_size=16, shuffle=True, drop_last=True, seed=0))
    return trainer, history, ema, grid


def _strip(history):
    return [{k: v for k, v in h.items() if k not in ("epoch_time_s", "train_time_s", "peak_mem_mb")}
            for h in history]


def test_a_crashed_gan_fit_resumes_to_the_same_weights_ema_and_frames(tmp_path):
    straight, history, ema, grid = _fit_gan(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        _fit_gan(tmp_path / "b", crash_at=17)  # mid-epoch 2; the last checkpoint is at step 16
    resumed, history2, ema2, grid2 = _fit_gan(tmp_path / "b", resume=True)
    assert resumed.updates == straight.updates == {"d": 30, "g": 30}
    assert _strip(history2) == _strip(history)
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert all(torch.equal(ema.shadow[k], ema2.shadow[k]) for k in ema.shadow)
    assert grid2.epochs == grid.epochs == [1, 2, 3]
    frames = sorted(p.name for p in (tmp_path / "a" / "samples").glob("*.png"))
    assert frames == ["fixed-epoch001.png", "fixed-epoch002.png", "fixed-epoch003.png"]
    for name in [*frames, "fixed.gif"]:  # the resumed run drew the same EMA samples of the same noise
        assert (tmp_path / "a" / "samples" / name).read_bytes() == (tmp_path / "b" / "samples" / name).read_bytes()


def test_ema_averages_only_the_generator_and_sampling_uses_it():
    gan = _tiny_gan()
    ema = GeneratorEMA(0.5, warmup=False)
    trainer = _trainer(gan, epochs=1, callbacks=[ema], step=gan_step(GANLoss()))
    trainer.fit(TensorBatches(_real(64), batch_size=16))
    assert set(ema.shadow) == {n for n, _ in gan.generator.named_parameters()}  # no BN: weights only
    z = torch.randn(4, 4)
    plain = generate(gan.generator, z)
    with ema.applied(gan):
        averaged = generate(gan.generator, z)
    assert not torch.allclose(plain, averaged)
    assert torch.equal(generate(gan.generator, z), plain)  # the trained weights are back


def test_ema_averages_batch_norm_statistics_with_the_weights():
    """A generator with batch norm samples with averaged weights AND averaged running statistics: the raw
    generator's last statistics belong to other weights."""
    gan = _tiny_gan()
    gan.generator.net.insert(1, nn.BatchNorm1d(16))
    ema = GeneratorEMA(0.5, warmup=False)
    trainer = _trainer(gan, epochs=1, callbacks=[ema], step=gan_step(GANLoss()))
    trainer.fit(TensorBatches(_real(64), batch_size=16))
    bn = gan.generator.net[1]
    assert {"net.1.running_mean", "net.1.running_var"} <= set(ema.shadow)
    assert "net.1.num_batches_tracked" not in ema.shadow, "an integer counter is not averaged"
    trained_mean = bn.running_mean.clone()
    assert not torch.allclose(ema.shadow["net.1.running_mean"], trained_mean)
    with ema.applied(gan):
        assert torch.equal(bn.running_mean, ema.shadow["net.1.running_mean"])
    assert torch.equal(bn.running_mean, trained_mean), "the trained statistics are back"
