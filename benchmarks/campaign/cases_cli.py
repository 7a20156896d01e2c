"""CLI options a careless user types: out-of-range numbers, an --out that cannot be written, a
--resume whose arguments differ from the run's, file names holding markup or escape sequences."""

from __future__ import annotations

import re
from collections.abc import Callable

from harness import Case, Ctx, Outcome, either, fails, succeeds

AREA = "cli"
GEN = ("generate", "--refs", "refs", "--prompt", "a lake", "-n", "1", "--iterations", "1", "--size", "64x64")
EVAL = ("eval", "data", "--assessor", "random", "--no-refs-sweep", "--no-swap", "--top-k-groups", "0")
RO = "/sys/agentpref-campaign"  # not writable even by root: a read-only folder
_ESC = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _refs(ctx: Ctx) -> None:
    ctx.refs()


def _eval_data(ctx: Ctx) -> None:
    """A valid user folder with 3 pairs."""
    import json
    import shutil

    from harness import EXAMPLES

    user = ctx.root / "data" / "alice"
    for sub, srcs in (
        ("liked", ["likes/02_misty_sea_morning.png"]),
        ("disliked", ["dislikes/02_benday_target.png"]),
        ("queries", ["likes/01_quiet_lake_dusk.png", "dislikes/01_pop_city.png", "likes/03_sage_hills.png"]),
    ):
        (user / sub).mkdir(parents=True)
        for s in srcs:
            shutil.copyfile(EXAMPLES / s, user / sub / s.split("/")[1])
    pairs = [
        {"a": "01_quiet_lake_dusk.png", "b": "01_pop_city.png", "winner": "a"},
        {"a": "03_sage_hills.png", "b": "01_pop_city.png", "winner": "a"},
        {"a": "01_pop_city.png", "b": "03_sage_hills.png", "winner": "b"},
    ]
    (user / "manifest.json").write_text(json.dumps({"pairs": pairs}))


def _finished_run(ctx: Ctx) -> None:
    ctx.refs()
    ctx.refs("refs2", likes=3, dislikes=1)
    done = ctx.run([*GEN, "--out", "run"])
    if done.rc != 0:
        raise RuntimeError(f"setup run failed: {done.stderr[-300:]}")


def _samples(n: int) -> Callable[[Ctx, Outcome], str | None]:
    def check(ctx: Ctx, o: Outcome) -> str | None:
        lines = (ctx.root / "out" / "samples.jsonl").read_text().splitlines()
        return None if len(lines) == n else f"{len(lines)} judgments, expected {n}"

    return check


def _terminal_safe(*literal: str) -> Callable[[Ctx, Outcome], str | None]:
    """No control character reached the terminal, and every `literal` name was shown as it is."""

    def check(ctx: Ctx, o: Outcome) -> str | None:
        if m := _ESC.search(o.stdout + o.stderr):
            return f"control character {m.group()!r} reached the terminal"
        missing = [s for s in literal if s not in o.stdout + o.stderr]
        return f"name shown altered, {missing[0]!r} missing" if missing else None

    return check


def _named_candidate(name: str, also: tuple[str, ...] = ()) -> Case:
    slug = re.sub(r"[^a-z0-9]+", "-", name.encode("ascii", "backslashreplace").decode().lower()).strip("-")[
        :30
    ]

    def setup(ctx: Ctx) -> None:
        ctx.refs()
        ctx.copy_example(f"cand/{name}")

    return Case(
        f"cli-filename-{slug}",
        AREA,
        f"compare a candidate named {name!r}",
        succeeds(_terminal_safe(*also)),
        argv=["compare", "--refs", "refs", f"cand/{name}", "$good2"],
        setup=setup,
    )


def _resume_differs(slug: str, flag: list[str], names: str) -> Case:
    return Case(
        f"cli-resume-differs-{slug}",
        AREA,
        f"--resume with {' '.join(flag)} unlike the run's: say which differs",
        fails(names),
        argv=[*GEN[:1], "--resume", "--out", "run", *flag],
        setup=_finished_run,
        timeout=40,
    )


CASES: list[Case] = [
    Case(
        "cli-eval-limit-negative",
        AREA,
        "eval --limit -1",
        fails("limit"),
        argv=[*EVAL, "--limit", "-1", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-limit-zero",
        AREA,
        "eval --limit 0",
        fails("limit"),
        argv=[*EVAL, "--limit", "0", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-limit-one",
        AREA,
        "eval --limit 1 judges exactly one pair (control)",
        succeeds(_samples(1)),
        argv=[*EVAL, "--limit", "1", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-limit-abc",
        AREA,
        "eval --limit abc",
        fails("limit"),
        argv=[*EVAL, "--limit", "abc", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-concurrency-zero",
        AREA,
        "eval --concurrency 0",
        fails("concurrency"),
        argv=[*EVAL, "--concurrency", "0", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-concurrency-huge",
        AREA,
        "eval --concurrency 1000000000",
        either(None, "--concurrency"),
        argv=[*EVAL, "--concurrency", "1000000000", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-top-k-1",
        AREA,
        "eval --top-k 1",
        fails("top-k"),
        argv=[*EVAL, "--top-k", "1", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-split-missing",
        AREA,
        "eval --split NOPE",
        fails("NOPE"),
        argv=[*EVAL, "--split", "NOPE", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-image-root-missing",
        AREA,
        "eval --image-root a missing folder",
        fails("--image-root|nowhere"),
        argv=[*EVAL, "--image-root", "nowhere", "--out", "out"],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-out-file",
        AREA,
        "eval --out names an existing file",
        fails("out.txt"),
        argv=[*EVAL, "--out", "out.txt"],
        setup=lambda c: (_eval_data(c), c.write("out.txt", "x")),
    ),
    Case(
        "cli-eval-out-readonly",
        AREA,
        "eval --out in a read-only place",
        fails(RO),
        argv=[*EVAL, "--out", RO],
        setup=_eval_data,
    ),
    Case(
        "cli-eval-data-missing",
        AREA,
        "eval of a path that does not exist",
        fails("missing.json"),
        argv=["eval", "missing.json", "--out", "out"],
    ),
    Case(
        "cli-eval-data-wrong-suffix",
        AREA,
        "eval of a .csv file",
        fails("data.csv"),
        argv=["eval", "data.csv", "--out", "out"],
        setup=lambda c: c.write("data.csv", "a,b\n"),
    ),
    Case(
        "cli-eval-no-matplotlib",
        AREA,
        "eval on a core install without matplotlib: results written, no crash",
        either(
            lambda c, o: None if (c.root / "out/results.json").is_file() else "no results.json", "matplotlib"
        ),
        argv=[*EVAL, "--out", "out"],
        setup=_eval_data,
        hide=("matplotlib",),
    ),
    Case(
        "cli-eval-markup-split",
        AREA,
        "a split name holding TeX and markup ($\\undefinedcmd$ [/x])",
        succeeds(lambda c, o: None if (c.root / "out/results.json").is_file() else "no results.json"),
        argv=[*EVAL, "--out", "out"],
        setup=lambda c: (
            _eval_data(c),
            (c.root / "data/alice/manifest.json").write_text(
                (c.root / "data/alice/manifest.json").read_text()[:-1]
                + ', "split": "$\\\\undefinedcmd$ [/x]"}'
            ),
        ),
    ),
    Case(
        "cli-gen-seed-2-70",
        AREA,
        "generate --seed 2**70",
        fails("seed"),
        argv=[*GEN, "--out", "run", "--seed", str(2**70)],
        setup=_refs,
    ),
    Case(
        "cli-gen-seed-2-70-then-rerun",
        AREA,
        "after --seed 2**70 was refused, the same --out with a good seed works",
        succeeds(),
        argv=[*GEN, "--out", "run"],
        setup=lambda c: (c.refs(), c.run([*GEN, "--out", "run", "--seed", str(2**70)])),
    ),
    Case(
        "cli-gen-seed-negative",
        AREA,
        "generate --seed -1",
        either(None, "--seed"),
        argv=[*GEN, "--out", "run", "--seed", "-1"],
        setup=_refs,
    ),
    *[
        Case(
            f"cli-gen-size-{slug}",
            AREA,
            f"generate --size {size}",
            fails("size"),
            argv=[*GEN[:-2], "--size", size, "--out", "run"],
            setup=_refs,
        )
        for slug, size in (
            ("0x0", "0x0"),
            ("99999x1", "99999x1"),
            ("abc", "abc"),
            ("3d", "64x64x3"),
            ("negative", "-64x64"),
            ("float", "64.5x64"),
            ("empty", ""),
        )
    ],
    Case(
        "cli-gen-n-zero",
        AREA,
        "generate -n 0",
        fails("-n"),
        argv=[*GEN[:5], "-n", "0", "--out", "run"],
        setup=_refs,
    ),
    Case(
        "cli-gen-iterations-zero",
        AREA,
        "generate --iterations 0",
        fails("iterations"),
        argv=[*GEN[:5], "--iterations", "0", "--out", "run"],
        setup=_refs,
    ),
    Case(
        "cli-gen-target-6",
        AREA,
        "generate --target 6",
        fails("target"),
        argv=[*GEN, "--target", "6", "--out", "run"],
        setup=_refs,
    ),
    Case(
        "cli-gen-no-prompt",
        AREA,
        "generate without --prompt: runs, and says which subject it chose",
        succeeds(warns=("subject",)),
        argv=["generate", "--refs", "refs", "-n", "1", "--iterations", "1", "--size", "64x64", "--out", "o"],
        setup=_refs,
    ),
    Case(
        "cli-gen-prompt-twice",
        AREA,
        "generate --prompt a --prompt b: refused, never a silent overwrite",
        fails("--prompt was given 2 times"),
        argv=[*GEN, "--prompt", "a harbour", "--out", "run"],
        setup=_refs,
    ),
    Case(
        "cli-gen-empty-prompt",
        AREA,
        "generate --prompt ''",
        either(None, "--prompt"),
        argv=[
            "generate",
            "--refs",
            "refs",
            "--prompt",
            "",
            "-n",
            "1",
            "--iterations",
            "1",
            "--size",
            "64x64",
            "--out",
            "run",
        ],
        setup=_refs,
    ),
    Case(
        "cli-gen-no-refs",
        AREA,
        "generate without --refs",
        fails("--refs"),
        argv=["generate", "--prompt", "x", "--out", "run"],
    ),
    Case(
        "cli-gen-out-file",
        AREA,
        "generate --out names an existing file",
        fails("out.txt"),
        argv=[*GEN, "--out", "out.txt"],
        setup=lambda c: (c.refs(), c.write("out.txt", "x")),
    ),
    Case(
        "cli-gen-out-readonly",
        AREA,
        "generate --out in a read-only place",
        fails(RO),
        argv=[*GEN, "--out", RO],
        setup=_refs,
    ),
    Case(
        "cli-gen-out-foreign-folder",
        AREA,
        "generate --out names a folder of other files: kept, or refused",
        either(
            lambda c, o: None if (c.root / "notes/todo.txt").read_text() == "mine" else "todo.txt changed",
            "notes",
        ),
        argv=[*GEN, "--out", "notes"],
        setup=lambda c: (c.refs(), c.write("notes/todo.txt", "mine"), c.write("notes/x.json", "{}")),
    ),
    Case(
        "cli-gen-diffusers-no-torch",
        AREA,
        "--generator diffusers:x on an install without torch: refused first",
        fails("torch|diffusers"),
        argv=[*GEN, "--out", "run", "--generator", "diffusers:x"],
        setup=_refs,
        hide=("torch", "diffusers"),
    ),
    Case(
        "cli-gen-hf-no-torch",
        AREA,
        "--assessor hf:x on an install without torch: refused, extra [hf] named",
        fails("agentpref[hf]"),
        argv=[*GEN, "--out", "run", "--assessor", "hf:x"],
        setup=_refs,
        hide=("torch", "transformers"),
    ),
    Case(
        "cli-resume-missing",
        AREA,
        "--resume on a folder that does not exist",
        fails("nothing"),
        argv=["generate", "--resume", "--out", "nothing"],
    ),
    Case(
        "cli-resume-empty",
        AREA,
        "--resume on an empty folder",
        fails("empty"),
        argv=["generate", "--resume", "--out", "empty"],
        setup=lambda c: c.path("empty/x"),
    ),
    Case("cli-resume-no-out", AREA, "--resume without --out", fails("--out"), argv=["generate", "--resume"]),
    Case(
        "cli-resume-is-file",
        AREA,
        "--resume --out names a file",
        fails("f.txt"),
        argv=["generate", "--resume", "--out", "f.txt"],
        setup=lambda c: c.write("f.txt", "x"),
    ),
    _resume_differs("prompt", ["--prompt", "a different subject"], "--prompt|prompt"),
    _resume_differs("n", ["-n", "3"], "-n|n:"),
    _resume_differs("iterations", ["--iterations", "4"], "--iterations|iterations"),
    _resume_differs("refs", ["--refs", "refs2"], "--refs|refs"),
    _resume_differs("generator", ["--generator", "painter:?seed=1"], "--generator|generator"),
    Case(
        "cli-resume-same-args",
        AREA,
        "--resume repeating the run's own arguments is fine",
        succeeds(),
        argv=[*GEN, "--resume", "--out", "run"],
        setup=_finished_run,
        timeout=40,
    ),
    _named_candidate("x[red]y.png", ("x[red]y.png",)),
    _named_candidate("[/x].png", ("[/x].png",)),
    _named_candidate("[bold]big[/bold].png", ("[bold]big[/bold].png",)),
    _named_candidate("a\x1b]0;owned\x07b.png"),
    _named_candidate("clear\x1b[2J.png"),
    _named_candidate("clip\x1b]52;c;b3duZWQ=\x07.png"),
    _named_candidate("evil\u202egnp.exe"),
    _named_candidate("tab\tand\rcr.png"),
    _named_candidate("<script>alert(1)<\u2044script>.png"),
    Case(
        "cli-filename-markup-refs-folder",
        AREA,
        "profile of a refs folder named '[/x]' holding a corrupt file",
        succeeds(_terminal_safe("[/x]"), warns=("bad.png",)),
        argv=["profile", "--refs", "[/x]"],
        setup=lambda c: (c.refs("[/x]"), c.write("[/x]/likes/bad.png", b"junk")),
    ),
    Case(
        "cli-filename-escape-error",
        AREA,
        "an error about a missing file whose name holds an escape sequence",
        fails("nope"),
        argv=["compare", "--refs", "refs", "nope\x1b[2J.png", "$good"],
        setup=_refs,
    ),
    Case(
        "cli-unknown-option",
        AREA,
        "an option that does not exist",
        fails("--bogus"),
        argv=["profile", "--refs", "refs", "--bogus"],
        setup=_refs,
    ),
    Case(
        "cli-train-out-file",
        AREA,
        "train run --out names an existing file",
        fails("out.txt"),
        argv=[
            "train",
            "run",
            "--out",
            "out.txt",
            "--teacher",
            "random",
            "--users",
            "2",
            "--size",
            "64x64",
            "--stages",
            "dataset",
        ],
        setup=lambda c: c.write("out.txt", "x"),
    ),
    Case(
        "cli-train-out-readonly",
        AREA,
        "train run --out in a read-only place",
        fails(RO),
        argv=[
            "train",
            "run",
            "--out",
            RO,
            "--teacher",
            "random",
            "--users",
            "2",
            "--size",
            "64x64",
            "--stages",
            "dataset",
        ],
    ),
    Case(
        "cli-train-users-zero",
        AREA,
        "train run --users 0",
        fails("users"),
        argv=["train", "run", "--out", "t", "--teacher", "random", "--users", "0", "--stages", "dataset"],
    ),
    Case(
        "cli-train-stage-bogus",
        AREA,
        "train run --stages bogus",
        fails("bogus"),
        argv=["train", "run", "--out", "t", "--teacher", "random", "--stages", "bogus"],
    ),
]
