"""How close the MLP models of Phase 4 come to this machine's fp32 matmul peak when they train, by batch size.

    PYTHONPATH=src python benchmarks/mlp_peak_share.py [--batches 64 128 256 512 1024 2048] [--steps 30]
        [--models ae vae gan] [--out FILE]

Models, built by the projects' own code: 4.1.1's MLP autoencoder (784-512-256-30-256-512-784), 4.3.1's VAE
(784-512-512-2x32 / 32-512-512-784) and 4.2.1's GAN (G 100-256-512-1024-784, D 784-512-256-1; one D step on real
and fake and one G step per image batch). One training step = forward, loss, backward, Adam step — what the
engine runs, without its logging. Matmul FLOPs are counted as the projects count them
(nn.autoencoders.mlp_matmul_flops; 4.2.1's gan_flops_per_image); activations, losses and Adam are work too but
are not counted, so the share is "useful matmul work per second / peak". The peak is the best square-matmul
rate (metrics.generative.matmul_peak_gflops) measured before and after each model, in this process: a share is
never taken against a number from another day. Prints one JSON object.

What to expect: at the projects' batch sizes (100-256) the layers are thin (784x512 weights, 100-256 rows), so
each matmul is short and the elementwise work, Adam's update of every weight and Python dispatch take a large
part of the step; the share grows with the batch until the matmuls dominate.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
import torch.nn.functional as F

import genai_roadmap  # noqa: F401  (first: sets the OpenMP policy before torch loads it)


def ae_step(batch_size: int):
    from genai_roadmap.nn.autoencoders import Autoencoder, mlp_matmul_flops

    model = Autoencoder(30, "mlp", (512, 256))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch_size, 1, 28, 28)

    def step():
        loss = F.binary_cross_entropy_with_logits(model(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, mlp_matmul_flops(model)


def vae_step(batch_size: int):
    from genai_roadmap.nn.autoencoders import VAE, mlp_matmul_flops

    model = VAE(32, (512, 512))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = (torch.rand(batch_size, 1, 28, 28) < 0.2).float()

    def step():
        loss = model(x)["neg_elbo"].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, mlp_matmul_flops(model)


def gan_step(batch_size: int):
    from genai_roadmap.nn.gan import MLPDiscriminator, MLPGenerator
    from genai_roadmap.projects.phase4_generative.gan_mnist import Config, gan_flops_per_image
    from genai_roadmap.train.gan import GANLoss, discriminator_loss, generator_loss

    cfg, loss = Config(), GANLoss()
    g = MLPGenerator(cfg.z_dim, cfg.g_hidden, (1, 28, 28))
    d = MLPDiscriminator(784, cfg.d_hidden, cfg.d_dropout)
    opt_g = torch.optim.Adam(g.parameters(), cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), cfg.lr, betas=(cfg.beta1, 0.999))
    real = torch.rand(batch_size, 1, 28, 28) * 2 - 1

    def step():
        fake = g(torch.randn(batch_size, cfg.z_dim))
        d_loss = discriminator_loss(d(real), d(fake.detach()), loss)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = generator_loss(d(fake), loss)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()

    return step, gan_flops_per_image(cfg)


MODELS = {"ae": ("4.1.1 MLP autoencoder, latent 30", ae_step), "vae": ("4.3.1 VAE, latent 32", vae_step),
          "gan": ("4.2.1 MLP GAN (D + G step)", gan_step)}


def measure(build, batch_size: int, steps: int) -> tuple[float, int]:
    """(training images per second, matmul FLOPs per image): the best of three timed blocks of `steps` steps,
    after two warm-up steps."""
    torch.manual_seed(0)
    step, flops = build(batch_size)
    for _ in range(2):
        step()
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, steps * batch_size / (time.perf_counter() - start))
    return best, flops


def main() -> None:
    from genai_roadmap.metrics.generative import matmul_peak_gflops

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128, 256, 512, 1024, 2048])
    parser.add_argument("--steps", type=int, default=30, help="steps per timed block")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()

    rows = []
    for key in args.models:
        name, build = MODELS[key]
        peak = matmul_peak_gflops()
        speeds = {b: measure(build, b, args.steps) for b in args.batches}
        peak = max(peak, matmul_peak_gflops())
        for b, (images_per_s, flops) in speeds.items():
            gflops = images_per_s * flops / 1e9
            rows.append({"model": name, "batch_size": b, "images_per_s": round(images_per_s, 1),
                         "matmul_gflops_per_s": round(gflops, 1), "peak_gflops_per_s": round(peak, 1),
                         "share_of_peak": round(gflops / peak, 3)})
            print(f"{name:36s} batch {b:5d}: {images_per_s:9,.0f} images/s  {gflops:6.1f} GFLOP/s  "
                  f"{gflops / peak:5.1%} of {peak:.0f}", flush=True)
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__, "machine": platform.machine(),
              "rows": rows}
    print(json.dumps(result, indent=1))
    if args.out:
        from genai_roadmap import io

        io.write_json(args.out, result)


if __name__ == "__main__":
    main()
