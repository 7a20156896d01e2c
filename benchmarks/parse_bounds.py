"""What reading untrusted text costs: 10 MB adversarial inputs per reader, and a fuzz count.

1. For every reader of model answers (`parse_judgment`, `parse_profile`, `parse_answer`,
   `json_to_layout`, `format_ok`) and of image metadata (`parse_a1111`, `parse_comfyui`,
   `clean_text`, the EXIF UserComment decoder, `read_embedded` on an opened PNG holding the
   text in its `parameters` and `prompt` chunks), the best of 5 times on 10 MB inputs of
   several adversarial shapes. Target: under 50 ms for every shape (a 10 MB metadata chunk
   and a 10 MB model answer).
2. The fuzz tests of tests/test_fuzz.py run with N examples each (10,000 is the
   acceptance); prints the examples each ran and whether any raised an undocumented error.

    python benchmarks/parse_bounds.py [--size 10000000] [--fuzz 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentpref.testing.adversarial import documented, png_with_text, text_shapes

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 50.0


def readers() -> dict[str, Callable[[Any], object]]:
    from agentpref.images import metadata
    from agentpref.preferthinker.json_schema import json_to_layout
    from agentpref.preferthinker.parse import format_ok, parse_answer, parse_judgment, parse_profile

    return {
        "parse_judgment": documented(parse_judgment),
        "parse_profile": documented(parse_profile),
        "parse_answer": parse_answer,
        "json_to_layout": documented(json_to_layout),
        "format_ok": format_ok,
        "parse_a1111": metadata.parse_a1111,
        "parse_comfyui": metadata.parse_comfyui,
        "clean_text": metadata.clean_text,
        "user_comment": metadata._decode_user_comment,
        "read_embedded": metadata.read_embedded,
    }


def best_ms(read: Callable[[Any], object], value: Any, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        read(value)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def timings(size: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    inputs = text_shapes(size)
    for name, read in readers().items():
        row = {}
        for shape, text in inputs.items():
            if name == "user_comment":
                value: Any = b"UNICODE\x00" + text.encode("utf-16-be", "surrogatepass")
            elif name == "read_embedded":
                value = png_with_text(text)  # Pillow's own chunk reading is the decoder's cost, not timed
            else:
                value = text
            row[shape] = best_ms(read, value)
        out[name] = row
        print(
            f"{name:15} worst {max(row.values()):6.1f} ms ({max(row, key=row.__getitem__)})", file=sys.stderr
        )
    return out


def fuzz(examples: int) -> dict[str, dict[str, Any]]:
    """Run each fuzz test of tests/test_fuzz.py with `examples` examples, counting the calls."""
    os.environ["AGENTPREF_FUZZ_EXAMPLES"] = str(examples)  # read when test_fuzz is imported
    sys.path.insert(0, str(ROOT / "tests"))
    import tempfile

    import test_fuzz
    from PIL import Image

    image = Path(tempfile.mkdtemp(prefix="agentpref-fuzz-")) / "image.png"
    Image.new("RGB", (2, 2)).save(image)
    results: dict[str, dict[str, Any]] = {}
    for name in dir(test_fuzz):
        test = getattr(test_fuzz, name)
        if not (name.startswith("test_") and hasattr(test, "hypothesis")):
            continue
        calls = [0]
        inner = test.hypothesis.inner_test

        def counted(*args: Any, _inner: Any = inner, _calls: list[int] = calls, **kwargs: Any) -> Any:
            _calls[0] += 1
            return _inner(*args, **kwargs)

        test.hypothesis.inner_test = counted
        start = time.perf_counter()
        try:
            test(sidecar_image=image) if "sidecar" in name else test()
            error = None
        except Exception as err:  # report, don't stop: this is the count of what failed
            error = f"{type(err).__name__}: {str(err)[:300]}"
        results[name] = {"examples": calls[0], "seconds": time.perf_counter() - start, "error": error}
        print(f"{name:70} {calls[0]:6} examples  {'ok' if error is None else error}", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="characters per adversarial input")
    parser.add_argument("--fuzz", type=int, default=10_000, help="examples per fuzz test (0: skip)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    times = timings(args.size)
    fuzzed = fuzz(args.fuzz) if args.fuzz else {}
    if args.json:
        print(json.dumps({"size": args.size, "ms": times, "fuzz": fuzzed}, indent=2))
        return
    print(f"\nbest of 5, ms, on {args.size:,}-character inputs (target {TARGET_MS:g} ms)")
    names = list(times)
    print(f"{'shape':16}" + "".join(f"{n[:12]:>13}" for n in names))
    for shape in text_shapes(16):
        print(f"{shape:16}" + "".join(f"{times[n][shape]:13.1f}" for n in names))
    worst = max(max(row.values()) for row in times.values())
    print(f"worst {worst:.1f} ms: {'under' if worst < TARGET_MS else 'OVER'} the {TARGET_MS:g} ms target")
    if fuzzed:
        print(f"\nfuzz, {args.fuzz:,} examples asked per test")
        for name, r in fuzzed.items():
            status = "no undocumented exception" if r["error"] is None else r["error"]
            print(f"{name:70} {r['examples']:7,} examples {r['seconds']:6.1f} s  {status}")


if __name__ == "__main__":
    main()
