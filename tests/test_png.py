"""The loop's own PNG encoder: exact pixels back through Pillow at every level, and the level
a run is asked for is the one its files have."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from agentpref.images.png import encode_png


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("size", [(1, 1), (7, 3), (64, 48)])
def test_pixels_come_back_exactly(level, size):
    rng = np.random.default_rng(size[0] * 10 + level)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    back = Image.open(io.BytesIO(encode_png(Image.fromarray(pixels), level)))
    back.load()  # Pillow checks every chunk's CRC and the zlib stream while decoding
    assert back.mode == "RGB" and back.size == size
    assert np.array_equal(np.asarray(back), pixels)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "1"])
def test_other_modes_are_written_as_their_rgb(mode):
    image = Image.new(mode, (5, 4))
    back = Image.open(io.BytesIO(encode_png(image)))
    assert np.array_equal(np.asarray(back), np.asarray(image.convert("RGB")))


def test_level_zero_stores_and_higher_levels_compress():
    flat = Image.new("RGB", (128, 128), (10, 200, 30))
    stored, compressed = encode_png(flat, 0), encode_png(flat, 1)
    assert len(stored) > 128 * 128 * 3 and len(compressed) < 2_000


def test_a_level_outside_zero_to_nine_is_refused():
    with pytest.raises(ValueError, match="0-9"):
        encode_png(Image.new("RGB", (2, 2)), 10)


def _idat_level(data: bytes) -> int:
    """The compression level a PNG's zlib header announces (FLEVEL: 0 fastest .. 3 slowest)."""
    return data[data.index(b"IDAT") + 5] >> 6


def test_a_run_writes_its_candidates_at_the_level_it_was_given(example_refs, tmp_path):
    import agentpref

    sizes = {}
    for level in (0, 9):
        result = agentpref.personalize(
            example_refs, "a harbour", n=1, iterations=1, size=(64, 64), png_compression=level,
            out=tmp_path / f"run{level}",
        )  # fmt: skip
        (candidate,) = result.candidates
        sizes[level] = candidate.path.stat().st_size
        assert _idat_level(candidate.path.read_bytes()) == (0 if level == 0 else 3)
        assert result.record.candidates[0].sha256 == hashlib.sha256(candidate.path.read_bytes()).hexdigest()
    assert sizes[0] > 64 * 64 * 3 > sizes[9]
