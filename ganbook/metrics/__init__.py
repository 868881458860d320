"""Measurements of what a generator learned (chapter 15, and the mode protocol of chapter 8).

Layered as features → statistics → metric, in float64:

* :mod:`.features` — the shipped digits and shapes classifiers (features and probabilities; the
  shapes one also regresses the factors), Inception-v3 from a user-given weights file, the
  explicit resize step;
* :mod:`.fid` — Gaussian statistics and the Fréchet distance (FID);
* :mod:`.kid` — unbiased MMD² with the cubic polynomial kernel (KID), in blocks;
* :mod:`.inception_score` — IS, MODE score, modes and reverse KL over classes;
* :mod:`.prdc` — precision/recall and density/coverage with k-NN balls;
* :mod:`.msssim` — SSIM, MS-SSIM and MS-SSIM diversity;
* :mod:`.two_sample` — MMD permutation test and classifier two-sample test;
* :mod:`.critic` — the independent Wasserstein critic;
* :mod:`.likelihood` — Parzen-window log-likelihood (and why not to trust it);
* :mod:`.stacked` — stacked digits, 1,000 modes;
* :mod:`.modes` — the mode-coverage protocol for mixtures (modes captured, high-quality
  fraction, reverse KL over modes).

The kernels and the MMD² from kernel sums behind KID and the MMD test are :mod:`ganbook.kernels`,
shared with chapter 4.
"""
from .critic import CriticResult, independent_critic, independent_critics
from .features import (InceptionV3, ShapesCNN, SmallCNN, digits_classifier, digits_split, extract,
                       inception_v3, mnist_classifier, resize, shapes_classifier)
from .fid import GaussianStats, fid, fid_from_stats, frechet_distance, gaussian_stats, sqrtm_psd
from .inception_score import (ClassStats, InceptionScore, class_stats, inception_score, kl_categorical,
                              mode_score)
from .kid import KID, kid, mmd2_unbiased
from .likelihood import parzen_log_likelihood, parzen_select_sigma
from .modes import ModeStats, mode_stats
from .msssim import ms_ssim, ms_ssim_diversity, ssim
from .prdc import PRDC, knn_radii, prdc
from .stacked import stack_digits, stacked_modes
from .two_sample import TwoSampleTest, classifier_two_sample_test, mmd_permutation_test

__all__ = ["ModeStats", "mode_stats",
           "CriticResult", "independent_critic", "independent_critics",
           "InceptionV3", "ShapesCNN", "SmallCNN", "digits_classifier", "digits_split", "extract", "inception_v3",
           "mnist_classifier", "resize", "shapes_classifier",
           "GaussianStats", "fid", "fid_from_stats", "frechet_distance", "gaussian_stats", "sqrtm_psd",
           "ClassStats", "InceptionScore", "class_stats", "inception_score", "kl_categorical", "mode_score",
           "KID", "kid", "mmd2_unbiased",
           "parzen_log_likelihood", "parzen_select_sigma",
           "ms_ssim", "ms_ssim_diversity", "ssim",
           "PRDC", "knn_radii", "prdc",
           "stack_digits", "stacked_modes",
           "TwoSampleTest", "classifier_two_sample_test", "mmd_permutation_test"]
