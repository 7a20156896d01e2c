"""Image loading: validation messages, limits, orientation, metadata, hashing, folder layouts."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin

from agentpref.errors import ImageError, InputError
from agentpref.images.references import References, image_list, load_images, load_references
from agentpref.images.refs import ImageRef
from agentpref.images.store import ImageStore

# -- image makers ---------------------------------------------------------------------------


def save(
    path: Path, size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (200, 30, 30), **kw
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    Image.new("RGB", size, color).save(path, format=fmt, **kw)
    return path


def noise_png(size: tuple[int, int] = (128, 128), seed: int = 0) -> bytes:
    """Incompressible pixels, so the IDAT data is long enough to cut in half."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def png_with_text(**chunks: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with a tiny IDAT: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def decode_data_url(url: str) -> Image.Image:
    header, encoded = url.split(",", 1)
    assert header.startswith("data:image/") and header.endswith(";base64")
    return Image.open(io.BytesIO(base64.b64decode(encoded)))


# -- unusable files: each names the file and says why -------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty file") as err:
        ImageRef.from_path(path)
    assert err.value.source == str(path) and str(path) in str(err.value)


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    with pytest.raises(ImageError, match="not a PNG/JPEG/WebP image") as err:
        ImageRef.from_path(path)
    assert "notes.png" in str(err.value)


@pytest.mark.parametrize("fmt, name", [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_unsupported_format_is_named(tmp_path: Path, fmt: str, name: str) -> None:
    path = tmp_path / f"pic.{fmt.lower()}"
    Image.new("RGB", (8, 8)).save(path, format=fmt)
    with pytest.raises(ImageError, match=rf"not a PNG/JPEG/WebP image \(looks like {name}\)"):
        ImageRef.from_path(path)


def test_truncated_png(tmp_path: Path) -> None:
    data = noise_png()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt image data") as err:
        ImageRef.from_path(path)
    assert "cut.png" in str(err.value)


def test_corrupt_pixel_data_in_png(tmp_path: Path) -> None:
    data = bytearray(noise_png())
    start = data.index(b"IDAT") + 4
    data[start + 100 : start + 400] = bytes(300)  # the chunk's CRC no longer matches
    with pytest.raises(ImageError, match="truncated or corrupt image data"):
        ImageRef.from_bytes(bytes(data), "broken.png")


def test_truncated_jpeg(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    data = buffer.getvalue()
    with pytest.raises(ImageError, match="truncated or corrupt image data"):
        ImageRef.from_bytes(data[: len(data) // 2], "cut.jpg")


def test_missing_file_and_folder_given_as_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="file does not exist"):
        ImageRef.from_path(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        ImageRef.from_path(tmp_path)


def test_bomb_header_is_rejected_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError) as err:
        ImageRef.from_bytes(png_header_only(30000, 30000), "bomb.png")
    assert str(err.value) == (
        "bomb.png: image is 30000x30000 = 900 megapixels, over the 40 megapixel limit "
        "(set AGENTPREF_MAX_PIXELS to raise it)"
    )


def test_bomb_header_file_path_named(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(30000, 30000))
    with pytest.raises(ImageError, match="over the 40 megapixel limit") as err:
        ImageRef.from_path(path)
    assert err.value.source == str(path)


def test_pixel_cap_from_argument_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(tmp_path / "a.png", size=(100, 100))
    assert ImageRef.from_path(path).width == 100
    with pytest.raises(ImageError, match=r"100x100 = 0.01 megapixels, over the 0.005 megapixel limit"):
        ImageRef.from_path(path, max_pixels=5000)
    monkeypatch.setenv("AGENTPREF_MAX_PIXELS", "5000")
    with pytest.raises(ImageError, match=r"over the 0\.005 megapixel limit"):
        ImageRef.from_path(path)
    assert ImageRef.from_path(path, max_pixels=10_000).height == 100  # the argument wins
    monkeypatch.setenv("AGENTPREF_MAX_PIXELS", "lots")
    with pytest.raises(InputError, match="AGENTPREF_MAX_PIXELS='lots'"):
        ImageRef.from_path(path)


def test_env_can_raise_the_cap_for_a_big_header(monkeypatch: pytest.MonkeyPatch) -> None:
    # 8000x6000 = 48 MP: over the default cap; with the cap raised it passes the header check
    # and fails only because its pixel data is a stub.
    data = png_header_only(8000, 6000)
    with pytest.raises(ImageError, match="48 megapixels, over the 40 megapixel limit"):
        ImageRef.from_bytes(data, "wide.png")
    monkeypatch.setenv("AGENTPREF_MAX_PIXELS", "50_000_000")
    with pytest.raises(ImageError, match="truncated or corrupt image data"):
        ImageRef.from_bytes(data, "wide.png")


def test_file_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(noise_png((256, 256)))
    with pytest.raises(ImageError, match=r"file is 0\.\d MB, over the 0.0625 MB limit"):
        ImageRef.from_path(path, max_bytes=64 * 1024)
    with pytest.raises(ImageError, match="MB limit"):
        ImageRef.from_bytes(path.read_bytes(), max_bytes=64 * 1024)


# -- pixels ----------------------------------------------------------------------------------


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    canvas = Image.new("RGB", (40, 20), (0, 0, 255))
    canvas.paste((255, 0, 0), (0, 0, 20, 20))  # left half red as stored
    canvas.save(path, format="JPEG", exif=exif, quality=95)
    ref = ImageRef.from_path(path)
    assert (ref.width, ref.height) == (20, 40)
    assert ref.image().size == (20, 40)
    top = ref.image().getpixel((10, 5))
    assert top[0] > 200 and top[2] < 60  # stored left edge is shown at the top after rotation


def test_alpha_composited_on_white_and_rgb_mode() -> None:
    buffer = io.BytesIO()
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    rgba.save(buffer, format="PNG")
    image = ImageRef.from_bytes(buffer.getvalue()).image()
    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == (255, 255, 255)
    assert image.getpixel((0, 0)) == (0, 0, 255)


def test_sixteen_bit_grey_is_not_clipped_to_white() -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16)).save(buffer, format="PNG")
    r, g, b = ImageRef.from_bytes(buffer.getvalue()).image().getpixel((3, 3))
    assert 120 <= r <= 135 and r == g == b


def test_first_frame_of_animated_png_and_webp() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    for fmt in ("PNG", "WEBP"):
        buffer = io.BytesIO()
        frames[0].save(
            buffer, format=fmt, save_all=True, append_images=frames[1:], duration=100, lossless=True
        )
        r, _, b = ImageRef.from_bytes(buffer.getvalue()).image().getpixel((8, 8))
        assert r > 200 and b < 50, fmt


def test_data_url_respects_pixel_budget() -> None:
    ref = ImageRef.from_pil(Image.new("RGB", (400, 100), (20, 200, 20)))
    small = decode_data_url(ref.data_url(max_pixels=10_000))
    assert small.format == "PNG"
    assert small.width * small.height <= 10_000
    assert abs(small.width / small.height - 4.0) < 0.1
    assert decode_data_url(ref.data_url(max_pixels=None)).size == (400, 100)
    assert decode_data_url(ref.data_url(max_pixels=10**9)).size == (400, 100)  # never upscaled
    jpeg = decode_data_url(ref.data_url(max_pixels=5_000, fmt="jpeg"))
    assert jpeg.format == "JPEG" and jpeg.width * jpeg.height <= 5_000
    thumb = decode_data_url(ImageStore().thumbnail(ref, size=64))
    assert max(thumb.size) == 64


def test_encodings_drop_embedded_metadata() -> None:
    ref = ImageRef.from_bytes(png_with_text(parameters="secret prompt\nNegative prompt: x"))
    assert ref.prompt == "secret prompt"
    assert b"secret prompt" in ref.data
    assert b"secret prompt" not in ref.to_png_bytes()
    assert Image.open(io.BytesIO(ref.to_png_bytes())).size == (16, 16)


# -- identity ----------------------------------------------------------------------------------


def test_hash_is_sha256_of_file_bytes_and_stable(tmp_path: Path) -> None:
    a = save(tmp_path / "a.png")
    copy = tmp_path / "copy.png"
    copy.write_bytes(a.read_bytes())
    other = save(tmp_path / "b.png", color=(0, 0, 0))
    ref = ImageRef.from_path(a)
    assert ref.sha256 == hashlib.sha256(a.read_bytes()).hexdigest()
    assert ImageRef.from_path(a).sha256 == ref.sha256
    assert ImageRef.from_path(copy) == ref and hash(ImageRef.from_path(copy)) == hash(ref)
    assert ImageRef.from_bytes(a.read_bytes()).sha256 == ref.sha256
    assert ImageRef.from_path(other).sha256 != ref.sha256
    assert ref.label == "a.png" and ref.path == a and ref.format == "PNG"


def test_coerce_and_info(tmp_path: Path) -> None:
    path = save(tmp_path / "x.webp", size=(20, 10))
    ref = ImageRef.coerce(str(path))
    assert ImageRef.coerce(ref) is ref
    assert ImageRef.coerce(path) == ref
    assert ImageRef.coerce(path.read_bytes()) == ref
    from_pil = ImageRef.coerce(Image.new("RGB", (5, 5)))
    assert from_pil.format == "PNG" and from_pil.path is None and from_pil.label.startswith("image-")
    with pytest.raises(InputError, match="cannot use a int as an image"):
        ImageRef.coerce(3)  # type: ignore[arg-type]
    info = ref.info()
    dumped = json.loads(info.model_dump_json())
    assert dumped["label"] == "x.webp" and dumped["format"] == "WEBP"
    assert (dumped["width"], dumped["height"]) == (20, 10) and dumped["path"] == str(path)


def test_release_redecodes_same_pixels(tmp_path: Path) -> None:
    ref = ImageRef.from_path(save(tmp_path / "a.png"))
    before = ref.image().tobytes()
    ref.release()
    assert ref.image().tobytes() == before


# -- prompt metadata ---------------------------------------------------------------------------


def test_a1111_parameters() -> None:
    text = (
        "a red fox in snow, oil painting,\nwarm light\n"
        "Negative prompt: blurry, lowres\nwatermark\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 12, Size: 512x512, Model: sd15"
    )
    ref = ImageRef.from_bytes(png_with_text(parameters=text))
    assert ref.prompt == "a red fox in snow, oil painting,\nwarm light"
    assert ref.negative_prompt == "blurry, lowres\nwatermark"
    assert ref.prompt_source == "a1111"


def comfy_graph(positive: str, negative: str) -> str:
    return json.dumps(
        {
            "3": {
                "class_type": "KSampler",
                "inputs": {"seed": 5, "positive": ["10", 0], "negative": ["10", 1], "model": ["4", 0]},
            },
            "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
            "6": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["4", 1]}},
            "7": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["4", 1]}},
            # Both conditionings pass through a ControlNet applier (outputs: 0 positive, 1 negative).
            "10": {
                "class_type": "ControlNetApplyAdvanced",
                "inputs": {"positive": ["6", 0], "negative": ["7", 0], "strength": 1.0},
            },
        }
    )


def test_comfyui_positive_follows_the_sampler_wiring() -> None:
    # The negative text is longer, so "longest" would pick the wrong one.
    graph = comfy_graph("watercolor harbour", "ugly, blurry, deformed hands, extra fingers, jpeg artifacts")
    ref = ImageRef.from_bytes(png_with_text(prompt=graph))
    assert ref.prompt == "watercolor harbour"
    assert ref.negative_prompt == "ugly, blurry, deformed hands, extra fingers, jpeg artifacts"
    assert ref.prompt_source == "comfyui"


def test_comfyui_without_sampler_takes_longest_text() -> None:
    graph = {
        "1": {"class_type": "CLIPTextEncode", "inputs": {"text": "short"}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a much longer pixel art castle"}},
    }
    assert (
        ImageRef.from_bytes(png_with_text(prompt=json.dumps(graph))).prompt
        == "a much longer pixel art castle"
    )


def test_malformed_comfyui_json_is_ignored() -> None:
    ref = ImageRef.from_bytes(png_with_text(prompt="{not json" + "[" * 5000))
    assert ref.prompt is None


def test_jpeg_exif_user_comment_and_webp_description(tmp_path: Path) -> None:
    exif = Image.Exif()
    comment = "neon city at night\nNegative prompt: daylight\nSteps: 4, Sampler: Euler, CFG scale: 1, Seed: 3"
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + comment.encode("utf-16-be")
    path = save(tmp_path / "city.jpg", exif=exif)
    ref = ImageRef.from_path(path)
    assert (ref.prompt, ref.negative_prompt, ref.prompt_source) == ("neon city at night", "daylight", "exif")

    exif = Image.Exif()
    exif[0x010E] = "pastel meadow, gouache"
    webp = save(tmp_path / "meadow.webp", exif=exif)
    assert ImageRef.from_path(webp).prompt == "pastel meadow, gouache"


def test_sidecar_is_fallback_and_embedded_wins(tmp_path: Path) -> None:
    plain = save(tmp_path / "plain.png")
    plain.with_suffix(".txt").write_text("charcoal sketch of a horse\nNegative prompt: color\n")
    ref = ImageRef.from_path(plain)
    assert (ref.prompt, ref.negative_prompt, ref.prompt_source) == (
        "charcoal sketch of a horse",
        "color",
        "sidecar",
    )

    tagged = tmp_path / "tagged.png"
    tagged.write_bytes(png_with_text(parameters="embedded prompt"))
    tagged.with_suffix(".txt").write_text("sidecar prompt")
    assert ImageRef.from_path(tagged).prompt == "embedded prompt"
    assert ImageRef.from_bytes(tagged.read_bytes()).prompt == "embedded prompt"
    assert ImageRef.from_bytes(plain.read_bytes()).prompt is None  # no path, no sidecar


def test_a_sidecar_linked_out_of_the_folder_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "likes").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("a private note")
    image = save(tmp_path / "likes" / "a.png")
    image.with_suffix(".txt").symlink_to(secret)
    assert ImageRef.from_path(image).prompt is None
    inside = tmp_path / "likes" / "caption.txt"
    inside.write_text("a watercolor fox")
    image.with_suffix(".txt").unlink()
    image.with_suffix(".txt").symlink_to(inside)  # a link within the folder is fine
    assert ImageRef.from_path(image).prompt == "a watercolor fox"


def test_prompt_text_is_sanitised_and_capped() -> None:
    hostile = "a cat\x00\x1b[31m\u202eevil\u202c\tsitting" + "x" * 5000
    ref = ImageRef.from_bytes(png_with_text(parameters=hostile))
    assert ref.prompt is not None
    assert ref.prompt.startswith("a cat[31mevil sitting")
    assert not any(c in ref.prompt for c in "\x00\x1b\u202e\u202c\t")
    assert len(ref.prompt) <= 2000


# -- folders -----------------------------------------------------------------------------------


def test_layout_with_like_and_dislike_subfolders(tmp_path: Path) -> None:
    save(tmp_path / "likes" / "b.png", color=(1, 1, 1))
    save(tmp_path / "likes" / "a.JPG", color=(2, 2, 2))
    save(tmp_path / "likes" / ".hidden.png", color=(3, 3, 3))
    save(tmp_path / "likes" / "nested" / "deep.png", color=(4, 4, 4))
    (tmp_path / "likes" / "readme.md").write_text("not an image")
    save(tmp_path / "dislikes" / "z.webp", color=(5, 5, 5))
    refs = load_references(tmp_path)
    assert isinstance(refs, References)
    assert [r.label for r in refs.likes] == ["a.JPG", "b.png"]
    assert [r.label for r in refs.dislikes] == ["z.webp"]
    assert refs.skipped == []
    assert [r.label for r in refs.all] == ["a.JPG", "b.png", "z.webp"]


@pytest.mark.parametrize("like_dir, dislike_dir", [("Liked", "Disliked"), ("like", "dislike")])
def test_alternative_subfolder_names(tmp_path: Path, like_dir: str, dislike_dir: str) -> None:
    save(tmp_path / like_dir / "a.png", color=(1, 1, 1))
    save(tmp_path / dislike_dir / "b.png", color=(2, 2, 2))
    refs = load_references(str(tmp_path))
    assert [r.label for r in refs.likes] == ["a.png"] and [r.label for r in refs.dislikes] == ["b.png"]


def test_folder_of_likes_plus_separate_dislikes(tmp_path: Path) -> None:
    save(tmp_path / "mine" / "a.png", color=(1, 1, 1))
    save(tmp_path / "mine" / "b.png", color=(2, 2, 2))
    save(tmp_path / "not" / "c.png", color=(3, 3, 3))
    refs = load_references(tmp_path / "mine", tmp_path / "not")
    assert [r.label for r in refs.likes] == ["a.png", "b.png"]
    assert [r.label for r in refs.dislikes] == ["c.png"]


def test_one_liked_image_and_no_dislikes_is_fine(tmp_path: Path) -> None:
    save(tmp_path / "only.png")
    refs = load_references(tmp_path)
    assert len(refs.likes) == 1 and refs.dislikes == [] and refs.skipped == []


def test_list_of_files(tmp_path: Path) -> None:
    a = save(tmp_path / "a.png", color=(1, 1, 1))
    b = save(tmp_path / "b.png", color=(2, 2, 2))
    refs = load_references([b, a], [tmp_path / "missing.png"])
    assert [r.label for r in refs.likes] == ["b.png", "a.png"]  # a list keeps the caller's order
    assert refs.dislikes == [] and "file does not exist" in str(refs.skipped[0])


def test_corrupt_file_among_good_ones_is_skipped_and_reported(tmp_path: Path) -> None:
    save(tmp_path / "likes" / "good1.png", color=(1, 1, 1))
    save(tmp_path / "likes" / "good2.jpg", color=(9, 9, 9))
    (tmp_path / "likes" / "bad.png").write_bytes(noise_png()[:300])
    (tmp_path / "likes" / "empty.webp").write_bytes(b"")
    refs = load_references(tmp_path)
    assert [r.label for r in refs.likes] == ["good1.png", "good2.jpg"]
    reasons = {Path(e.source).name: e.reason for e in refs.skipped}
    assert reasons["empty.webp"] == "empty file"
    assert reasons["bad.png"].startswith("truncated or corrupt image data")


def test_duplicates_counted_once(tmp_path: Path) -> None:
    first = save(tmp_path / "likes" / "a.png")
    (tmp_path / "likes" / "a_copy.png").write_bytes(first.read_bytes())
    (tmp_path / "dislikes").mkdir()
    (tmp_path / "dislikes" / "same.png").write_bytes(first.read_bytes())
    refs = load_references(tmp_path)
    assert [r.label for r in refs.likes] == ["a.png"]
    assert refs.dislikes == []
    assert sorted(Path(e.source).name for e in refs.skipped) == ["a_copy.png", "same.png"]
    assert all("same image as a.png" in e.reason for e in refs.skipped)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder does not exist") as err:
        load_references(tmp_path / "nowhere")
    assert "nowhere" in str(err.value)
    file = save(tmp_path / "a.png")
    with pytest.raises(InputError, match="not a folder"):
        load_references(file)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        InputError, match=r"empty: no liked images found \(looked for .jpeg, .jpg, .png, .webp"
    ):
        load_references(tmp_path / "empty")
    with pytest.raises(InputError, match="folder does not exist"):
        load_references(tmp_path / "empty", tmp_path / "missing-dislikes")


def test_no_usable_liked_image_lists_what_was_skipped(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_text("hello")
    (tmp_path / "y.jpg").write_bytes(b"")
    with pytest.raises(InputError) as err:
        load_references(tmp_path)
    message = str(err.value)
    assert "no usable liked image" in message
    assert "x.png: not a PNG/JPEG/WebP image" in message and "y.jpg: empty file" in message
    assert not isinstance(err.value, ImageError)


def test_load_images_keeps_order_and_reports_bad_files(tmp_path: Path) -> None:
    a = save(tmp_path / "c1.png", color=(1, 1, 1))
    bad = tmp_path / "c2.png"
    bad.write_text("nope")
    folder = tmp_path / "more"
    save(folder / "m2.png", color=(2, 2, 2))
    save(folder / "m1.webp", color=(3, 3, 3))
    refs, skipped = load_images([a, bad, str(folder), a])
    assert [r.label for r in refs] == ["c1.png", "m1.webp", "m2.png", "c1.png"]
    assert len(skipped) == 1 and skipped[0].source == str(bad)


def test_a_symbolic_link_loop_is_named_as_one(tmp_path: Path) -> None:
    loop = tmp_path / "likes" / "loop.png"
    loop.parent.mkdir()
    loop.symlink_to(loop.name)
    with pytest.raises(ImageError, match=r"loop\.png: symbolic link loop"):
        ImageRef.from_path(loop)
    save(tmp_path / "likes" / "ok.png")
    refs = load_references(tmp_path / "likes")
    assert [(e.source, e.reason) for e in refs.skipped] == [(str(loop), "symbolic link loop")]
    with pytest.raises(ImageError, match="file does not exist"):
        ImageRef.from_path(tmp_path / "missing.png")


@pytest.mark.parametrize("size", [(0, 0), (0, 5), (5, 0)])
def test_an_image_without_pixels_is_an_image_error(size: tuple[int, int]) -> None:
    with pytest.raises(ImageError, match=rf"empty\.png: image is {size[0]}x{size[1]}: it has no pixels"):
        ImageRef.from_pil(Image.new("RGB", size), "empty.png")
    with pytest.raises(ImageError, match="no pixels"):
        ImageRef.coerce(Image.new("RGB", size))


def test_misused_arguments_give_clear_input_errors(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"likes: expected a folder, an image or a list of images, got NoneType"
    ):
        load_references(None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"dislikes: expected .* got dict"):
        load_references([save(tmp_path / "a.png")], {"x": 1})  # type: ignore[arg-type]
    # a bare string is one folder or file, never iterated character by character
    with pytest.raises(InputError, match=r"images: 'dir' is not an existing folder or image file"):
        load_images("dir")
    folder = tmp_path / "cands"
    save(folder / "q1.png", color=(1, 2, 3))
    save(folder / "q2.png", color=(3, 2, 1))
    assert [r.label for r in load_images(str(folder))[0]] == ["q1.png", "q2.png"]
    assert [r.label for r in load_images(folder / "q2.png")[0]] == ["q2.png"]


def test_load_references_reports_progress(tmp_path: Path) -> None:
    for i in range(3):
        save(tmp_path / "likes" / f"l{i}.png", color=(i, 40, 40))
    save(tmp_path / "dislikes" / "d.png", color=(9, 9, 9))
    (tmp_path / "likes" / "bad.png").write_text("not an image")
    calls: list[tuple[int, int]] = []
    refs = load_references(tmp_path, on_progress=lambda done, total: calls.append((done, total)))
    assert len(refs.all) == 4 and calls == [(n, 5) for n in range(6)]  # skipped files count as done


def test_numpy_pixels_are_images_and_odd_arrays_are_named() -> None:
    import numpy as np

    assert ImageRef.coerce(np.zeros((6, 8, 3), np.uint8)).image().size == (8, 6)
    assert ImageRef.coerce(np.full((6, 8), 0.5)).image().getpixel((0, 0)) == (128, 128, 128)
    assert len(image_list(np.zeros((6, 8, 3), np.uint8))) == 1  # one image, not six rows
    for array, reason in [
        (np.zeros((2, 8, 8, 3), np.uint8), r"shape \(2, 8, 8, 3\)"),
        (np.full((4, 4, 3), 2.0), "within 0..1"),
        (np.full((4, 4, 3), np.nan), "finite"),
        (np.zeros((4, 4), np.int64), "dtype int64"),
        (np.zeros((0, 4, 3), np.uint8), "no pixels"),
    ]:
        with pytest.raises(ImageError, match=reason):
            ImageRef.coerce(array)


def test_the_quick_detail_and_saturation_readings_are_the_measurements_the_judge_uses() -> None:
    """Term search reads a candidate's detail and saturation cheaply; they must be the judge's numbers."""
    from agentpref.images.measure import measure
    from agentpref.images.pixels import edge_density, mean_saturation

    rng = np.random.default_rng(3)
    for side in (64, 300, 700):
        image = Image.fromarray((rng.random((side, side + 17, 3)) ** 2 * 255).astype(np.uint8))
        m = measure(image)
        assert round(edge_density(image), 5) == m.edge_density
        assert round(mean_saturation(image), 5) == m.saturation_mean
