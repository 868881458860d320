"""Divergences and distances in closed form, by numerical integration and from samples, used to
check the theory of the book numerically. One module per chapter:

* :mod:`.classic` — chapter 1: KL and JS between Gaussians (closed form), 1D densities
  (trapezoidal rule) and probability vectors (exact);
* :mod:`.fdiv` — chapter 3: the f-divergences (one :class:`FDivergence` per divergence, shared with
  the f-GAN objectives), exact values between discrete distributions, quadrature, closed forms
  between Gaussians, the optimal critic;
* :mod:`.ipm` — chapter 4: MMD², energy distance and the exact Wasserstein-1 distance of empirical
  distributions; the kernels themselves are :mod:`ganbook.kernels`, re-exported here.

Conventions: natural logarithms (nats); KL(p‖q) = ∫ p log(p/q);
JS(p‖q) = ½ KL(p‖m) + ½ KL(q‖m) with m = (p + q)/2, so 0 ≤ JS ≤ log 2.
Everything is importable from here: ``from ganbook import divergences; divergences.mmd2(x, y)``.
"""
from ..kernels import (KERNELS, distance_kernel, gaussian_kernel, mmd2_from_kernels, mmd2_from_sums,
                       pairwise_distances, polynomial_kernel)
from .classic import Density, grid_1d, js_1d, js_discrete, kl_1d, kl_discrete, kl_gaussian, log_density
from .fdiv import (F_DIVERGENCES, GAUSSIAN_CLOSED_FORMS, FDivergence, f_divergence_1d,
                   f_divergence_discrete, f_divergence_gaussian, f_divergence_integrand, fdivergence,
                   optimal_critic)
from .ipm import energy_distance, mmd2, wasserstein1, wasserstein1_1d

__all__ = ["Density", "grid_1d", "js_1d", "js_discrete", "kl_1d", "kl_discrete", "kl_gaussian", "log_density",
           "F_DIVERGENCES", "GAUSSIAN_CLOSED_FORMS", "FDivergence", "f_divergence_1d", "f_divergence_discrete",
           "f_divergence_gaussian", "f_divergence_integrand", "fdivergence", "optimal_critic",
           "KERNELS", "distance_kernel", "gaussian_kernel", "mmd2_from_kernels", "mmd2_from_sums",
           "pairwise_distances", "polynomial_kernel",
           "energy_distance", "mmd2", "wasserstein1", "wasserstein1_1d"]
