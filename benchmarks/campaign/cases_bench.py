"""Benchmark files for `agentpref eval`, in each format it reads: PreferImg-Bench JSON, user folders
(manifest.json), Pick-a-Pic parquet and pickle, train/'s samples JSONL. Paths leaving the data's
folder (absolute, `..`, symlinks) must be refused naming file, record and field, before any byte
is read; broken records must be named; pickles must not run code."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import EXAMPLES, Case, Ctx, Outcome, either, fails, succeeds

AREA = "bench"
EVAL = ("--assessor", "features", "--no-refs-sweep", "--no-swap", "--top-k-groups", "0", "--out", "out")
IMAGES = {  # name in the data folder -> example it copies
    "l1.png": "likes/02_misty_sea_morning.png",
    "d1.png": "dislikes/02_benday_target.png",
    "qa.png": "likes/01_quiet_lake_dusk.png",
    "qb.png": "dislikes/01_pop_city.png",
}
OUT_ABS = "$canary"  # absolute path of the canary image outside the root
OUT_UP = "../../outside/canary.png"  # from work/data/ up to the case folder, then outside/


def _images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, src in IMAGES.items():
        shutil.copyfile(EXAMPLES / src, folder / name)


def _results(ctx: Ctx, o: Outcome) -> str | None:
    return None if (ctx.root / "out" / "results.json").is_file() else "no results.json"


# -- PreferImg-Bench JSON -------------------------------------------------------------------------


def _bench_record(**change: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "conversations": [{"from": "human", "value": "which?"}, {"from": "gpt", "value": "Image A"}],
        "imageA": "qa.png",
        "imageB": "qb.png",
        "prefered_images": ["l1.png"],
        "non_prefered_images": ["d1.png"],
        "user_id": "u1",
    }
    for key, value in change.items():
        if value is _DROP:
            record.pop(key)
        else:
            record[key] = value
    return record


_DROP = object()


def _bench(records: Any = None, raw: bytes | None = None, extra: Callable[[Ctx], None] | None = None):
    def setup(ctx: Ctx) -> None:
        _images(ctx.root / "data")
        body = (
            raw
            if raw is not None
            else json.dumps(records if records is not None else [_bench_record()]).encode()
        )
        ctx.write(
            "data/SP_ID.json",
            ctx.fill(body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape"),
        )
        if extra:
            extra(ctx)

    return setup


def _link_out(rel: str) -> Callable[[Ctx], None]:
    return lambda ctx: (ctx.root / rel).symlink_to(ctx.outside / "canary.png")


JSON = ("eval", "data/SP_ID.json", *EVAL)


def _huge_bench(ctx: Ctx) -> None:
    _images(ctx.root / "data")
    with (ctx.root / "data/SP_ID.json").open("w") as f:
        f.write(
            "[" + json.dumps(_bench_record()) + "," + " " * 30_000_000 + json.dumps(_bench_record()) + "]"
        )


def _many_bench(ctx: Ctx) -> None:
    _images(ctx.root / "data")
    records = [_bench_record() for _ in range(20_000)]
    records[-1]["imageB"] = "missing.png"
    ctx.write("data/SP_ID.json", json.dumps(records))


CASES: list[Case] = [
    Case(
        "bench-json-abs-path",
        AREA,
        "PreferImg-Bench imageA is an absolute path outside the folder",
        fails("SP_ID.json", "imageA"),
        argv=JSON,
        setup=_bench([_bench_record(imageA=OUT_ABS)]),
    ),
    Case(
        "bench-json-dotdot",
        AREA,
        "PreferImg-Bench imageA climbs out with ..",
        fails("SP_ID.json", "imageA"),
        argv=JSON,
        setup=_bench([_bench_record(imageA=OUT_UP)]),
    ),
    Case(
        "bench-json-etc-passwd",
        AREA,
        "PreferImg-Bench liked reference /etc/passwd",
        fails("SP_ID.json", "prefered_images"),
        argv=JSON,
        watch=("/etc/passwd",),
        setup=_bench([_bench_record(prefered_images=["/etc/passwd"])]),
    ),
    Case(
        "bench-json-proc-environ",
        AREA,
        "PreferImg-Bench disliked reference /proc/self/environ",
        fails("SP_ID.json", "non_prefered_images"),
        argv=JSON,
        watch=("/proc/self/environ",),
        setup=_bench([_bench_record(non_prefered_images=["/proc/self/environ"])]),
    ),
    Case(
        "bench-json-symlink-out",
        AREA,
        "PreferImg-Bench imageB is a symlink in the folder pointing outside it",
        fails("SP_ID.json", "imageB"),
        argv=JSON,
        setup=_bench([_bench_record(imageB="link.png")], extra=_link_out("data/link.png")),
    ),
    Case(
        "bench-json-image-root-escape",
        AREA,
        "--image-root given, imageA climbs out of it with ..",
        fails("SP_ID.json", "imageA"),
        argv=[*JSON, "--image-root", "data"],
        setup=_bench([_bench_record(imageA="../" + OUT_UP)]),
    ),
    Case(
        "bench-json-missing-field",
        AREA,
        "PreferImg-Bench record without imageA",
        fails("SP_ID.json", "imageA"),
        argv=JSON,
        setup=_bench([_bench_record(imageA=_DROP)]),
    ),
    Case(
        "bench-json-wrong-type",
        AREA,
        "PreferImg-Bench imageA is a number",
        fails("SP_ID.json", "imageA"),
        argv=JSON,
        setup=_bench([_bench_record(imageA=5)]),
    ),
    Case(
        "bench-json-list-as-string",
        AREA,
        "prefered_images is a string, not a list",
        fails("SP_ID.json", "prefered_images"),
        argv=JSON,
        setup=_bench([_bench_record(prefered_images="l1.png")]),
    ),
    Case(
        "bench-json-no-conversations",
        AREA,
        "conversations is empty",
        fails("SP_ID.json", "conversations"),
        argv=JSON,
        setup=_bench([_bench_record(conversations=[])]),
    ),
    Case(
        "bench-json-answer-c",
        AREA,
        "the answer is 'Image C'",
        fails("SP_ID.json", "conversations"),
        argv=JSON,
        setup=_bench([_bench_record(conversations=[{"from": "gpt", "value": "Image C"}])]),
    ),
    Case(
        "bench-json-user-id-dict",
        AREA,
        "user_id is an object",
        fails("SP_ID.json", "user_id"),
        argv=JSON,
        setup=_bench([_bench_record(user_id={"a": 1})]),
    ),
    Case(
        "bench-json-object",
        AREA,
        "the file is an object, not an array",
        fails("SP_ID.json"),
        argv=JSON,
        setup=_bench(raw=b'{"records": []}'),
    ),
    Case(
        "bench-json-empty",
        AREA,
        "a 0-byte PreferImg-Bench file",
        fails("SP_ID.json"),
        argv=JSON,
        setup=_bench(raw=b""),
    ),
    Case(
        "bench-json-empty-array",
        AREA,
        "an empty array: nothing to evaluate",
        fails("SP_ID.json"),
        argv=JSON,
        setup=_bench(raw=b"[]"),
    ),
    Case(
        "bench-json-not-utf8",
        AREA,
        "Latin-1 bytes in the JSON",
        fails("SP_ID.json"),
        argv=JSON,
        setup=_bench(raw=b'[{"imageA": "caf\xe9.png"}]'),
    ),
    Case(
        "bench-json-deep",
        AREA,
        "JSON nested 100,000 arrays deep",
        fails("SP_ID.json"),
        argv=JSON,
        setup=_bench(raw=b"[" * 100_000 + b"]" * 100_000),
    ),
    Case(
        "bench-json-deep-object",
        AREA,
        "a record nested 100,000 objects deep",
        fails("SP_ID.json"),
        argv=JSON,
        setup=_bench(raw=b'[{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"]"),
    ),
    Case(
        "bench-json-torn",
        AREA,
        "a JSON file cut in the middle of a record",
        fails("SP_ID.json"),
        argv=JSON,
        setup=_bench(raw=json.dumps([_bench_record()]).encode()[:100]),
    ),
    Case(
        "bench-json-same-image",
        AREA,
        "every pair shows one image twice: nothing left to evaluate",
        fails("SP_ID.json"),
        argv=JSON,
        setup=_bench([_bench_record(imageB="qa.png")]),
    ),
    Case(
        "bench-json-missing-image",
        AREA,
        "imageB names a file that does not exist",
        fails("SP_ID.json", "imageB", "nope.png"),
        argv=JSON,
        setup=_bench([_bench_record(imageB="nope.png")]),
    ),
    Case(
        "bench-json-30mb-whitespace",
        AREA,
        "a 30 MB file that is mostly whitespace around two records",
        succeeds(_results),
        argv=JSON,
        setup=_huge_bench,
        timeout=40,
    ),
    Case(
        "bench-json-20k-records",
        AREA,
        "20,000 records, the last one naming a missing image",
        fails("SP_ID.json", "19999"),
        argv=JSON,
        setup=_many_bench,
        timeout=40,
    ),
]

# -- a person's own folders -------------------------------------------------------------------------


def _user(manifest: Any = None, raw: bytes | None = None, extra: Callable[[Ctx], None] | None = None):
    def setup(ctx: Ctx) -> None:
        user = ctx.root / "data" / "alice"
        for sub, names in (
            ("liked", ["l1.png"]),
            ("disliked", ["d1.png"]),
            ("queries", ["qa.png", "qb.png"]),
        ):
            (user / sub).mkdir(parents=True, exist_ok=True)
            for n in names:
                shutil.copyfile(EXAMPLES / IMAGES[n], user / sub / n)
        body = (
            raw
            if raw is not None
            else json.dumps(
                manifest
                if manifest is not None
                else {"pairs": [{"a": "qa.png", "b": "qb.png", "winner": "a"}]}
            ).encode()
        )
        (user / "manifest.json").write_bytes(
            ctx.fill(body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        )
        if extra:
            extra(ctx)

    return setup


USER = ("eval", "data", *EVAL)


def _pair(**change: Any) -> dict[str, Any]:
    return {"pairs": [{"a": "qa.png", "b": "qb.png", "winner": "a", **change}]}


CASES += [
    Case(
        "bench-user-dotdot",
        AREA,
        "manifest pair a climbs out with ..",
        fails("manifest.json", "pairs[0].a"),
        argv=USER,
        setup=_user(_pair(a="../../../../outside/canary.png")),
    ),
    Case(
        "bench-user-abs-path",
        AREA,
        "manifest pair b is an absolute path",
        fails("manifest.json", "pairs[0].b"),
        argv=USER,
        setup=_user(_pair(b=OUT_ABS)),
    ),
    Case(
        "bench-user-liked-symlink-out",
        AREA,
        "liked/ holds a symlink to an image outside the data folder",
        fails("link.png"),
        argv=USER,
        setup=_user(extra=_link_out("data/alice/liked/link.png")),
    ),
    Case(
        "bench-user-query-symlink-out",
        AREA,
        "queries/qa.png is a symlink outside the data folder",
        fails("qa.png"),
        argv=USER,
        setup=_user(
            extra=lambda c: (
                (c.root / "data/alice/queries/qa.png").unlink(),
                _link_out("data/alice/queries/qa.png")(c),
            )
        ),
    ),
    Case(
        "bench-user-etc-passwd",
        AREA,
        "manifest pair a is /etc/passwd",
        fails("manifest.json", "pairs[0].a"),
        argv=USER,
        watch=("/etc/passwd",),
        setup=_user(_pair(a="/etc/passwd")),
    ),
    Case(
        "bench-user-not-json",
        AREA,
        "manifest.json is not JSON",
        fails("manifest.json"),
        argv=USER,
        setup=_user(raw=b"pairs: [a, b]"),
    ),
    Case(
        "bench-user-empty-manifest",
        AREA,
        "manifest.json is empty",
        fails("manifest.json"),
        argv=USER,
        setup=_user(raw=b""),
    ),
    Case(
        "bench-user-no-pairs",
        AREA,
        "manifest without pairs",
        fails("manifest.json", "pairs"),
        argv=USER,
        setup=_user({"user_id": "alice"}),
    ),
    Case(
        "bench-user-zero-pairs",
        AREA,
        "manifest with pairs: []",
        fails("manifest.json", "pairs"),
        argv=USER,
        setup=_user({"pairs": []}),
    ),
    Case(
        "bench-user-winner-c",
        AREA,
        "winner 'c'",
        fails("manifest.json", "winner"),
        argv=USER,
        setup=_user(_pair(winner="c")),
    ),
    Case(
        "bench-user-unknown-key",
        AREA,
        "a pair with an unknown key 'bogus'",
        fails("manifest.json", "bogus"),
        argv=USER,
        setup=_user(_pair(bogus=1)),
    ),
    Case(
        "bench-user-wrong-type",
        AREA,
        "pair a is a list",
        fails("manifest.json", "pairs[0].a|pairs.0.a"),
        argv=USER,
        setup=_user(_pair(a=["qa.png"])),
    ),
    Case(
        "bench-user-not-utf8",
        AREA,
        "manifest.json in UTF-16",
        fails("manifest.json"),
        argv=USER,
        setup=_user(raw=json.dumps(_pair()).encode("utf-16")),
    ),
    Case(
        "bench-user-deep",
        AREA,
        "manifest nested 100,000 deep",
        fails("manifest.json"),
        argv=USER,
        setup=_user(raw=b"[" * 100_000 + b"]" * 100_000),
    ),
    Case(
        "bench-user-manifest-dir",
        AREA,
        "manifest.json is a folder",
        fails("manifest.json|alice"),
        argv=USER,
        setup=lambda c: (c.path("data/alice/manifest.json").mkdir(), c.path("data/alice/liked").mkdir()),
    ),
    Case(
        "bench-user-no-liked",
        AREA,
        "the user folder has no liked images",
        fails("liked"),
        argv=USER,
        setup=_user(extra=lambda c: shutil.rmtree(c.root / "data/alice/liked")),
    ),
    Case(
        "bench-user-missing-query",
        AREA,
        "pair a names a query that does not exist",
        fails("manifest.json", "pairs[0].a"),
        argv=USER,
        setup=_user(_pair(a="gone.png")),
    ),
]

# -- Pick-a-Pic parquet and pickle ------------------------------------------------------------------


def _png(name: str) -> bytes:
    return (EXAMPLES / IMAGES[name]).read_bytes()


def _row(**change: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "user_id": 7,
        "reference_list": [_png("l1.png")],
        "reference_list_bad": [_png("d1.png")],
        "reference_prompt_list": ["a lake"],
        "image0": _png("qa.png"),
        "image1": _png("qb.png"),
        "prompt": "a lake",
        "label0": 1.0,
    }
    row.update(change)
    return row


def _frame(rows: list[dict[str, Any]], name: str = "split.parquet", drop: str | None = None):
    def setup(ctx: Ctx) -> None:
        import pandas as pd

        filled = [{k: ctx.fill(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
        frame = pd.DataFrame(filled)
        if drop:
            frame = frame.drop(columns=[drop])
        path = ctx.path(f"data/{name}")
        if name.endswith(".parquet"):
            frame.to_parquet(path)
        else:
            frame.to_pickle(path)

    return setup


class _Marker:
    """Unpickling this runs `os.system` (what a crafted pickle does)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.path}",))


class _ExecMarker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({self.path!r}, 'w').write('ran')",))


def _evil(kind: type) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        ctx.write("data/split.pkl", pickle.dumps(kind(str(ctx.marker))))

    return setup


def _evil_in_frame(ctx: Ctx) -> None:
    import pandas as pd

    frame = pd.DataFrame([_row()])
    frame.attrs["x"] = _Marker(str(ctx.marker))  # the payload rides inside a real DataFrame
    ctx.write("data/split.pkl", pickle.dumps(frame))


PARQUET = ("eval", "data/split.parquet", *EVAL)
PICKLE = ("eval", "data/split.pkl", *EVAL)
REFUSED_PICKLE = "--trust-pickle|pickle"

CASES += [
    Case(
        "bench-pap-valid-parquet",
        AREA,
        "a valid Pick-a-Pic parquet with image bytes (control case)",
        succeeds(_results),
        argv=PARQUET,
        setup=_frame([_row()]),
    ),
    Case(
        "bench-pap-dotdot",
        AREA,
        "parquet image0 path climbs out with ..",
        fails("split.parquet", "image0"),
        argv=PARQUET,
        setup=_frame([_row(image0=OUT_UP)]),
    ),
    Case(
        "bench-pap-abs-path",
        AREA,
        "parquet image1 is an absolute path",
        fails("split.parquet", "image1"),
        argv=PARQUET,
        setup=_frame([_row(image1=OUT_ABS)]),
    ),
    Case(
        "bench-pap-etc-passwd",
        AREA,
        "parquet reference_list holds /etc/passwd",
        fails("split.parquet", "reference_list"),
        argv=PARQUET,
        watch=("/etc/passwd",),
        setup=_frame([_row(reference_list=["/etc/passwd"])]),
    ),
    Case(
        "bench-pap-label-2",
        AREA,
        "label0 = 2",
        fails("split.parquet", "label0"),
        argv=PARQUET,
        setup=_frame([_row(label0=2.0)]),
    ),
    Case(
        "bench-pap-label-nan",
        AREA,
        "label0 = NaN",
        fails("split.parquet", "label0"),
        argv=PARQUET,
        setup=_frame([_row(label0=float("nan"))]),
    ),
    Case(
        "bench-pap-missing-column",
        AREA,
        "no prompt column",
        fails("split.parquet", "prompt"),
        argv=PARQUET,
        setup=_frame([_row()], drop="prompt"),
    ),
    Case(
        "bench-pap-wrong-type",
        AREA,
        "reference_list is a number",
        fails("split.parquet", "reference_list"),
        argv=PARQUET,
        setup=_frame([_row(reference_list=5)]),
    ),
    Case(
        "bench-pap-not-image-bytes",
        AREA,
        "image1 bytes are not an image",
        fails("split.parquet", "image1"),
        argv=PARQUET,
        setup=_frame([_row(image1=b"MZ\x90\x00 an executable")]),
    ),
    Case(
        "bench-pap-garbage",
        AREA,
        "a .parquet file of random bytes",
        fails("split.parquet"),
        argv=PARQUET,
        setup=lambda c: c.write("data/split.parquet", os.urandom(5000)),
    ),
    Case(
        "bench-pap-empty-file",
        AREA,
        "a 0-byte .parquet file",
        fails("split.parquet"),
        argv=PARQUET,
        setup=lambda c: c.write("data/split.parquet", b""),
    ),
    Case(
        "bench-pap-ties-only",
        AREA,
        "every row is a tie: nothing to evaluate",
        fails("split.parquet"),
        argv=PARQUET,
        setup=_frame([_row(label0=0.5)]),
    ),
    Case(
        "bench-pkl-malicious-system",
        AREA,
        "a pickle whose reduce calls os.system (creates a marker file)",
        fails(REFUSED_PICKLE, "split.pkl"),
        argv=PICKLE,
        setup=_evil(_Marker),
    ),
    Case(
        "bench-pkl-malicious-exec",
        AREA,
        "a pickle whose reduce calls exec (creates a marker file)",
        fails(REFUSED_PICKLE, "split.pkl"),
        argv=PICKLE,
        setup=_evil(_ExecMarker),
    ),
    Case(
        "bench-pkl-malicious-in-frame",
        AREA,
        "a real DataFrame pickle carrying an os.system payload in attrs",
        fails(REFUSED_PICKLE, "split.pkl"),
        argv=PICKLE,
        setup=_evil_in_frame,
    ),
    Case(
        "bench-pkl-benign",
        AREA,
        "a benign DataFrame pickle: loads, or is refused naming --trust-pickle",
        either(_results, REFUSED_PICKLE),
        argv=PICKLE,
        setup=_frame([_row()], name="split.pkl"),
    ),
    Case(
        "bench-pkl-list",
        AREA,
        "a pickle of a list, not a DataFrame",
        fails("split.pkl"),
        argv=PICKLE,
        setup=lambda c: c.write("data/split.pkl", pickle.dumps([1, 2, 3])),
    ),
    Case(
        "bench-pkl-truncated",
        AREA,
        "a DataFrame pickle cut in half",
        fails("split.pkl"),
        argv=PICKLE,
        setup=lambda c: (
            _frame([_row()], name="split.pkl")(c),
            c.write("data/split.pkl", (c.root / "data/split.pkl").read_bytes()[:300]),
        ),
    ),
]

# -- train/'s samples JSONL --------------------------------------------------------------------------


def _sample(i: int = 0, **change: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "sample_id": f"u1-{i}",
        "user_id": "u1",
        "split": "synthetic",
        "refs_liked": ["l1.png"],
        "refs_disliked": ["d1.png"],
        "image_a": "qa.png",
        "image_b": "qb.png",
        "answer": "Image A",
    }
    for key, value in change.items():
        if value is _DROP:
            s.pop(key)
        else:
            s[key] = value
    return s


def _shard(lines: list[bytes] | None = None, manifest: Any = None, torn: bool = False):
    """A data set folder with one shard of `lines`; `torn`: no newline after the last (a killed writer)."""

    def setup(ctx: Ctx) -> None:
        _images(ctx.root / "data")
        body = lines if lines is not None else [json.dumps(_sample()).encode()]
        text = b"\n".join(
            ctx.fill(x.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape") for x in body
        )
        ctx.write("data/samples-0.jsonl", text + (b"" if torn or not body else b"\n"))
        m = manifest if manifest is not None else {"shards": [{"file": "samples-0.jsonl"}]}
        ctx.write("data/manifest.json", ctx.fill(json.dumps(m)))

    return setup


def _line(i: int = 0, **change: Any) -> bytes:
    return json.dumps(_sample(i, **change)).encode()


SYN = ("eval", "data", *EVAL)

CASES += [
    Case(
        "bench-syn-valid",
        AREA,
        "a valid two-sample shard (control case)",
        succeeds(_results),
        argv=SYN,
        setup=_shard([_line(0), _line(1)]),
    ),
    Case(
        "bench-syn-abs-path",
        AREA,
        "image_a is an absolute path",
        fails("samples-0.jsonl", "image_a"),
        argv=SYN,
        setup=_shard([_line(image_a=OUT_ABS)]),
    ),
    Case(
        "bench-syn-dotdot",
        AREA,
        "image_b climbs out with ..",
        fails("samples-0.jsonl", "image_b"),
        argv=SYN,
        setup=_shard([_line(image_b=OUT_UP)]),
    ),
    Case(
        "bench-syn-etc-passwd",
        AREA,
        "refs_liked holds /etc/passwd",
        fails("samples-0.jsonl", "refs_liked"),
        argv=SYN,
        watch=("/etc/passwd",),
        setup=_shard([_line(refs_liked=["/etc/passwd"])]),
    ),
    Case(
        "bench-syn-missing-field",
        AREA,
        "a sample without answer",
        fails("samples-0.jsonl", "answer"),
        argv=SYN,
        setup=_shard([_line(answer=_DROP)]),
    ),
    Case(
        "bench-syn-wrong-type",
        AREA,
        "refs_liked is a string",
        fails("samples-0.jsonl", "refs_liked"),
        argv=SYN,
        setup=_shard([_line(refs_liked="l1.png")]),
    ),
    Case(
        "bench-syn-torn-middle",
        AREA,
        "line 2 of 3 is cut in half",
        fails("samples-0.jsonl", "line 2|:2"),
        argv=SYN,
        setup=_shard([_line(0), _line(1)[:40], _line(2)]),
    ),
    Case(
        "bench-syn-torn-last",
        AREA,
        "the last line is cut (a killed writer): skipped with a warning",
        succeeds(_results, warns=("samples-0.jsonl",)),
        argv=SYN,
        setup=_shard([_line(0), _line(1)[:40]], torn=True),
    ),
    Case(
        "bench-syn-empty-shard",
        AREA,
        "an empty shard",
        fails("samples-0.jsonl|data"),
        argv=SYN,
        setup=_shard([]),
    ),
    Case(
        "bench-syn-not-utf8",
        AREA,
        "a line of Latin-1 bytes",
        fails("samples-0.jsonl"),
        argv=SYN,
        setup=_shard([_line(0), b'{"sample_id": "caf\xe9"}']),
    ),
    Case(
        "bench-syn-deep",
        AREA,
        "a line nested 100,000 deep",
        fails("samples-0.jsonl"),
        argv=SYN,
        setup=_shard([b"[" * 100_000 + b"]" * 100_000]),
    ),
    Case(
        "bench-syn-manifest-escape",
        AREA,
        "manifest.json names a shard outside the folder",
        fails("manifest.json|canary.txt"),
        argv=SYN,
        setup=_shard(manifest={"shards": [{"file": "../../outside/canary.txt"}]}),
    ),
    Case(
        "bench-syn-manifest-no-file",
        AREA,
        "a manifest shard entry without 'file'",
        fails("manifest.json"),
        argv=SYN,
        setup=_shard(manifest={"shards": [{"name": "x"}]}),
    ),
    Case(
        "bench-syn-manifest-missing-shard",
        AREA,
        "manifest.json names a shard that does not exist",
        fails("samples-9.jsonl"),
        argv=SYN,
        setup=_shard(manifest={"shards": [{"file": "samples-9.jsonl"}]}),
    ),
    Case(
        "bench-syn-duplicate-ids",
        AREA,
        "two samples with the same sample_id",
        fails("u1-0"),
        argv=SYN,
        setup=_shard([_line(0), _line(0)]),
    ),
    Case(
        "bench-syn-20mb-line",
        AREA,
        "one 20 MB prompt on a line: read, or refused naming the file",
        either(_results, "samples-0.jsonl"),
        argv=SYN,
        setup=_shard([_line(0, prompt="x" * 20_000_000)]),
        timeout=40,
    ),
]
