"""Top-k groups (1 liked vs k disliked) made from a user's pairs, and how the runner asks them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agentpref.evaluation.metrics import summarize
from agentpref.evaluation.runner import EvalPlan, evaluate
from agentpref.evaluation.top_k import with_top_k
from agentpref.judgment import Judgment
from agentpref.samples import PairSample


def pair(user: str, i: int, winner: str, loser: str, label: str = "A", split: str = "SP_ID") -> PairSample:
    a, b = (winner, loser) if label == "A" else (loser, winner)
    return PairSample(
        sample_id=f"{user}-{i}",
        split=split,
        user_id=user,
        refs_liked=[f"{user}/like.png"],
        refs_disliked=[f"{user}/dislike.png"],
        image_a=a,
        image_b=b,
        answer=f"Image {label}",  # type: ignore[arg-type]
        prompt=f"prompt {i}",
    )


def liked(s: PairSample) -> str:
    return s.image_a if s.winner == "A" else s.image_b


def disliked(s: PairSample) -> str:
    return s.image_b if s.winner == "A" else s.image_a


def test_a_group_puts_one_liked_image_against_k_disliked_images_of_the_same_user() -> None:
    data = [
        pair("u", i, f"w{i}", f"l{i}", label="AB"[i % 2], split=("SP_ID", "SP_OD")[i % 2]) for i in range(5)
    ]
    data += [pair("v", i, f"vw{i}", f"vl{i}") for i in range(3)]
    plan = with_top_k(data, k_max=4)
    assert [s.sample_id for s in plan[: len(data)]] == [s.sample_id for s in data]  # the data first, in order
    groups: dict[str, list[PairSample]] = {}
    for s in plan:
        if s.k_group is not None:
            groups.setdefault(s.k_group, []).append(s)
    assert set(groups) == {"u-0", "v-0"}  # one group per user: its first pair is the anchor
    u = sorted(groups["u-0"], key=lambda s: s.k_rank)
    assert [s.k_rank for s in u] == [0, 1, 2, 3]
    assert u[0] == data[0].model_copy(update={"k_group": "u-0"})  # rank 0 is the data's own pair
    assert {liked(s) for s in u} == {"w0"}
    assert [disliked(s) for s in u] == ["l0", "l1", "l2", "l3"]  # the next losers of the same user
    assert [s.winner for s in u] == ["A", "B", "A", "B"]  # the liked image changes sides
    assert {s.split for s in u} == {"SP_ID"} and all(
        s.refs_liked == ["u/like.png"] for s in u
    )  # the anchor's
    assert all(s.prompt == "" for s in u[1:])  # the two images come from different prompts
    v = groups["v-0"]
    assert len(v) == 3 and all(liked(s) == "vw0" for s in v)  # 3 pairs: a group of k = 3 at most
    assert with_top_k(data, k_max=4) == plan  # deterministic


def test_images_that_won_somewhere_are_not_disliked_and_small_pools_give_no_group() -> None:
    # Pick-a-Pic style: the same image can lose one pair and win another; it is no plain dislike.
    data = [pair("u", 0, "x", "y"), pair("u", 1, "y", "z"), pair("u", 2, "q", "z"), pair("u", 3, "r", "s")]
    plan = with_top_k(data, k_max=4)
    extra = [s for s in plan if s.k_rank > 0]
    assert plan[0].k_group is None and plan[1].k_group == "u-1"  # u-0's loser "y" won u-1
    assert [disliked(s) for s in extra] == ["s"]  # pool: z (once), s
    assert with_top_k([pair("w", 0, "a", "b")], k_max=4) == [pair("w", 0, "a", "b")]  # one pair: no group
    assert with_top_k(data, k_max=4, per_user=0) == data


def test_more_groups_per_user_and_ids_that_name_the_pair() -> None:
    data = [pair("u", i, f"w{i}", f"l{i}") for i in range(4)]
    plan = with_top_k(data, k_max=2, per_user=4)
    extra = [s for s in plan if s.k_rank > 0]
    assert [(liked(s), disliked(s)) for s in extra] == [
        ("w0", "l1"),
        ("w1", "l2"),
        ("w2", "l3"),
        ("w3", "l0"),
    ]
    # A stored judgment is found by what it compared: dropping a pair (say by --limit) never makes an
    # id stand for another pair.
    fewer = with_top_k([data[0], data[2], data[3]], k_max=2, per_user=4)
    by_id = {s.sample_id: (s.image_a, s.image_b) for s in plan}
    assert all(by_id.get(s.sample_id, (s.image_a, s.image_b)) == (s.image_a, s.image_b) for s in fewer)
    assert any(s.k_rank and s.sample_id in by_id for s in fewer)  # the same pair keeps its id (w2 vs l3)
    moved = next(s for s in fewer if s.k_group == "u-0" and s.k_rank == 1)  # now w0 vs l2, was w0 vs l1
    assert disliked(moved) == "l2" and moved.sample_id not in by_id
    assert len({s.sample_id for s in plan}) == len(plan)


class LikesA:
    """A judge that always picks A, counting what it is asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def acompare(self, refs, a, b) -> Judgment:
        self.asked.append((a.label, b.label))
        return Judgment(winner="A")


def test_the_runner_asks_extra_pairs_once_without_swap_or_sweep(tmp_path: Path) -> None:
    from PIL import Image

    for name in ["like", "dislike", *[f"w{i}" for i in range(4)], *[f"l{i}" for i in range(4)]]:
        Image.new("RGB", (8, 8), (len(name) * 20, 0, 0)).save(tmp_path / f"{name}.png")
    data = [
        pair("u", i, str(tmp_path / f"w{i}.png"), str(tmp_path / f"l{i}.png")).model_copy(
            update={
                "refs_liked": [str(tmp_path / "like.png")] * 2,
                "refs_disliked": [str(tmp_path / "dislike.png")] * 2,
            }
        )
        for i in range(4)
    ]
    judge = LikesA()
    plan = EvalPlan(swap=True, refs_sweep=(1,), concurrency=2, profile_agreement=False)
    results = asyncio.run(evaluate(data, {"a": judge}, tmp_path / "out", plan))
    # 4 pairs x (all references, 1 reference) x (as given, swapped) + 3 extra pairs asked once
    assert len(judge.asked) == 4 * 2 * 2 + 3 and len(results) == 4 * 2 + 3
    assert judge.asked[-3:] == [("l1.png", "w0.png"), ("w0.png", "l2.png"), ("l3.png", "w0.png")]
    m = summarize(results).get("a", "SP_ID")
    assert m is not None and m.n == 4 and m.accuracy.value == 1.0  # the data's pairs all have the winner at A
    # Always-A is right on ranks 0 and 2 (liked at A) and wrong on 1 and 3: top-2 and top-4 fail.
    assert {k: (p.successes, p.total) for k, p in m.top_k.items()} == {2: (0, 1), 4: (0, 1)}
