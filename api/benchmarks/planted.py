"""`mentorhub bench planted`: the product's own pipeline and serving on a world whose tastes are known.

    mentorhub bench planted [--seed N] [--learners 600] [--mentors 120] [--days 120] [--family F ...]
                            [--var-dir DIR] [--json out.json]

1. generates a planted world (experiments.planted: learners weigh topic interest, price against their own
   budget and a mentor's hidden quality; bookings lean toward visible and popular mentors), each learner's last
   bookings held out;
2. writes its training part into the app's own tables (users, roles, learner and mentor profiles, topics,
   completed bookings, reviews, and the events: exposures of the slates shown, booking requests and outcomes,
   ratings) in a fresh database under the bench's folder, as the demo seeder does;
3. runs the product's pipeline, `mentorhub pipeline all` (without the monitoring reports), in a subprocess on
   that database: ingest into Feast, every family trained, logged to MLflow and registered, the champion promoted;
4. asks the served endpoint, GET /api/v1/recommendations?k=10, as each learner (logged in on the app's test
   client): whatever serving does (its champion, re-ranking, candidate rules) is in the figures;
5. scores each registered family alone (the version the pipeline registered, loaded from MLflow, ranking every
   mentor the learner has not booked), and, computed on the same training split, popularity, item-kNN (cosine on
   binary interactions) and the planted utility (the ceiling);
6. prints P@10 on the held-out bookings, overlap@10 with the planted best and the share of already-booked
   mentors in each list, and the goal of issue 18 (the served list beats every family alone and item-kNN on both
   figures, and at least doubles popularity's P@10).

The world generator lives in experiments/, which the app may not import: the CLI (the composition root) hands the
module over as the click context object (`obj["planted"]`).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import click
import numpy as np
import sqlalchemy as sa
from flask_login.utils import _create_identifier
from flask_migrate import upgrade

from api import create_app
from api.extensions import db
from api.recommendations import engine
from api.settings import Settings
from api.tables import BookingStatus, EventType, MentorStatus, Role
from models import clock
from serving.registry import CHAMPION, MODEL_NAME, ModelRegistry

SECRET = "bench-secret-not-for-production"
STEPS = 6


def _progress(step: int, text: str, started: float | None = None) -> None:
    suffix = f" ({time.perf_counter() - started:.1f}s)" if started is not None else ""
    click.echo(f"[{step}/{STEPS}] {text}{suffix}")


def _settings(var_dir: Path):
    return Settings(_env_file=None, profile="development", var_dir=var_dir, database_url="",
                    mlflow_tracking_uri=f"sqlite:///{var_dir / 'mlflow.db'}", secret_key=SECRET, redis_url="",
                    socketio_async_mode="threading", log_level="WARNING", serving_poll_seconds=3600.0,
                    serving_first_load_wait_seconds=120.0, serving_ab_check_seconds=0)


def world_rows(world) -> dict[str, list[dict]]:
    """The training part of a planted world as rows of the app's tables (held-out bookings are not written)."""
    now = world.spec.now
    joined = world.starts_at - timedelta(days=60)
    rows: dict[str, list[dict]] = {name: [] for name in TABLE_ORDER}
    rows["topics"] = [{"id": int(t.id), "slug": t.slug, "name": t.name, "category": t.category}
                      for t in world.topics.itertuples()]

    def user(uid: int, name: str, role: Role) -> None:
        rows["users"].append({"id": uid, "email": f"{name.lower().replace(' ', '.')}@planted.example", "phone": None,
                              "password_hash": None, "full_name": name, "timezone": "UTC", "currency": "USD",
                              "is_active_account": True, "email_verified_at": joined, "phone_verified_at": None,
                              "session_version": 1, "created_at": joined})
        rows["user_roles"].append({"id": len(rows["user_roles"]) + 1, "user_id": uid, "role": role,
                                   "granted_at": joined})

    train = world.training()
    reviewed = train.dropna(subset=["rating"])
    counts = reviewed.groupby("mentor_id")["rating"].agg(["count", "sum"])
    for m in world.mentors.itertuples():
        user(int(m.mentor_id), m.name, Role.MENTOR)
        count, total = (int(counts.at[m.mentor_id, "count"]), int(counts.at[m.mentor_id, "sum"])) \
            if m.mentor_id in counts.index else (0, 0)
        rows["mentor_profiles"].append({
            "user_id": int(m.mentor_id), "headline": m.headline, "bio": f"I mentor in {m.headline.split(' mentor')[0]}.",
            "years_experience": int(m.years), "past_roles": [], "languages": ["en"], "price_minor": int(m.price_minor),
            "currency": "USD", "session_minutes": 60, "timezone": "UTC", "status": MentorStatus.APPROVED,
            "status_reason": None, "reviewed_at": joined, "picture_path": None, "video_path": None, "video_url": None,
            "accepts_questions": False, "rating_count": count, "rating_sum": total, "created_at": joined,
            "updated_at": joined})
        rows["mentor_topics"].extend({"mentor_id": int(m.mentor_id), "topic_id": int(t)} for t in m.topic_ids)
    for learner in world.learners.itertuples():
        user(int(learner.learner_id), learner.name, Role.LEARNER)
        rows["learner_profiles"].append({"user_id": int(learner.learner_id), "interests": learner.interests,
                                         "preferred_slots": [], "picture_path": None, "created_at": joined,
                                         "updated_at": joined})
        rows["learner_topics"].extend({"learner_id": int(learner.learner_id), "topic_id": int(t)}
                                      for t in learner.topic_ids)
    prices = dict(zip(world.mentors["mentor_id"].tolist(), world.mentors["price_minor"].tolist()))
    events: list[tuple] = []
    for b in train.itertuples():
        requested = b.requested_at.to_pydatetime()
        starts, accepted = requested + timedelta(hours=1), requested + timedelta(minutes=10)
        ends = starts + timedelta(hours=1)
        rows["bookings"].append({
            "id": int(b.booking_id), "learner_id": int(b.learner_id), "mentor_id": int(b.mentor_id),
            "topic_id": int(b.topic_id), "starts_at": starts, "ends_at": ends, "status": BookingStatus.COMPLETED,
            "note": "", "status_reason": None, "price_minor": int(prices[b.mentor_id]), "currency": "USD",
            "video_link": None, "respond_by": starts, "created_at": requested, "updated_at": ends})
        events.append((requested, EventType.BOOKING_REQUEST, b.learner_id, b.mentor_id, b.booking_id,
                       {"price_minor": int(prices[b.mentor_id]), "currency": "USD", "source": "planted"}))
        events.append((accepted, EventType.BOOKING_OUTCOME, b.learner_id, b.mentor_id, b.booking_id,
                       {"status": "accepted", "by": "mentor"}))
        events.append((ends, EventType.BOOKING_OUTCOME, b.learner_id, b.mentor_id, b.booking_id,
                       {"status": "completed", "by": "system"}))
        if b.rating == b.rating:  # not NaN
            at = ends + timedelta(minutes=30)
            rows["reviews"].append({
                "id": len(rows["reviews"]) + 1, "booking_id": int(b.booking_id), "learner_id": int(b.learner_id),
                "mentor_id": int(b.mentor_id), "rating": int(b.rating), "text": "", "mentor_reply": None,
                "replied_at": None, "hidden": False, "reported_count": 0, "created_at": at, "updated_at": at})
            events.append((at, EventType.RATING, b.learner_id, b.mentor_id, b.booking_id, {"rating": int(b.rating)}))
    for e in world.exposures[~world.exposures["held_out"]].itertuples():
        events.append((e.at.to_pydatetime(), EventType.EXPOSURE, e.learner_id, None, None,
                       {"source": "planted", "mentor_ids": [int(m) for m in e.mentor_ids], "k": len(e.mentor_ids)}))
    events = [e for e in events if e[0] < now]
    events.sort(key=lambda e: e[0])
    rows["events"] = [{"id": n, "occurred_at": at, "event_type": kind, "user_id": int(user_id),
                       "mentor_id": int(mentor) if mentor is not None else None,
                       "booking_id": int(booking) if booking is not None else None, "exposure_id": None,
                       "model_version": None, "arm": None, "payload": payload}
                      for n, (at, kind, user_id, mentor, booking, payload) in enumerate(events, start=1)]
    return rows


TABLE_ORDER = ("topics", "users", "user_roles", "learner_profiles", "learner_topics", "mentor_profiles",
               "mentor_topics", "bookings", "reviews", "events")


def load_world(app, world) -> dict[str, int]:
    """Migrate the app's database and bulk-insert the world's training rows; returns rows per table."""
    rows = world_rows(world)
    with app.app_context():
        upgrade()
        metadata = db.Model.metadata
        for name in TABLE_ORDER:
            table = metadata.tables[name]
            for offset in range(0, len(rows[name]), 5_000):
                part = [{k: v for k, v in row.items() if k in table.c} for row in rows[name][offset:offset + 5_000]]
                db.session.execute(sa.insert(table), part)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {name: len(rows[name]) for name in TABLE_ORDER}


def run_pipeline(var_dir: Path, now: str, families: tuple[str, ...] = ()) -> dict:
    """`mentorhub --now NOW pipeline ... all --no-monitor --json` in a subprocess; its log under var_dir."""
    database_url = f"sqlite:///{var_dir / 'mentorhub.db'}"
    mlflow_uri = f"sqlite:///{var_dir / 'mlflow.db'}"
    env = {**os.environ, "VAR_DIR": str(var_dir), "DATABASE_URL": database_url, "MLFLOW_TRACKING_URI": mlflow_uri,
           "CLOCK_NOW": now, "MENTORHUB_PROFILE": "development", "REDIS_URL": "", "PREFECT_API_URL": ""}
    command = [sys.executable, "-m", "api.cli", "--now", now, "pipeline", "--var-dir", str(var_dir),
               "--database-url", database_url, "--mlflow-uri", mlflow_uri, "--json", "all", "--no-monitor",
               *[arg for family in families for arg in ("--family", family)]]
    log = var_dir / "bench-pipeline.log"
    with log.open("w") as out:
        done = subprocess.run(command, check=False, stdout=subprocess.PIPE, stderr=out, text=True, env=env,
                              cwd=Path(__file__).resolve().parents[2])
    log.write_text(log.read_text() + "\n--- stdout ---\n" + done.stdout)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise click.ClickException(f"`pipeline all` failed (exit {done.returncode}); log: {log}\n{tail}")
    start = done.stdout.find('{\n  "result"')  # the summary `pipeline --json` prints (keys sorted)
    return json.loads(done.stdout[start:])["result"] if start >= 0 else {}


def served_lists(app, learner_ids: list[int], k: int) -> tuple[dict[int, list[int]], dict]:
    """Each learner's list from GET /api/v1/recommendations?k=..., logged in as that learner."""
    with app.app_context():
        engine.state(app).registry.wait_until_loaded(120)
    client = app.test_client()
    with app.test_request_context(environ_base=dict(client.environ_base)):
        identifier = _create_identifier()
    out: dict[int, list[int]] = {}
    sources: dict[str, int] = {}
    versions: dict[str, int] = {}
    for learner in learner_ids:
        with client.session_transaction() as session:
            session.update({"_user_id": f"{learner}:1", "_fresh": True, "_id": identifier})
        response = client.get(f"/api/v1/recommendations?k={k}")
        if response.status_code != 200:
            raise click.ClickException(f"GET /api/v1/recommendations as learner {learner}: {response.status_code} "
                                       f"{response.get_data(as_text=True)[:300]}")
        body = response.get_json()
        out[learner] = [int(item["id"]) for item in body["recommendations"]]
        sources[body["ranking"]] = sources.get(body["ranking"], 0) + 1
        versions[str(body["model_version"])] = versions.get(str(body["model_version"]), 0) + 1
    return out, {"ranking": sources, "model_version": versions}


def registered_families(mlflow_uri: str) -> tuple[dict[str, str], str | None]:
    """family -> the newest registered version (the pipeline's last run), and the champion's version."""
    client = ModelRegistry._mlflow_client(mlflow_uri)
    newest: dict[str, str] = {}
    for v in client.search_model_versions(f"name='{MODEL_NAME}'"):
        family = (v.tags or {}).get("family", "?")
        if int(v.version) > int(newest.get(family, 0)):
            newest[family] = str(v.version)
    try:
        champion = str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
    except Exception:  # noqa: BLE001 - no champion: the served rows say so
        champion = None
    return dict(sorted(newest.items())), champion


def family_scores(mlflow_uri: str, version: str, learner_ids: list[int], mentor_ids: np.ndarray) -> np.ndarray:
    """A registered version's scores of every mentor for every learner (learners x mentors)."""
    registry = ModelRegistry(mlflow_uri)
    recommender = registry.loader(MODEL_NAME, version)
    return np.asarray(recommender.score_batch(learner_ids, mentor_ids.tolist()), dtype=np.float64)


@click.command("planted")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--learners", default=600, show_default=True, type=click.IntRange(1))
@click.option("--mentors", default=120, show_default=True, type=click.IntRange(12))
@click.option("--days", default=120, show_default=True, type=click.IntRange(7))
@click.option("--family", "families", multiple=True,
              help="Train only these families in `pipeline all` (repeatable; default: every family).")
@click.option("--var-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build the world's database, feature store and registry here and keep them "
                   "(default: a temporary folder, removed afterwards).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the figures here as JSON.")
@click.pass_obj
def planted(obj, seed: int, learners: int, mentors: int, days: int, families: tuple[str, ...], var_dir: Path | None,
            json_path: Path | None) -> None:
    """Planted-taste world through the product's pipeline and served endpoint: P@10 and overlap@10 per ranking."""
    experiment = (obj or {}).get("planted")
    if experiment is None:
        raise click.UsageError("run it as `mentorhub bench planted` (the CLI hands over experiments.planted)")
    keep = var_dir is not None
    var_dir = Path(var_dir or tempfile.mkdtemp(prefix="mentorhub-planted-")).resolve()
    if keep and var_dir.exists() and any(var_dir.iterdir()):
        raise click.UsageError(f"--var-dir {var_dir} is not empty: the bench builds a fresh world")
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        figures = _run(experiment, seed, learners, mentors, days, families, var_dir)
    finally:
        if not keep:
            shutil.rmtree(var_dir, ignore_errors=True)
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2, sort_keys=True, default=str))
        click.echo(f"wrote {json_path}")


def _run(experiment, seed: int, learners: int, mentors: int, days: int, families: tuple[str, ...],
         var_dir: Path) -> dict:
    k = experiment.K
    started = time.perf_counter()
    world = experiment.generate(experiment.PlantedSpec(learners=learners, mentors=mentors, days=days, seed=seed))
    held = int(world.bookings["held_out"].sum())
    _progress(1, f"planted world (seed {seed}): {learners} learners, {mentors} mentors, {len(world.bookings)} "
                 f"bookings, {held} held out", started)
    now = world.spec.now.isoformat()
    with clock.fixed(world.spec.now):
        step = time.perf_counter()
        app = create_app(settings=_settings(var_dir))
        counts = load_world(app, world)
        _progress(2, f"loaded into the app's tables: {counts['bookings']} bookings, {counts['reviews']} reviews, "
                     f"{counts['events']} events", step)
        step = time.perf_counter()
        _progress(3, "running `mentorhub pipeline all` (ingest, train every family, register, promote)...")
        pipeline = run_pipeline(var_dir, now, families)
        _progress(3, f"pipeline done: champion {pipeline.get('promote', {}).get('family')} "
                     f"(version {pipeline.get('promote', {}).get('champion')})", step)
        step = time.perf_counter()
        learner_ids = [int(i) for i in world.learner_ids.tolist()]
        served, served_meta = served_lists(app, learner_ids, k)
        _progress(4, f"served lists from GET /api/v1/recommendations for {len(served)} learners "
                     f"(ranking: {served_meta['ranking']})", step)
    step = time.perf_counter()
    mlflow_uri = app.config["MENTORHUB_SETTINGS"].mlflow_uri
    versions, champion = registered_families(mlflow_uri)
    seen, catalogue = world.seen(), world.mentor_ids
    rows: dict[str, dict] = {"served champion": {"kind": "served", **experiment.score(world, served, k)}}
    champion_family = next((f for f, v in versions.items() if v == champion), None)
    rows["served champion"]["model"] = f"{champion_family} v{champion}" if champion else "none"
    for family, version in versions.items():
        scores = family_scores(mlflow_uri, version, learner_ids, catalogue)
        recs = experiment.top_k_from_scores(scores, learner_ids, catalogue, seen, k)
        name = f"{family}" + (" (champion)" if version == champion else "")
        rows[name] = {"kind": "family", "version": version, **experiment.score(world, recs, k)}
    _progress(5, f"scored {len(versions)} registered families alone (MLflow versions "
                 f"{', '.join(f'{f} v{v}' for f, v in versions.items())})", step)
    step = time.perf_counter()
    for name, recs in experiment.baselines(world, k).items():
        rows[name] = {"kind": "oracle" if "oracle" in name else "baseline", **experiment.score(world, recs, k)}
    goal = experiment.verdict(rows, "served champion", k)
    _progress(6, "baselines on the training split: popularity, item-kNN, planted utility", step)
    click.echo(experiment.format_table(rows, k))
    click.echo("goal (issue 18): " + ", ".join(f"{name.replace('_', ' ')}: {'yes' if ok else 'NO'}"
                                               for name, ok in goal.items()))
    click.echo(f"done in {time.perf_counter() - started:.0f}s")
    return {"seed": seed, "learners": learners, "mentors": mentors, "days": days, "bookings": len(world.bookings),
            "held_out": held, "k": k, "rows": rows, "goal": goal, "served": served_meta,
            "champion": {"version": champion, "family": champion_family},
            "pipeline": pipeline, "seconds": round(time.perf_counter() - started, 1)}
