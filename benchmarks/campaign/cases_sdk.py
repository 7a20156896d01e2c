"""SDK calls a programmer gets slightly wrong. Each snippet runs under the CLI's contract: an
InputError/BackendError (or pydantic's ValidationError) is a message and exit 2/3; anything else
is a traceback. Results that are right print OK lines a check reads."""

from __future__ import annotations

from harness import Case, Ctx, Outcome, either, fails

AREA = "sdk"
PRE = "import agentpref, numpy as np\nfrom PIL import Image\nfrom agentpref import ImageRef\n"
FAST = "n=1, iterations=1, size=(64, 64)"


def _refs(ctx: Ctx) -> None:
    ctx.refs()


def _said(text: str):
    def check(ctx: Ctx, o: Outcome) -> str | None:
        return None if text in o.stdout else f"expected {text!r} on stdout, got {o.stdout.strip()[-120:]!r}"

    return check


def _sdk(slug: str, what: str, code: str, expect, **kw: object) -> Case:
    return Case(f"sdk-{slug}", AREA, what, expect, python=PRE + code, setup=kw.pop("setup", _refs), **kw)


_IN_MEMORY = """
from pathlib import Path
files = sorted(Path('refs/likes').glob('*.png'))
likes = [files[0].read_bytes(), Image.open(files[1]),
         Image.open(files[0]).resize((40, 40)), Image.open(files[1]).rotate(90)]
dislikes = [Path(p).read_bytes() for p in sorted(Path('refs/dislikes').glob('*.png'))]
refs = agentpref.load_references(likes, dislikes)
r = agentpref.personalize(refs, 'a lake', out='run', {fast})
print('USED', len(r.record.references))
""".replace("{fast}", FAST)

CASES: list[Case] = [
    _sdk(
        "in-memory-refs",
        "personalize with 4 liked (bytes, PIL) + 2 disliked in-memory references: all used",
        _IN_MEMORY,
        either(_said("USED 6"), "memory|bytes|path"),
    ),
    _sdk(
        "load-references-none",
        "load_references(None)",
        "agentpref.load_references(None)",
        fails("likes|None"),
    ),
    _sdk(
        "load-references-empty-string",
        "load_references('')",
        "agentpref.load_references('')",
        fails("''|empty|no liked images"),
    ),
    _sdk("load-references-int", "load_references(42)", "agentpref.load_references(42)", fails("42|int")),
    _sdk(
        "load-references-empty-list",
        "load_references([])",
        "agentpref.load_references([])",
        fails("no liked|likes"),
    ),
    _sdk(
        "load-references-bad-bytes",
        "load_references([b'junk'])",
        "agentpref.load_references([b'junk'])",
        fails("image"),
    ),
    _sdk(
        "rank-dir-string",
        "judge.rank(profile, 'refs/likes'): a folder string ranks its images, or is refused",
        "j = agentpref.load_assessor('features')\nrefs = agentpref.load_references('refs')\n"
        "p = j.profile(refs.likes, refs.dislikes)\nr = j.rank(p, 'refs/likes')\n"
        "print('RANKED', len(r.candidates))",
        either(_said("RANKED 2"), "refs/likes"),
    ),
    _sdk(
        "rank-empty",
        "judge.rank(profile, [])",
        "j = agentpref.load_assessor('features')\nrefs = agentpref.load_references('refs')\n"
        "j.rank(j.profile(refs.likes, refs.dislikes), [])",
        either(None, "no |empty|candidates"),
    ),
    _sdk(
        "imageref-0x0",
        "ImageRef of a 0x0 PIL image",
        "ImageRef.from_pil(Image.new('RGB', (0, 0)))",
        fails("0x0|0 x 0|empty"),
    ),
    _sdk(
        "imageref-empty-bytes",
        "ImageRef.from_bytes(b'')",
        "ImageRef.from_bytes(b'')",
        fails("empty|0 bytes|image"),
    ),
    _sdk("imageref-coerce-none", "ImageRef.coerce(None)", "ImageRef.coerce(None)", fails("None")),
    _sdk(
        "imageref-numpy-float",
        "ImageRef from a float64 numpy array in 0..1",
        "r = ImageRef.coerce(np.random.default_rng(0).random((32, 32, 3)))\nprint('SIZE', r.image().size)",
        either(_said("SIZE (32, 32)"), "float|dtype"),
    ),
    _sdk(
        "imageref-numpy-4d",
        "ImageRef from a 4-D numpy array",
        "ImageRef.coerce(np.zeros((2, 8, 8, 3), np.uint8))",
        fails("shape|dimension|4"),
    ),
    _sdk(
        "imageref-huge-pil",
        "ImageRef of a 20000 x 20000 PIL image (400 MP) is refused by the pixel cap",
        "ImageRef.from_pil(Image.new('L', (20000, 20000)))",
        fails("pixels|MP|megapixel"),
    ),
    _sdk(
        "personalize-out-file",
        "personalize(out=<a file>)",
        f"open('f.txt', 'w').write('x')\nagentpref.personalize('refs', 'x', out='f.txt', {FAST})",
        fails("f.txt"),
    ),
    _sdk(
        "personalize-n-zero",
        "personalize(n=0)",
        "agentpref.personalize('refs', 'x', out='run', n=0, iterations=1)",
        fails("n"),
    ),
    _sdk(
        "personalize-size-zero",
        "personalize(size=(0, 0))",
        "agentpref.personalize('refs', 'x', out='run', n=1, iterations=1, size=(0, 0))",
        fails("size"),
    ),
    _sdk(
        "personalize-seed-huge",
        "personalize(seed=2**70)",
        f"agentpref.personalize('refs', 'x', out='run', seed=2**70, {FAST})",
        fails("seed"),
    ),
    _sdk(
        "personalize-prompt-none",
        "personalize(prompt=None): a subject is chosen (the likes' shared one, else a neutral scene)",
        f"r = agentpref.personalize('refs', None, out='run', {FAST})\nprint('SUBJECT', r.record.subject)",
        either(_said("SUBJECT a "), "prompt|subject"),
    ),
    _sdk(
        "personalize-prompt-empty",
        "personalize(prompt='')",
        f"agentpref.personalize('refs', '', out='run', {FAST})",
        fails("subject"),
    ),
    _sdk(
        "personalize-refs-missing",
        "personalize('nowhere')",
        f"agentpref.personalize('nowhere', 'x', out='run', {FAST})",
        fails("nowhere"),
    ),
    _sdk(
        "personalize-dislikes-file",
        "personalize(dislikes=<an image file>)",
        f"agentpref.personalize('refs/likes', 'x', dislikes='$good', out='run', {FAST})",
        either(None, "01_quiet_lake_dusk.png"),
    ),
    _sdk(
        "load-assessor-timeout-x",
        "load_assessor('vllm://...', timeout='x')",
        "agentpref.load_assessor('vllm://127.0.0.1:9?model=m', timeout='x')",
        fails("timeout"),
    ),
    _sdk(
        "load-assessor-retries-neg",
        "load_assessor('openai://...', retries=-1)",
        "agentpref.load_assessor('openai://127.0.0.1:9/v1?model=m', retries=-1)",
        fails("retries"),
    ),
    _sdk(
        "load-assessor-bogus-kw",
        "load_assessor('features', bogus=1)",
        "agentpref.load_assessor('features', bogus=1)",
        fails("bogus"),
    ),
    _sdk("load-assessor-int", "load_assessor(123)", "agentpref.load_assessor(123)", fails("123")),
    _sdk(
        "load-generator-bogus",
        "load_generator('painter', bogus=1)",
        "agentpref.load_generator('painter', bogus=1)",
        fails("bogus"),
    ),
    _sdk(
        "compare-missing-file",
        "judge.compare(profile, 'missing.png', b)",
        "j = agentpref.load_assessor('features')\nrefs = agentpref.load_references('refs')\n"
        "j.compare(j.profile(refs.likes, refs.dislikes), 'missing.png', '$good')",
        fails("missing.png"),
    ),
    _sdk(
        "compare-profile-none",
        "judge.compare(None, a, b)",
        "agentpref.load_assessor('features').compare(None, '$good', '$good2')",
        either(None, "profile|None"),
    ),
    _sdk(
        "profile-no-likes",
        "judge.profile([], [])",
        "agentpref.load_assessor('features').profile([], [])",
        fails("like"),
    ),
    _sdk("resume-missing", "resume('nowhere')", "agentpref.resume('nowhere')", fails("nowhere")),
    _sdk(
        "resume-file",
        "resume(<a file>)",
        "open('f.txt', 'w').write('x')\nagentpref.resume('f.txt')",
        fails("f.txt"),
    ),
    _sdk(
        "resume-foreign-folder",
        "resume(<a folder that is not a run>)",
        "agentpref.resume('refs')",
        fails("refs"),
    ),
    _sdk(
        "personalize-pil-mode-p",
        "personalize with a palette-mode PIL image as a reference: used",
        "from pathlib import Path\nf = sorted(Path('refs/likes').glob('*.png'))\n"
        "refs = agentpref.load_references([Image.open(f[0]).convert('P'), Image.open(f[1])])\n"
        f"r = agentpref.personalize(refs, 'x', out='run', {FAST})\nprint('USED', len(r.record.references))",
        either(_said("USED 2"), "memory|PIL|path"),
    ),
]
