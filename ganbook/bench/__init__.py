"""The mode-coverage benchmark of chapter 8, on the published protocol (VEEGAN, PacGAN).

    python -m ganbook.bench mode-coverage --methods gan pacgan4 --seeds 10 --steps 20000 \\
        --data ring grid --out table.md
    python -m ganbook.bench merge part1.md part2.md --out table.md   # pieces run side by side

Protocol (REFERENCES.md; :mod:`ganbook.metrics.modes`): the 2D ring (8 Gaussians, std 0.01) and
grid (25 Gaussians, std 0.05); 100,000 training samples drawn once per run; after training,
2,500 generated samples; a sample is high quality (HQ) within 3 standard deviations of its
nearest mode; a mode is captured with at least one HQ sample; reverse KL = KL(histogram of HQ
samples over modes ‖ uniform). The table reports, per method and data set, the mean ± standard
error over seeds of modes captured, HQ % and reverse KL, the iterations, and the CPU seconds
(``time.process_time`` of this process) and wall seconds per run.

Every method trains on the data divided by the standard deviation s of its training set (one
number per run, ≈ 0.71 for the ring and ≈ 2.83 for the grid) and its samples are multiplied by s
before evaluation, so that all networks work at unit scale.

Seeds are trained *at once*: every network is a :class:`ganbook.nets.BatchedMLP` holding one
independent MLP per seed (weights of shape (S, in, out), applied with ``torch.baddbmm``), every loss
is the sum over seeds of that seed's loss, and Adam works elementwise, so each seed follows its own
training run — exactly in exact arithmetic; in floating point the batched operations round
differently, and GAN training amplifies such differences over thousands of steps, so a seed trained
next to others ends near, not exactly at, the result it reaches alone. Compare methods by their
distributions over seeds, not by single runs. Seed s draws its initial weights, its training set,
its batches and its evaluation codes from its own ``torch.Generator``; noise that a penalty or
instance noise draws for all seeds together comes from one more generator seeded by the list of
seeds, so a run is reproducible for the same list of seeds.

The package, in reading order:

* :mod:`.state` — :class:`Settings`, what every method shares (budget, batch, widths, optimiser,
  how a run is sampled); :class:`Run`, the networks, optimisers and random streams of S seeds;
  the shared architecture (:func:`generator`, :func:`discriminator`, :func:`encoder`);
* :mod:`.methods` — one explicit ``step_*`` function per method (``step_gan``, ``step_pacgan``,
  ``step_dual``, ``step_unrolled``, …), written with the losses of :mod:`ganbook.objectives` and the
  mechanisms of :mod:`ganbook.collapse`, each with its own knobs (``PacGAN(m=4)``, ``Unrolled(k=5)``,
  …), and :data:`METHODS`, the rows of the table. The methods ending in ``-drs`` train like their
  namesakes and are evaluated on the samples that discriminator rejection sampling keeps
  (:func:`rejection_samples`, eq. (ch8-drs)); the cost of the rejection is in their CPU seconds;
* :mod:`.protocol` — :func:`build`, :func:`train_method`, sampling and evaluation;
* :mod:`.report` — the markdown table, merging reports, per-seed CSV, the recorded results;
* ``__main__`` — the command line.
"""
from __future__ import annotations

from .methods import (DRAGAN, GAN, MADGAN, METHODS, MRGAN, REPORTING_SEED_START, TUNED, TUNING_SEEDS, VEEGAN,
                      BatchedMinibatchDiscriminator, Dual, FeatureMatching, InstanceNoise, LabelSmoothing, Method,
                      Minibatch, PacGAN, Unrolled, step_dragan, step_dual, step_feature_matching, step_gan,
                      step_instance_noise, step_label_smoothing, step_madgan, step_minibatch, step_mrgan,
                      step_pacgan, step_unrolled, step_veegan)
from .protocol import (DATASETS, N_EVAL, N_TRAIN, Result, build, critic_logits, evaluate, lr_factor,
                       paired_evaluation, rejection_comparisons, rejection_draw, rejection_samples, samples,
                       train_method, unpacked_critic, update_ema)
from .report import (PAIRED_COLUMNS, RECORDED, RECORDED_PAIRED, cpu_model, merge, paired_csv, parse_seeds,
                     parse_table, recorded, recorded_paired, report_text, seeds_cell, summary, table)
from .state import Players, Run, Settings, discriminator, encoder, flat_critic, generator

__all__ = [
    # state
    "Settings", "Players", "Run", "generator", "discriminator", "encoder", "flat_critic",
    # methods: knobs, steps, the table's rows
    "GAN", "PacGAN", "LabelSmoothing", "InstanceNoise", "DRAGAN", "Minibatch", "Dual", "FeatureMatching",
    "Unrolled", "VEEGAN", "MADGAN", "MRGAN", "BatchedMinibatchDiscriminator",
    "step_gan", "step_pacgan", "step_label_smoothing", "step_instance_noise", "step_dragan", "step_minibatch",
    "step_dual", "step_feature_matching", "step_unrolled", "step_veegan", "step_madgan", "step_mrgan",
    "Method", "METHODS", "TUNED", "TUNING_SEEDS", "REPORTING_SEED_START",
    # protocol
    "DATASETS", "N_TRAIN", "N_EVAL", "build", "train_method", "Result", "lr_factor", "update_ema", "samples",
    "unpacked_critic", "critic_logits", "rejection_draw", "rejection_samples", "rejection_comparisons", "evaluate",
    "paired_evaluation",
    # report
    "summary", "seeds_cell", "parse_seeds", "table", "RECORDED", "recorded", "RECORDED_PAIRED", "PAIRED_COLUMNS",
    "paired_csv", "recorded_paired", "parse_table", "cpu_model", "report_text", "merge",
]
