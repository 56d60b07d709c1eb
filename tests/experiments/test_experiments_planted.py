"""Planted-taste worlds: the generator's ground truth is self-consistent, and `mentorhub bench planted` runs end to end."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments import planted

SMALL = planted.PlantedSpec(learners=120, mentors=30, days=60, seed=5)


@pytest.fixture(scope="module")
def world() -> planted.PlantedWorld:
    return planted.generate(SMALL)


def test_a_fixed_seed_gives_the_same_world_and_another_seed_another(world):
    again = planted.generate(SMALL)
    for name in ("topics", "mentors", "learners", "bookings", "exposures"):
        pd.testing.assert_frame_equal(getattr(world, name), getattr(again, name))
    assert np.array_equal(world.utility, again.utility) and np.array_equal(world.tastes, again.tastes)
    other = planted.generate(planted.PlantedSpec(learners=120, mentors=30, days=60, seed=6))
    assert not other.bookings[["learner_id", "mentor_id"]].equals(world.bookings[["learner_id", "mentor_id"]])


def test_each_learners_last_bookings_are_held_out_and_are_of_mentors_unseen_in_training(world):
    seen, held = world.seen(), world.held_out()
    assert set(held) == set(world.learner_ids.tolist())  # every learner is evaluated
    for learner, frame in world.bookings.groupby("learner_id"):
        frame = frame.sort_values("requested_at")
        assert frame["held_out"].tolist()[-SMALL.holdout:] == [True] * SMALL.holdout
        assert not frame["held_out"].iloc[:-SMALL.holdout].any() and len(frame) > SMALL.holdout
        assert held[learner] and not held[learner] & seen[learner]  # new mentors to the learner
        assert frame["mentor_id"].is_unique


def test_the_utility_is_the_documented_formula_of_the_hidden_quantities(world):
    membership = np.zeros((len(world.mentors), len(world.topics)))
    for row, topic_ids in enumerate(world.mentors["topic_ids"]):
        membership[row, np.asarray(topic_ids) - 1] = 1.0
    match = world.tastes @ membership.T
    over = np.maximum(0.0, np.log(world.mentors["price_minor"].to_numpy(float)[None, :]
                                  / world.learners["budget_minor"].to_numpy(float)[:, None]))
    expected = (planted.INTEREST_WEIGHT * match
                + world.learners["quality_weight"].to_numpy()[:, None] * world.mentors["quality"].to_numpy()[None, :]
                - world.learners["price_weight"].to_numpy()[:, None] * over)
    assert np.allclose(world.utility, expected)
    assert np.allclose(world.tastes.sum(axis=1), 1.0)


def test_the_planted_best_are_the_unseen_mentors_of_highest_hidden_utility(world):
    best, seen = world.planted_best(), world.seen()
    mentors = world.mentor_ids
    for row, learner in enumerate(world.learner_ids.tolist()):
        picks = best[learner]
        assert len(picks) == planted.K and not set(picks) & seen[learner]
        utility = dict(zip(mentors.tolist(), world.utility[row].tolist()))
        unseen = sorted((m for m in mentors.tolist() if m not in seen[learner]), key=lambda m: -utility[m])
        assert [utility[m] for m in picks] == [utility[m] for m in unseen[:planted.K]]
    assert planted.overlap_at_k(best, best) == 1.0


def test_bookings_follow_tastes_and_lean_toward_visible_popular_mentors(world):
    rows = {int(m): r for r, m in enumerate(world.mentor_ids.tolist())}
    learner_rows = {int(m): r for r, m in enumerate(world.learner_ids.tolist())}
    booked_u = [world.utility[learner_rows[l], rows[m]] for l, m in zip(world.bookings["learner_id"],
                                                                        world.bookings["mentor_id"])]
    assert np.mean(booked_u) > world.utility.mean() + 0.5  # tastes matter
    for slate, mentor in zip(world.exposures["mentor_ids"], world.bookings["mentor_id"]):
        assert mentor in slate and len(slate) == planted.SLATE_SIZE
    counts = world.bookings["mentor_id"].value_counts().reindex(world.mentor_ids, fill_value=0).to_numpy()
    visibility = world.mentors["visibility"].to_numpy()
    assert np.corrcoef(np.log(visibility), counts)[0, 1] > 0.3  # the exposure bias
    assert abs(np.corrcoef(visibility, world.mentors["quality"])[0, 1]) < 0.5  # and not a quality signal


def test_scores_and_baselines_on_the_training_split(world):
    rows = {name: {"kind": "baseline", **planted.score(world, recs)} for name, recs in planted.baselines(world).items()}
    assert rows[planted.ORACLE]["overlap_at_10"] == 1.0
    for row in rows.values():
        assert 0.0 <= row["p_at_10"] <= 1.0 and row["booked_share"] == 0.0
    assert planted.precision_at_k({1: [5, 6, 7]}, {1: {5, 9}}, k=10) == pytest.approx(0.1)
    assert planted.booked_share({1: [5, 6]}, {1: {6}}) == 0.5
    with pytest.raises(ValueError):
        planted.precision_at_k({}, {})
    text = planted.format_table(rows)
    assert all(name in text for name in rows)


@pytest.mark.slow
def test_bench_planted_runs_the_pipeline_and_the_served_endpoint_and_reports_every_row(tmp_path):
    from click.testing import CliRunner

    from api.cli import cli

    out = tmp_path / "planted.json"
    result = CliRunner().invoke(cli, ["bench", "planted", "--seed", "3", "--learners", "40", "--mentors", "16",
                                      "--days", "60", "--var-dir", str(tmp_path / "world"), "--json", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    for step in range(1, 7):
        assert f"[{step}/6]" in result.output
    figures = json.loads(out.read_text())
    rows = figures["rows"]
    families = {"popularity", "content-tfidf", "knn-baseline", "svd", "ease", "neural-hybrid"}
    assert {name.split(" (")[0] for name, row in rows.items() if row["kind"] == "family"} >= families
    assert {"served champion", planted.POPULARITY, planted.ITEM_KNN, planted.ORACLE} <= set(rows)
    assert rows["served champion"]["model"].startswith(figures["champion"]["family"])
    assert figures["served"]["ranking"].get("model") == 40  # every list came from the registered champion
    for name, row in rows.items():
        assert 0.0 <= row["p_at_10"] <= 1.0 and 0.0 <= row["overlap_at_10"] <= 1.0, name
        assert name in result.output
    assert set(figures["goal"]) == {"beats_every_family_and_item_knn_on_p",
                                    "beats_every_family_and_item_knn_on_overlap", "doubles_popularity_p"}
