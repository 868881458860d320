"""Exercise checks accept right answers and reject wrong ones with an explanation."""
import math

import pytest
import torch
import torch.nn.functional as F

from ganbook import check


def test_nonsaturating_check():
    check.nonsaturating_g_loss(lambda f: F.softplus(-f).mean())
    with pytest.raises(check.CheckFailed, match="saturating"):
        check.nonsaturating_g_loss(lambda f: torch.log(1 - torch.sigmoid(f)).mean())
    with pytest.raises(check.CheckFailed, match="NaN or inf"):
        check.nonsaturating_g_loss(lambda f: -torch.log(torch.sigmoid(f)).mean())
    with pytest.raises(check.CheckFailed, match="shape"):
        check.nonsaturating_g_loss(lambda f: F.softplus(-f))
    with pytest.raises(check.CheckFailed, match="raised ZeroDivisionError"):
        check.nonsaturating_g_loss(lambda f: 1 / 0)


def test_discriminator_loss_check():
    bce = F.binary_cross_entropy_with_logits
    check.discriminator_loss(lambda r, f: bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f)))
    with pytest.raises(check.CheckFailed, match="swapped"):
        check.discriminator_loss(lambda r, f: bce(r, torch.zeros_like(r)) + bce(f, torch.ones_like(f)))


def test_checks_call_the_function_positionally():
    """A learner's own argument names do not matter."""
    def my_d_loss(r_logits, f_logits):
        return F.softplus(-r_logits).mean() + F.softplus(f_logits).mean()

    check.discriminator_loss(my_d_loss)
    check.nonsaturating_g_loss(lambda logits_of_fakes: F.softplus(-logits_of_fakes).mean())
    check.fgan_d_loss("kl", lambda a, b: torch.exp(b - 1).mean() - a.mean())
    with pytest.raises(check.CheckFailed, match="on input real = tensor"):
        check.discriminator_loss(lambda r, f: F.softplus(r).mean() + F.softplus(-f).mean())


def test_gaussian_mle_check():
    check.gaussian_mle(lambda x: (x.mean(), x.std(unbiased=False)))
    with pytest.raises(check.CheckFailed, match="unbiased"):
        check.gaussian_mle(lambda x: (x.mean(), x.std()))


def test_kl_gaussian_check():
    right = lambda a, b, c, d: math.log(d / b) + (b * b + (a - c) ** 2) / (2 * d * d) - 0.5
    check.kl_gaussian(right)
    with pytest.raises(check.CheckFailed, match="swapped"):
        check.kl_gaussian(lambda a, b, c, d: right(c, d, a, b))


def test_optimal_discriminator_check():
    check.optimal_discriminator(lambda p, q: p / (p + q))
    with pytest.raises(check.CheckFailed, match="ratio"):
        check.optimal_discriminator(lambda p, q: p / q)


def test_compare_rejects_non_callables():
    with pytest.raises(TypeError, match="callable"):
        check.nonsaturating_g_loss(3)
