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


# -- issue 23: hints for an untouched template, numpy results, typical slips, identity, one ✓ line ---------

def _template_none(*args):
    ...


def _template_raises(*args):
    raise NotImplementedError


@pytest.mark.parametrize("name, extra", [
    ("nonsaturating_g_loss", ()), ("discriminator_loss", ()), ("optimal_discriminator", ()),
    ("gaussian_mle", ()), ("kl_gaussian", ()), ("conjugate", ("kl",)), ("fgan_d_loss", ("kl",)),
    ("optimal_critic", ("pearson",)), ("gradient_penalty", ()), ("mmd2_unbiased", ()),
    ("minibatch_features", ()), ("pack", ()), ("power_step", ()), ("fid_from_features", ()),
    ("kid_unbiased", ()), ("info_bound", ()), ("iwae_bound", ()), ("maligan_weights", ()),
    ("soft_value_iteration", ()),
])
@pytest.mark.parametrize("template", [_template_none, _template_raises, lambda *a: ...],
                         ids=["returns-None", "raises-NotImplementedError", "returns-Ellipsis"])
def test_an_untouched_template_is_not_implemented_yet(name, extra, template):
    with pytest.raises(check.CheckFailed, match="not implemented yet") as err:
        getattr(check, name)(*extra, template)
    if template is _template_none:
        assert "did you forget `return`?" in str(err.value)


def test_numpy_float32_is_accepted_like_float64():
    import numpy as np

    right = lambda a, b, c, d: math.log(d / b) + (b * b + (a - c) ** 2) / (2 * d * d) - 0.5
    check.kl_gaussian(lambda *a: np.float64(right(*a)))
    check.kl_gaussian(lambda *a: np.float32(right(*a)))       # float32 rounding (~1e-7) is within tolerance
    check.nonsaturating_g_loss(lambda f: np.float32(F.softplus(-f).mean().item()))
    from ganbook import metrics

    check.fid_from_features(lambda a, b: np.asarray(float(metrics.fid(a, b)), dtype=np.float32))   # a 0-dim array
    with pytest.raises(check.CheckFailed, match="saturating"):              # a wrong numpy value is still wrong
        check.nonsaturating_g_loss(lambda f: np.float32((-F.softplus(f)).mean().item()))


def test_single_bce_over_the_concatenated_batch_is_hinted():
    bce = F.binary_cross_entropy_with_logits

    def one_bce(r, f):
        logits = torch.cat([r, f])
        return bce(logits, torch.cat([torch.ones_like(r), torch.zeros_like(f)]))

    with pytest.raises(check.CheckFailed, match="concatenated.*HALF"):
        check.discriminator_loss(one_bce)


@pytest.mark.parametrize("clamp", [lambda s: s.clamp(1e-7, 1 - 1e-7), lambda s: s.clamp(min=1e-8),
                                   lambda s: s + 1e-8])
def test_a_clamped_sigmoid_is_hinted(clamp):
    with pytest.raises(check.CheckFailed, match="right for moderate logits but wrong for large.*clamped sigmoid"):
        check.nonsaturating_g_loss(lambda f: -torch.log(clamp(torch.sigmoid(f))).mean())
    with pytest.raises(check.CheckFailed, match="clamped sigmoid"):
        check.discriminator_loss(lambda r, f: -(torch.log(clamp(torch.sigmoid(r))).mean()
                                                + torch.log(clamp(1 - torch.sigmoid(f))).mean()))


def test_the_library_itself_is_refused():
    import functools

    from ganbook import divergences, metrics, objectives

    with pytest.raises(check.CheckFailed, match="ganbook's own .*nonsaturating_g_loss.*proves nothing"):
        check.nonsaturating_g_loss(objectives.nonsaturating_g_loss)
    with pytest.raises(check.CheckFailed, match="ganbook's own"):
        check.kl_gaussian(divergences.kl_gaussian)
    with pytest.raises(check.CheckFailed, match="ganbook's own"):
        check.fid_from_features(functools.partial(metrics.fid))
    with pytest.raises(check.CheckFailed, match="ganbook's own"):
        check.gradient_penalty(objectives.penalties.gradient_penalty)
    check.nonsaturating_g_loss(lambda f: F.softplus(-f).mean())            # the learner's own function passes


def test_a_passing_check_prints_one_line_and_jupyter_does_not_echo_it(capsys):
    result = check.nonsaturating_g_loss(lambda f: F.softplus(-f).mean())
    out = capsys.readouterr().out
    assert out.count("✓") == 1 and out.strip() == str(result)
    assert isinstance(result, str) and result.startswith("✓")
    # IPython's display hook calls _ipython_display_ instead of printing the repr: nothing more is shown
    from IPython.core.formatters import DisplayFormatter

    assert DisplayFormatter().format(result) == ({}, {})
