"""ganbook.plot.fit: figure sizes that stay legible on the book's page (688 px column, 935 px
full-width cells). Checked by drawing: a multi-panel figure saved like the inline backend saves it
(tight box, 100 dpi) is shown at most 1.3 times smaller, so its 10-point text stays >= 10 px."""
import io

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from ganbook import plot  # noqa: E402


def _drawn_width(figsize) -> int:
    fig, axes = plt.subplots(1, 5, figsize=figsize)
    for i, ax in enumerate(axes):
        ax.plot([0, 1], [0, 1], label="a label")
        ax.set_title(f"panel {i}")
        ax.set_xlabel("step")
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plot.DPI, bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    return imread(buf).shape[1]


@pytest.mark.parametrize("full, page_px", [(True, plot.FULL_WIDTH_PX), (False, plot.COLUMN_PX)])
def test_wide_figures_fit_the_page(full, page_px):
    size = plot.fit((18, 3.4), full=full)
    assert size[0] < 18 and abs(size[0] / size[1] - 18 / 3.4) < 0.01  # aspect kept
    shrink = _drawn_width(size) / page_px
    assert shrink <= 1.3  # tests/test_site.py's FIGURE_SHRINK_LIMIT
    text_px = 10 * plot.DPI / 72 / max(shrink, 1.0)
    assert text_px >= 10


def test_small_figures_are_left_alone():
    assert plot.fit((6, 3)) == (6.0, 3.0)
    assert plot.fit([5, 2], full=False) == (5.0, 2.0)
    assert plot.fit((10, 4)) == (10.0, 4.0)  # fits a full-width cell
    assert plot.fit((10, 4), full=False)[0] == pytest.approx(plot.COLUMN_WIDTH, abs=1e-3)


@pytest.mark.parametrize("bad, exc", [((15,), TypeError), ("15x4", TypeError), ((0, 3), ValueError),
                                      ((-1, 3), ValueError), ((float("nan"), 3), ValueError),
                                      ((float("inf"), 3), ValueError)])
def test_bad_sizes(bad, exc):
    with pytest.raises(exc, match="figsize"):
        plot.fit(bad)


def test_bad_full():
    with pytest.raises(TypeError, match="full"):
        plot.fit((15, 4), full="yes")
