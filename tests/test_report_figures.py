"""The figures the report draws itself (seqfm.report.figures): a sequence's feature map as PNG."""

import io

import numpy as np
from PIL import Image

from seqfm.report.data import FeatureMap
from seqfm.report.figures import featuremap_png


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    im = Image.open(io.BytesIO(data))
    im.verify()
    return im.size


def feature_map(**kw) -> FeatureMap:
    """Three filters' activations, a CAM, calls of a drawn filter, of another filter and of the
    CAM, one known site; ``kw`` replaces any of them."""
    x = np.arange(5, 95, dtype=float)
    calls = [{"start": 20.0, "end": 31.0, "strand": "+", "label": "CTCF", "detector": "filter_0", "cam": False},
             {"start": 50.0, "end": 61.0, "strand": "-", "label": "", "detector": "filter_9", "cam": False},
             {"start": 40.0, "end": 52.0, "strand": ".", "label": "", "detector": "cam", "cam": True}]
    fields = {"name": "seq <b>", "length": 100, "cam": np.sin(x / 9), "cam_x": x,
              "acts": [(f"filter_{k}", x, np.maximum(np.cos(x / (k + 3)), 0)) for k in range(3)],
              "calls": calls, "truth": [{"start": 21.0, "end": 30.0, "strand": "+", "label": "CTCF"}],
              "score": 4.2}
    return FeatureMap(**{**fields, **kw})


def test_a_feature_map_is_a_png_with_a_row_per_kind_of_call():
    width, height = png_size(featuremap_png(feature_map()))
    assert 900 < width < 1200 and 300 < height < 600
    # one more track row (a second filter's own calls) makes the picture taller, not wider
    more = feature_map(calls=feature_map().calls + [{"start": 70.0, "end": 80.0, "strand": "+", "label": "",
                                                     "detector": "filter_1", "cam": False}])
    w2, h2 = png_size(featuremap_png(more))
    assert h2 > height and abs(w2 - width) < 40


def test_a_sequence_without_activations_cam_or_calls_still_draws():
    empty = feature_map(cam=None, cam_x=None, acts=[], calls=[], truth=[], score=None)
    width, height = png_size(featuremap_png(empty))
    assert width > 500 and height > 200


def test_dollar_signs_in_names_are_drawn_as_text():
    # "$^$" is broken mathtext that would fail the drawing; a filter or motif name is text
    odd = "peak$^$1"
    calls = [{"start": 2.0, "end": 6.0, "strand": "+", "label": odd, "detector": odd, "cam": False},
             {"start": 6.0, "end": 9.0, "strand": "-", "label": odd, "detector": "f", "cam": False}]
    png_size(featuremap_png(feature_map(acts=[(odd, np.arange(10.0), np.ones(10))], calls=calls, length=10)))
