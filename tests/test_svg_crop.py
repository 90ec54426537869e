"""``svg.svg_laid_out_once``: the report's figures drawn once, cropped as ``savefig(bbox_inches="tight")``
crops them (matplotlib's own definition of the tight box, measured with another renderer)."""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("matplotlib")

from mrdtrack.report import svg  # noqa: E402


def _figure(long_labels: bool):
    import matplotlib.pyplot as plt

    with plt.rc_context(svg.RC):
        fig, ax = plt.subplots(figsize=(4.0, 2.5))
        ax.plot([0, 1, 2], [3, 1, 2])
        ax.set_yticks([1, 2, 3])
        if long_labels:  # labels reaching far left of the figure: the crop starts at a negative x
            ax.set_yticklabels(["a rather long label for one row", "another", "a third, longer still, label"])
        ax.set_title("A title")
        ax.set_xlabel("Months")
    return fig


def _size(text: str) -> tuple[float, float, list[float]]:
    tag = re.search(r"<svg\b[^>]*>", text).group(0)
    width = float(re.search(r'\bwidth="([\d.]+)pt"', tag).group(1))
    height = float(re.search(r'\bheight="([\d.]+)pt"', tag).group(1))
    box = [float(v) for v in re.search(r'\bviewBox="([^"]+)"', tag).group(1).split()]
    return width, height, box


@pytest.mark.parametrize("long_labels", [False, True])
def test_crop_is_matplotlibs_tight_box(long_labels):
    import matplotlib.pyplot as plt

    fig = _figure(long_labels)
    with plt.rc_context(svg.RC):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=svg.PAD_INCHES)
        text, bbox = svg.svg_laid_out_once(fig)
    plt.close(fig)
    tight_w, tight_h, _ = _size(buf.getvalue())
    width, height, box = _size(text)
    # the same box up to the two renderers' text metrics (under a point here)
    assert width == pytest.approx(tight_w, abs=1.5)
    assert height == pytest.approx(tight_h, abs=1.5)
    assert box[2:] == pytest.approx([width, height], abs=1e-4)
    assert (box[0] < 0) == long_labels
    assert [bbox.width * 72, bbox.height * 72] == pytest.approx([width, height], abs=1e-4)


def test_background_covers_the_crop_and_text_stays_text():
    import matplotlib.pyplot as plt

    fig = _figure(True)
    with plt.rc_context(svg.RC):
        text, _ = svg.svg_laid_out_once(fig)
    plt.close(fig)
    _, _, (x0, y0, w, h) = _size(text)
    patch = re.search(r'<g id="patch_1">\s*<path d="([^"]+)"', text).group(1)
    xs = [float(v) for v in re.findall(r"(-?[\d.]+) -?[\d.]+", patch)]
    ys = [float(v) for v in re.findall(r"-?[\d.]+ (-?[\d.]+)", patch)]
    assert min(xs) == pytest.approx(x0, abs=1e-3) and max(xs) == pytest.approx(x0 + w, abs=1e-3)
    assert min(ys) == pytest.approx(y0, abs=1e-3) and max(ys) == pytest.approx(y0 + h, abs=1e-3)
    assert "a third, longer still, label" in text
    assert fig.dpi == 100  # the figure's own dpi is given back after drawing at 72
