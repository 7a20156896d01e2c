"""Images: every bad file twice, as a reference (skipped with its name, the run goes on) and as a
candidate of `compare` (exit 2 naming it); odd but valid images must simply work both ways."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

import files
from harness import Case, Ctx, Outcome, either, fails, succeeds

AREA = "images"
REFS = ("--refs", "refs")


def _bytes(data: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data())


def _truncated(fraction: float, fmt: str = "PNG") -> Callable[[], bytes]:
    def make() -> bytes:
        whole = files.encode(files.example_image(256), fmt) if fmt != "PNG" else files.example_png()
        return whole[: int(len(whole) * fraction)]

    return make


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _dir(p: Path) -> None:
    p.mkdir()
    (p / "inner.png").write_bytes(files.example_png(32))


def _loop(p: Path) -> None:
    other = p.with_name("ring-b.png")
    os.symlink(other.name, p)
    os.symlink(p.name, other)


def _dangling(p: Path) -> None:
    os.symlink("does-not-exist.png", p)


def _bad_crc(p: Path) -> None:
    data = bytearray(files.example_png())
    data[29] ^= 0xFF  # inside IHDR's CRC
    p.write_bytes(bytes(data))


def _big_file(p: Path) -> None:
    with p.open("wb") as f:  # a valid PNG followed by 60 MB of trailing bytes (over the 50 MB cap)
        f.write(files.example_png())
        f.truncate(60 * 1024 * 1024)


# slug, what it is, how to make it at a path, whether the image is usable
BAD: list[tuple[str, str, Callable[[Path], None]]] = [
    ("random-bytes", "random bytes named .png", _bytes(lambda: os.urandom(4096))),
    ("zero-bytes", "an empty file", _bytes(lambda: b"")),
    ("truncated-png", "a PNG cut at half its size", _bytes(_truncated(0.5))),
    ("truncated-png-header", "only the first 20 bytes of a PNG", _bytes(_truncated(0.002))),
    ("truncated-jpeg", "a JPEG cut at 60%", _bytes(_truncated(0.6, "JPEG"))),
    ("truncated-webp", "a WebP cut at 50%", _bytes(_truncated(0.5, "WEBP"))),
    (
        "bomb-header-100k",
        "IHDR claims 100000 x 100000 pixels",
        _bytes(lambda: files.png_header_only(100_000, 100_000)),
    ),
    (
        "bomb-header-2g",
        "IHDR claims 2^31-1 x 2^31-1",
        _bytes(lambda: files.png_header_only(2**31 - 1, 2**31 - 1)),
    ),
    (
        "bomb-real-12k",
        "a real 12000 x 12000 zero-filled PNG (144 MP, a few KB)",
        _bytes(lambda: files.png_bomb(12_000)),
    ),
    ("zero-size-header", "IHDR claims 0 x 0", _bytes(lambda: files.png_header_only(0, 0))),
    ("bad-crc", "a PNG with a broken IHDR checksum", _bad_crc),
    ("gif-as-png", "a GIF named .png", _bytes(lambda: files.encode(files.example_image(32), "GIF"))),
    ("bmp-as-png", "a BMP named .png", _bytes(lambda: files.encode(files.example_image(32), "BMP"))),
    ("tiff-as-png", "a TIFF named .png", _bytes(lambda: files.encode(files.example_image(32), "TIFF"))),
    ("html-as-png", "an HTML page named .png", _bytes(lambda: b"<html><script>alert(1)</script></html>")),
    ("svg-as-png", "an SVG named .png", _bytes(lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>')),
    ("directory", "a directory named x.png", _dir),
    ("fifo", "a FIFO named x.png (nobody writes to it)", _fifo),
    ("symlink-loop", "a symlink loop ring.png -> ring-b.png -> ring.png", _loop),
    ("dangling-symlink", "a symlink to a missing file", _dangling),
    ("over-50mb", "a valid PNG padded to 60 MB", _big_file),
    (
        "ztxt-bomb",
        "a PNG whose zTXt chunk inflates to 20 MB",
        _bytes(
            lambda: files.insert_chunks(
                files.example_png(64),
                files.chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * 20_000_000)),
            )
        ),
    ),
]

ODD_BUT_VALID: list[tuple[str, str, Callable[[], bytes]]] = [
    ("apng", "an animated PNG (first frame is used)", lambda: files.animated("PNG")),
    ("animated-webp", "an animated WebP", lambda: files.animated("WEBP")),
    ("cmyk-jpeg", "a CMYK JPEG", lambda: files.in_mode("CMYK", "JPEG")),
    ("png-16bit", "a 16-bit greyscale PNG", lambda: files.in_mode("I;16")),
    ("palette-transparency", "a palette PNG with transparency", lambda: files.in_mode("P+transparency")),
    ("grey-alpha", "an LA (grey + alpha) PNG", lambda: files.in_mode("LA")),
    ("one-bit", "a 1-bit PNG", lambda: files.in_mode("1")),
    ("rgba", "an RGBA PNG", lambda: files.in_mode("RGBA")),
    ("jpeg-as-png", "a JPEG named .png", lambda: files.encode(files.example_image(64), "JPEG")),
    ("exif-rotated", "a JPEG with EXIF orientation 6", files.exif_rotated_jpeg),
    ("one-pixel", "a 1 x 1 PNG", lambda: files.encode(files.example_image(1), "PNG")),
    (
        "thin-strip",
        "a 20000 x 1 PNG",
        lambda: files.encode(files.example_image(64).resize((20_000, 1)), "PNG"),
    ),
]


def _name(slug: str) -> str:
    if slug == "symlink-loop":
        return "ring.png"  # a name without "loop" in it: the message must say what is wrong
    return f"{slug}.png" if slug not in ("exif-rotated", "cmyk-jpeg") else f"{slug}.jpg"


def _used(name: str) -> Callable[[Ctx, Outcome], str | None]:
    def check(ctx: Ctx, o: Outcome) -> str | None:
        return f"{name} was skipped: {o.stderr.strip()[:120]}" if name in o.stderr else None

    return check


def _winner(ctx: Ctx, o: Outcome) -> str | None:
    return None if "winner:" in o.stdout else "no winner line on stdout"


def _put(slug: str, make: Callable[[Path], None], where: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.refs()
        make(ctx.path(f"{where}/{_name(slug)}"))

    return setup


CASES: list[Case] = []
for slug, what, make in BAD:
    name = _name(slug)
    # A loop must be called one, not "does not exist".
    said = (name, "loop|too many levels|symbolic link") if slug == "symlink-loop" else (name,)
    CASES.append(
        Case(
            f"img-ref-{slug}",
            AREA,
            f"reference: {what}; skipped with its name, the profile is made",
            succeeds(warns=said),
            argv=["profile", *REFS],
            setup=_put(slug, make, "refs/likes"),
        )
    )
    CASES.append(
        Case(
            f"img-cand-{slug}",
            AREA,
            f"compare candidate A: {what}",
            fails(*said),
            argv=["compare", *REFS, f"cand/{name}", "$good"],
            setup=_put(slug, make, "cand"),
        )
    )
for slug, what, data in ODD_BUT_VALID:
    name = _name(slug)
    make = _bytes(data)
    CASES.append(
        Case(
            f"img-ref-{slug}",
            AREA,
            f"reference: {what}; used",
            succeeds(_used(name)),
            argv=["profile", *REFS],
            setup=_put(slug, make, "refs/likes"),
        )
    )
    CASES.append(
        Case(
            f"img-cand-{slug}",
            AREA,
            f"compare candidate A: {what}; judged",
            succeeds(_winner),
            argv=["compare", *REFS, f"cand/{name}", "$good"],
            setup=_put(slug, make, "cand"),
        )
    )


def _only_bad(ctx: Ctx) -> None:
    for i, (slug, _, make) in enumerate(BAD[:6]):
        make(ctx.path(f"allbad/likes/{i}-{_name(slug)}"))


def _empty(ctx: Ctx) -> None:
    ctx.path("empty/likes/readme.md").write_text("no images here")


def _rank_one_bad(ctx: Ctx) -> None:
    ctx.refs()
    ctx.write("cand/broken.png", b"\x89PNG\r\n\x1a\n broken")
    ctx.copy_example("cand/good.png")
    ctx.copy_example("cand/other.png", "dislikes/01_pop_city.png")


def _rank_all_bad(ctx: Ctx) -> None:
    ctx.refs()
    for i in range(3):
        ctx.write(f"cand/broken{i}.png", os.urandom(100))


def _two_listed(ctx: Ctx, o: Outcome) -> str | None:
    lines = [ln for ln in o.stdout.splitlines() if ".png" in ln]
    return None if len(lines) == 2 else f"expected the 2 usable candidates ranked, got {len(lines)} lines"


CASES += [
    Case(
        "img-refs-all-bad",
        AREA,
        "every liked reference is unusable",
        fails("allbad", "random-bytes.png"),
        argv=["profile", "--refs", "allbad"],
        setup=_only_bad,
    ),
    Case(
        "img-refs-none",
        AREA,
        "the likes folder holds no image files",
        fails("empty"),
        argv=["profile", "--refs", "empty"],
        setup=_empty,
    ),
    Case(
        "img-refs-missing",
        AREA,
        "--refs names a folder that does not exist",
        fails("nowhere"),
        argv=["profile", "--refs", "nowhere"],
    ),
    Case(
        "img-refs-is-file",
        AREA,
        "--refs names an image file",
        fails("single.png"),
        argv=["profile", "--refs", "single.png"],
        setup=lambda c: c.copy_example("single.png"),
    ),
    Case(
        "img-rank-one-bad",
        AREA,
        "rank: one of three candidates is corrupt; skipped with its name",
        succeeds(_two_listed, warns=("broken.png",)),
        argv=["rank", *REFS, "cand"],
        setup=_rank_one_bad,
    ),
    Case(
        "img-rank-all-bad",
        AREA,
        "rank: every candidate is corrupt",
        fails("broken0.png"),
        argv=["rank", *REFS, "cand"],
        setup=_rank_all_bad,
    ),
    Case(
        "img-cand-missing",
        AREA,
        "compare: candidate A does not exist",
        fails("ghost.png"),
        argv=["compare", *REFS, "ghost.png", "$good"],
        setup=lambda c: c.refs(),
    ),
    Case(
        "img-cand-same-file",
        AREA,
        "compare: A and B are the same file; judged or refused clearly",
        either(_winner, "01_quiet_lake_dusk.png"),
        argv=["compare", *REFS, "$good", "$good"],
        setup=lambda c: c.refs(),
    ),
]
