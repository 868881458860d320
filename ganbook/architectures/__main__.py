"""``python -m ganbook.architectures --preset gpu``: run chapter 6c's experiments outside the notebook.

Trains LAPGAN, GRAN and LR-GAN (E seeds side by side) and GoGAN's and Stacked GAN's 2D toys with the
settings of :data:`ganbook.architectures.experiments.PRESETS`, then writes to ``--out``: one sample grid
per experiment (``*.png``: LAPGAN per level, GRAN's canvas per step, LR-GAN's layers) and ``summary.json``
(the preset, the device, seconds and seconds per 1,000 iterations of each experiment, the final losses
and LR-GAN's mask statistics).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from .. import _validate as V
from . import experiments as X


def _data(preset: X.Preset, device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The pyramid experiments' images (digits, or plain shapes) and LR-GAN's textured shapes."""
    from .. import data

    gen = torch.Generator().manual_seed(seed)
    if preset.pyramid_data == "digits":
        images = data.digits(device=device)[0]
    else:
        images = data.shapes(preset.pool, preset.pyramid_size, generator=gen, device=device).images
    textured = data.shapes(preset.pool, preset.layered_size, generator=gen, device=device, background="textured")
    return images, textured.images


def _mosaic(x: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """Images (n, C, h, w) in [−1, 1] as one (h', w', C) array in [0, 1], a one-pixel white border."""
    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) / 2)
    n, c, h, w = x.shape
    rows = (n + nrow - 1) // nrow
    canvas = torch.ones(c, rows * (h + 1) + 1, nrow * (w + 1) + 1)
    for i in range(n):
        r, q = divmod(i, nrow)
        canvas[:, 1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = x[i]
    return canvas.permute(1, 2, 0).squeeze(-1)


def _grid(rows: list[torch.Tensor], titles: list[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.4))
    for ax, x, title in zip(axes, rows, titles):
        ax.imshow(_mosaic(x).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(preset: X.Preset, device: torch.device, out: str, seed: int = 0) -> dict:
    """Train every experiment of ``preset`` on ``device``; write the figures and return the summary."""
    from .. import data

    os.makedirs(out, exist_ok=True)
    seeds = list(range(seed * preset.seeds, (seed + 1) * preset.seeds))
    gen = torch.Generator(device).manual_seed(seed)
    images, textured = _data(preset, device, seed)
    common = dict(hidden=preset.hidden, batch=preset.batch, lr=preset.lr, betas=preset.betas, generator=gen)
    summary: dict = {"preset": preset.name, "device": str(device), "seeds": seeds, "torch": torch.__version__}

    def timed(name: str, steps: int, fn):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t
        summary[name] = {"steps": steps, "seconds": round(seconds, 2), "s_per_1000": round(1000 * seconds / steps, 2)}
        print(f"{name}: {steps} steps in {seconds:.1f} s", flush=True)
        return result

    n = 32
    lap = timed("lapgan", preset.lapgan_steps, lambda: X.train_lapgan(
        images, seeds, steps=preset.lapgan_steps, levels=preset.levels, **common))
    with torch.no_grad():
        z = torch.randn((len(seeds), n, preset.levels, lap.G.z_dim), generator=gen, device=device)
        levels = lap.G(z)
    _grid([lv[0] for lv in levels], [f"level {k}" for k in range(preset.levels)], os.path.join(out, "lapgan.png"))
    summary["lapgan"]["final_losses"] = {k: float(v[-100:].mean()) for k, v in lap.history.items()}

    gran = timed("gran", preset.gran_steps, lambda: X.train_gran(
        images, seeds, steps=preset.gran_steps, canvas_steps=preset.gran_canvas_steps, **common))
    with torch.no_grad():
        canvases = torch.tanh(gran.G.canvases(torch.randn((len(seeds), n, gran.G.z_dim), generator=gen, device=device)))
    _grid([c[0] for c in canvases], [f"tanh(C_{t + 1})" for t in range(len(canvases))], os.path.join(out, "gran.png"))

    lr = timed("lrgan", preset.lrgan_steps, lambda: X.train_lrgan(
        textured, seeds, steps=preset.lrgan_steps, **{**common, "batch": preset.lrgan_batch, "hidden": preset.lrgan_hidden}))
    with torch.no_grad():
        parts = lr.G.parts(torch.randn((len(seeds), n, 2, lr.G.z_dim), generator=gen, device=device))
    _grid([parts["image"][0], parts["background"][0], parts["placed_appearance"][0], 2 * parts["placed_mask"][0] - 1],
          ["composite", "background", "placed appearance", "placed mask"], os.path.join(out, "lrgan.png"))
    summary["lrgan"]["mask_mean_per_seed"] = [round(float(v), 4) for v in parts["placed_mask"].mean(dim=(1, 2, 3, 4))]

    target = data.mixture([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]], stds=0.2, device=device)
    timed("gogan", preset.gogan_steps, lambda: X.train_gogan(
        target.sample, seeds, steps=preset.gogan_steps, margin=2.0, n_critic=3, device=device, generator=gen))
    timed("stacked", preset.stacked_steps, lambda: X.train_stacked(
        seeds, steps=preset.stacked_steps, device=device, generator=gen))
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ganbook.architectures", description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu", choices=sorted(X.PRESETS))
    ap.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    ap.add_argument("--out", default="_build/architectures", help="folder for the figures and summary.json")
    ap.add_argument("--seed", type=int, default=0, help="seeds seed·E … seed·E + E − 1 and the data/noise stream")
    ap.add_argument("--steps", type=int, default=None, help="override every experiment's number of steps (smoke tests)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import dataclasses

    from .. import device as pick_device

    torch.set_num_threads(V.positive_int(args.threads, "threads"))
    preset = X.PRESETS[args.preset]
    if args.steps is not None:
        V.positive_int(args.steps, "steps")
        preset = dataclasses.replace(preset, lapgan_steps=args.steps, gran_steps=args.steps, lrgan_steps=args.steps,
                                     gogan_steps=args.steps, stacked_steps=args.steps)
    summary = run(preset, pick_device(args.device), args.out, seed=V.positive_int(args.seed, "seed", minimum=0))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
