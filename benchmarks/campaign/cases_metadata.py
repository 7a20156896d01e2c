"""Image metadata: adversarial prompt text in every place it is read from (A1111 `parameters`, a
ComfyUI `prompt` graph, a PNG Description, EXIF UserComment and ImageDescription, a sidecar
.txt). The image is still a good reference: `profile` must finish quickly, use it, and print no
control character, escape sequence or bidi override it was handed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import files
from harness import Case, Ctx, Outcome, succeeds

AREA = "metadata"
NAME = "meta.png"
# What must never reach a terminal from untrusted text: C0/C1 controls (but newline and tab), bidi.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

PAYLOADS: dict[str, tuple[str, str]] = {
    "spaces-40k": ("a run of 40,000 spaces", "watercolor" + " " * 40_000 + "x"),
    "a-colon-40k": ("'a:' repeated 20,000 times", "a:" * 20_000),
    "quotes-40k": ("40,000 double quotes after a key", 'Steps: "' + '"' * 40_000),
    "backslash-40k": ("a key, a quote, then 40,000 backslashes", 'Model: "' + "\\" * 40_000),
    "words-40k": ("'word ' x 8,000 with no colon", "word " * 8_000),
    "mixed-1m": ("1 MB of 'a b: \"c\\' pieces", 'a b: "c\\ ' * 100_000),
    "control": (
        "ESC clear-screen, OSC window title, BEL, backspace",
        "watercolor \x1b[2J\x1b]0;owned\x07\x08 lake",
    ),
    "osc52": ("an OSC 52 clipboard write", "lake \x1b]52;c;cm0gLXJmIH4=\x07 watercolor"),
    "bidi": ("a right-to-left override", "watercolor \u202egnp.exe\u202c lake \u2066x\u2069"),
    "markup": (
        "rich markup, a closing tag first",
        "[/x] [red]alarm[/red] [link=http://e]click[/link] watercolor",
    ),
    "html": ("HTML and script", "<script>alert(1)</script><img src=x onerror=alert(1)> watercolor"),
    "nul-surrogates": ("NUL bytes and lone surrogates", "water\x00color \ud800 lake \udfff"),
}
# Whether a carrier can hold a payload: EXIF lives in one 64 KB JPEG segment.
_EXIF_MAX = 30_000


def _a1111(text: str) -> bytes:
    return files.png_with_text(files.example_png(64), "parameters", text)


def _as_a1111(text: str) -> str:
    """The payload as the settings line of A1111 text (the last line, which a regex reads)."""
    return f"a lake\nNegative prompt: ugly\n{text}"


def _a1111_settings(text: str) -> bytes:
    return files.png_with_text(files.example_png(64), "parameters", _as_a1111(text))


def _comfy(text: str) -> bytes:
    graph = {
        "3": {"class_type": "KSampler", "inputs": {"positive": ["6", 0], "negative": ["7", 0]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": text}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly"}},
    }
    return files.png_with_text(files.example_png(64), "prompt", json.dumps(graph))


def _description(text: str) -> bytes:
    return files.png_with_text(files.example_png(64), "Description", text)


def _exif_comment(text: str) -> bytes:
    return files.jpeg_with_exif(user_comment=files.user_comment(_as_a1111(text)[:_EXIF_MAX]))


def _exif_description(text: str) -> bytes:
    return files.jpeg_with_exif(description=text[:_EXIF_MAX])


CARRIERS: dict[str, tuple[str, Callable[[str], bytes], str]] = {
    "a1111": ("A1111 `parameters` PNG chunk", _a1111, NAME),
    "a1111-settings": ("A1111 `parameters`, payload as the settings line", _a1111_settings, NAME),
    "comfyui": ("ComfyUI `prompt` graph, CLIPTextEncode text", _comfy, NAME),
    "description": ("PNG `Description` chunk", _description, NAME),
    "exif-comment": ("EXIF UserComment (UTF-16, A1111 layout)", _exif_comment, "meta.jpg"),
    "exif-description": ("EXIF ImageDescription", _exif_description, "meta.jpg"),
    "sidecar": ("sidecar meta.txt (A1111 layout) beside the image", lambda text: files.example_png(64), NAME),
}


def _used_and_clean(name: str) -> Callable[[Ctx, Outcome], str | None]:
    def check(ctx: Ctx, o: Outcome) -> str | None:
        if name in o.stderr:
            return f"{name} was skipped: {o.stderr.strip()[:100]}"
        if m := _UNSAFE.search(o.stdout + o.stderr):
            return f"control character {m.group()!r} reached the terminal"
        return None

    return check


def _setup(carrier: str, payload: str) -> Callable[[Ctx], None]:
    _, make, name = CARRIERS[carrier]

    def setup(ctx: Ctx) -> None:
        ctx.refs()
        text = PAYLOADS[payload][1]
        data = make(text)
        ctx.write(f"refs/likes/{name}", data)
        if carrier == "sidecar":
            ctx.write("refs/likes/meta.txt", _as_a1111(text).encode("utf-8", "surrogatepass"))

    return setup


CASES: list[Case] = []
for carrier, (where, _, name) in CARRIERS.items():
    for payload, (what, _) in PAYLOADS.items():
        big = payload.endswith(("40k", "1m"))
        CASES.append(
            Case(
                f"meta-{carrier}-{payload}",
                AREA,
                f"{where}: {what}",
                succeeds(_used_and_clean(name), within=8.0 if big else None),
                argv=["profile", "--refs", "refs"],
                setup=_setup(carrier, payload),
                timeout=12
                if big
                else 20,  # past the 8 s bound it is a hang; waiting longer says nothing more
            )
        )


def _graph_png(raw: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.refs()
        ctx.write(f"refs/likes/{NAME}", files.png_with_text(files.example_png(64), "prompt", raw))

    return setup


_CYCLE = json.dumps(
    {
        "1": {"class_type": "KSampler", "inputs": {"positive": ["2", 0], "negative": ["2", 1]}},
        "2": {
            "class_type": "ConditioningCombine",
            "inputs": {"conditioning_1": ["2", 0], "positive": ["2", 0], "negative": ["2", 1]},
        },
    }
)
_CHAIN = json.dumps(
    {
        "0": {"class_type": "KSampler", "inputs": {"positive": ["1", 0]}},
        **{
            str(i): {
                "class_type": "ConditioningCombine",
                "inputs": {"conditioning_1": [str(i + 1), 0], "conditioning_2": [str(i + 1), 0]},
            }
            for i in range(1, 60)
        },
        "60": {"class_type": "CLIPTextEncode", "inputs": {"text": "watercolor lake"}},
    }
)
_WIDE = json.dumps(
    {str(i): {"class_type": "CLIPTextEncode", "inputs": {"text": "x" * 20}} for i in range(20_000)}
)


def _report_escaped(ctx: Ctx, o: Outcome) -> str | None:
    report = (ctx.root / "run" / "report.html").read_text(errors="replace")
    return "raw <script> from metadata in report.html" if "<script>alert(1)" in report else None


CASES += [
    Case(
        "meta-comfyui-deep-nesting",
        AREA,
        "ComfyUI `prompt` nested 100,000 lists deep",
        succeeds(_used_and_clean(NAME)),
        argv=["profile", "--refs", "refs"],
        setup=_graph_png("[" * 100_000 + "]" * 100_000),
    ),
    Case(
        "meta-comfyui-cycle",
        AREA,
        "ComfyUI graph whose conditioning node feeds itself",
        succeeds(_used_and_clean(NAME), within=8.0),
        argv=["profile", "--refs", "refs"],
        setup=_graph_png(_CYCLE),
    ),
    Case(
        "meta-comfyui-diamond-chain",
        AREA,
        "ComfyUI graph: 60 combiners each wired twice to the next (2^60 paths)",
        succeeds(_used_and_clean(NAME), within=8.0),
        argv=["profile", "--refs", "refs"],
        setup=_graph_png(_CHAIN),
    ),
    Case(
        "meta-comfyui-20k-nodes",
        AREA,
        "ComfyUI graph of 20,000 text encoders",
        succeeds(_used_and_clean(NAME), within=8.0),
        argv=["profile", "--refs", "refs"],
        setup=_graph_png(_WIDE),
    ),
    Case(
        "meta-comfyui-not-json",
        AREA,
        "ComfyUI `prompt` chunk that is not JSON (NaN, trailing junk)",
        succeeds(_used_and_clean(NAME)),
        argv=["profile", "--refs", "refs"],
        setup=_graph_png('{"1": NaN} junk'),
    ),
    Case(
        "meta-comfyui-wrong-types",
        AREA,
        "ComfyUI graph with lists, numbers and nulls where nodes belong",
        succeeds(_used_and_clean(NAME)),
        argv=["profile", "--refs", "refs"],
        setup=_graph_png(
            json.dumps(
                {
                    "1": [1, 2],
                    "2": None,
                    "3": {"inputs": {"positive": [None, "x"]}},
                    "4": {"class_type": 5, "inputs": {"text": ["4", 0]}},
                }
            )
        ),
    ),
    Case(
        "meta-sidecar-not-utf8",
        AREA,
        "sidecar .txt of random non-UTF-8 bytes",
        succeeds(_used_and_clean(NAME)),
        argv=["profile", "--refs", "refs"],
        setup=lambda c: (
            c.refs(),
            c.write(f"refs/likes/{NAME}", files.example_png(64)),
            c.write("refs/likes/meta.txt", bytes(range(256)) * 400),
        ),
    ),
    Case(
        "meta-sidecar-fifo",
        AREA,
        "the sidecar meta.txt is a FIFO nobody writes to",
        succeeds(_used_and_clean(NAME)),
        argv=["profile", "--refs", "refs"],
        setup=lambda c: (
            c.refs(),
            c.write(f"refs/likes/{NAME}", files.example_png(64)),
            __import__("os").mkfifo(c.root / "refs/likes/meta.txt"),
        ),
    ),
    Case(
        "meta-sidecar-symlink-out",
        AREA,
        "the sidecar meta.txt is a symlink to a file outside the folder",
        succeeds(_used_and_clean(NAME)),
        argv=["profile", "--refs", "refs"],
        setup=lambda c: (
            c.refs(),
            c.write(f"refs/likes/{NAME}", files.example_png(64)),
            (c.root / "refs/likes/meta.txt").symlink_to(c.outside / "canary.txt"),
        ),
    ),
    Case(
        "meta-html-report",
        AREA,
        "generate with a reference whose A1111 prompt holds a script: report escapes it",
        succeeds(_report_escaped),
        argv=[
            "generate",
            "--refs",
            "refs",
            "--prompt",
            "x",
            "-n",
            "1",
            "--iterations",
            "1",
            "--size",
            "64x64",
            "--out",
            "run",
        ],
        setup=_setup("a1111", "html"),
    ),
    Case(
        "meta-markup-generate",
        AREA,
        "generate with a reference whose prompt holds rich markup and escapes",
        succeeds(_used_and_clean(NAME)),
        argv=[
            "generate",
            "--refs",
            "refs",
            "--prompt",
            "x",
            "-n",
            "1",
            "--iterations",
            "1",
            "--size",
            "64x64",
            "--out",
            "run",
        ],
        setup=_setup("a1111", "markup"),
    ),
]
