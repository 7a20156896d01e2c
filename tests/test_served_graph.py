"""The graph `langgraph dev` serves: a caller reads only the server's images, writes only its
own run folder and uses only the backends the server offers, whatever it sends."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agentpref.errors import InputError
from agentpref.loop.served import ServerConfig, build_served_graph

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def server(tmp_path: Path) -> ServerConfig:
    images = tmp_path / "served" / "images"
    shutil.copytree(EXAMPLES / "likes", images / "likes")
    shutil.copytree(EXAMPLES / "dislikes", images / "dislikes")
    outside = tmp_path / "outside.png"
    shutil.copy(EXAMPLES / "likes" / "01_quiet_lake_dusk.png", outside)
    return ServerConfig(images=images, runs=tmp_path / "served" / "runs", max_n=2, max_iterations=2)


def invoke(config: ServerConfig, request: dict[str, Any], thread: str = "t1", **kwargs: Any) -> Any:
    graph = build_served_graph(config).compile(checkpointer=InMemorySaver())
    settings = {"configurable": {"thread_id": thread}}
    return graph, graph.invoke(request, settings, **kwargs)


def request(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "subject": "a lighthouse",
        "likes": ["likes/01_quiet_lake_dusk.png", "likes/03_sage_hills.png"],
        "dislikes": ["dislikes/01_pop_city.png"],
        "n": 1,
        "max_iterations": 1,
        "size": [64, 64],
    }
    return {**base, **changes}


def test_a_caller_runs_inside_its_thread_folder_whatever_run_dir_it_sends(
    server: ServerConfig, tmp_path: Path
):
    elsewhere = tmp_path / "elsewhere"
    _, state = invoke(server, request(run_dir=str(elsewhere)), context={"assessor": "random"})
    run = server.runs / "t1"
    assert (run / "summary.json").is_file() and state["finished"]
    assert not elsewhere.exists()
    # The record names the backends by the server's names, and the caller's context was not used.
    assert state["assessor"] == "features" and state["generator"] == "painter"
    assert all(r["path"].startswith(str(server.images.resolve())) for r in _references(run))


def _references(run: Path) -> list[dict[str, Any]]:
    import json

    return json.loads((run / "summary.json").read_text())["references"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"likes": ["/etc/passwd"]}, "likes[0]"),
        ({"likes": ["../../outside.png"]}, "likes[0]"),
        ({"dislikes": ["likes/../../../outside.png"]}, "dislikes[0]"),
        ({"assessor": "vllm://127.0.0.1:9/v1?model=x&api_key_env=HOME"}, "not offered"),
        ({"generator": "diffusers:/tmp/model"}, "not offered"),
        ({"n": 1000}, "n:"),
        ({"max_iterations": -1}, "max_iterations"),
        ({"seed": 2**80}, "seed"),
        ({"size": [99999, 64]}, "size"),
        ({"subject": "x" * 10_000}, "subject"),
        ({"likes": []}, "likes"),
        ({"refine": {"rewriter": "openai://169.254.169.254/v1?model=x"}}, "refine.rewriter"),
        ({"refine": {"img2img_strength": 7}}, "refine.img2img_strength"),
        ({"png_compression": 12}, "png_compression"),
    ],
)
def test_what_the_server_does_not_offer_is_refused_by_name(
    server: ServerConfig, change: dict[str, Any], named: str
):
    with pytest.raises(InputError, match=named.replace("[", r"\[")):
        invoke(server, request(**change))
    assert not (server.runs / "t1" / "summary.json").exists()


def test_a_path_outside_the_images_reads_the_same_whether_it_exists_or_not(server: ServerConfig):
    messages = []
    for name in ("../../outside.png", "../../missing.png"):
        with pytest.raises(InputError) as err:
            invoke(server, request(likes=[name]))
        messages.append(str(err.value).replace(name, "NAME"))
    assert messages[0] == messages[1]


def test_update_state_cannot_point_a_candidate_outside_its_run(server: ServerConfig):
    graph, state = invoke(server, request())
    settings = {"configurable": {"thread_id": "t1"}}
    evil = state["candidates"][0].model_copy(update={"file": "../../../outside.png"})
    graph.update_state(settings, {"candidates": [evil], "finished": False}, as_node="generate")
    with pytest.raises(InputError, match=r"candidates\[0\]\.file"):
        graph.invoke(None, settings)


def test_a_thread_id_cannot_name_a_folder_elsewhere(server: ServerConfig):
    with pytest.raises(InputError, match="thread id"):
        invoke(server, request(), thread="../../x")
