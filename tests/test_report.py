"""The report shows the run and never lets model or file text become markup."""

from PIL import Image

from agentpref.images.refs import content_hash
from agentpref.judgment import DimensionScore, Judgment
from agentpref.profile import Element, Profile, UserProfile
from agentpref.runs.folder import RunFolder
from agentpref.runs.record import Assessment, Candidate, IterationRecord, ReferenceInfo, RunRecord
from agentpref.runs.report import render_report

EVIL = '<script>alert("x")</script>'


def _record(tmp_path) -> tuple[RunFolder, RunRecord]:
    folder = RunFolder(tmp_path)
    (tmp_path / "images").mkdir()
    Image.new("RGB", (32, 32), (0, 128, 128)).save(tmp_path / "images" / "it01-c00.png")
    ref = tmp_path / "ref.png"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(ref)
    candidate_hash = content_hash((tmp_path / "images" / "it01-c00.png").read_bytes())
    candidate = Candidate(
        id="it01-c00",
        iteration=1,
        index=0,
        file="images/it01-c00.png",
        sha256=candidate_hash,
        seed=1000,
        prompt=EVIL,
        generator="painter",
        notes=[f"note {EVIL}"],
    )
    record = RunRecord(
        subject=f"lighthouse {EVIL}",
        assessor="features",
        generator="painter",
        n=1,
        max_iterations=1,
        target=4.5,
        seed=0,
        size=(32, 32),
        references=[
            ReferenceInfo(
                label=f"a{EVIL}.png",
                path=str(ref),
                sha256=content_hash(ref.read_bytes()),
                liked=True,
                prompt=EVIL,
            )
        ],
        warnings=[f"skipped reference {EVIL}"],
        profile=UserProfile(
            likes=Profile(
                color=["Teal", EVIL], confidence={Element.COLOR: 0.9}, evidence={Element.COLOR: EVIL}
            ),
            dislikes=Profile(saturation=["Intense"]),
        ),
        candidates=[candidate],
        assessments=[
            Assessment(
                candidate_id="it01-c00",
                iteration=1,
                score=20.0,
                max_score=25.0,
                element_scores={Element.COLOR: 4.5},
                rationale={Element.COLOR: f"teal matches {EVIL}"},
            )
        ],
        iterations=[
            IterationRecord(
                iteration=1,
                prompt=EVIL,
                negative_prompt=EVIL,
                best_candidate="it01-c00",
                best_score=20.0,
                judgment=Judgment(
                    scores=[
                        DimensionScore(
                            element=Element.COLOR, score_a=1, score_b=4, rationale_a=EVIL, rationale_b="ok"
                        )
                    ],
                    total_a=1,
                    total_b=4,
                    winner="B",
                    summary=EVIL,
                    issues=[EVIL],
                ),
            )
        ],
        best="it01-c00",
    )
    return folder, record


def test_every_untrusted_string_is_escaped(tmp_path):
    folder, record = _record(tmp_path)
    html = render_report(folder, record)
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") >= 10


def test_report_shows_profile_scores_reasons_and_embeds_images(tmp_path):
    folder, record = _record(tmp_path)
    html = render_report(folder, record)
    assert "Teal" in html and "Intense" in html and "confidence 0.90" in html
    assert "teal matches" in html and "4.5/5" in html and "width:90%" in html
    assert html.count("data:image/") >= 2  # the candidate and the reference, embedded
    assert "★ best" in html
