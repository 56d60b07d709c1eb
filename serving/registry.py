"""The model registry client: champion and challenger by MLflow alias, loaded once, reloaded when an alias moves.

Requests never wait for MLflow: `model()` returns what is loaded and, at most every `poll_seconds`,
starts one background poll that resolves the aliases and loads any version not in memory, then swaps
the references (a dict assignment: requests in flight keep the model they started with). If the
registry is unreachable, the last loaded models stay; with none loaded, callers fall back to
popularity. MLflow is imported on the first poll, never at start-up.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from models.aliases import CHALLENGER, CHAMPION, move_alias
from models.constants import REGISTERED_MODEL_NAME
from serving.recommend import FAMILY_SLOTS

logger = logging.getLogger(__name__)

MODEL_NAME = REGISTERED_MODEL_NAME  # the name pipelines.train registers under
CONTENT_FAMILY = "content-tfidf"  # the cold-start model: scores a new learner's interests text
HISTORY_TAG = "champion_history"  # registered-model tag: JSON list of champion versions, oldest first
TEXT_SCORE_CACHE = 256  # interest texts whose content scores a loaded model keeps (one float per item each)


@dataclass
class LoadedModel:
    """One registered version in memory, with a fast id -> index lookup for scoring candidates."""

    version: str
    family: str
    recommender: Any  # models.base.Recommender
    data_version: str = ""

    def __post_init__(self) -> None:
        items = np.asarray([int(i) for i in self.recommender.item_ids_.tolist()], dtype=np.int64)
        size = int(items.max()) + 1 if items.size else 1
        self._lookup = np.full(size, -1, dtype=np.int64)
        self._lookup[items] = np.arange(items.size)
        self._users = self.recommender.user_index_
        # learners' interest texts repeat (a few topics each): the same text scores the same for this version
        self._text_scores = lru_cache(maxsize=TEXT_SCORE_CACHE)(self.recommender.score_text) \
            if hasattr(self.recommender, "score_text") else None

    def knows(self, learner_id: int) -> bool:
        return learner_id in self._users

    def scores(self, learner_id: int, mentor_ids: np.ndarray) -> np.ndarray:
        """Model scores of these mentors (NaN for mentors the model never saw); unknown learners get popularity."""
        full = self.recommender.score_batch([learner_id])[0]
        ids = np.asarray(mentor_ids, dtype=np.int64)
        # one gather: a mentor the model never saw (-1, in the lookup or outside it) reads the NaN appended last
        index = np.full(ids.shape, -1, dtype=np.int64)
        inside = (ids >= 0) & (ids < self._lookup.size)
        index[inside] = self._lookup[ids[inside]]
        return np.append(full, np.nan)[index]

    def reasons(self, learner_id: int, mentor_ids) -> list[list] | None:
        """The model's own reasons for these picks, strongest first (models that explain themselves: the
        learning-to-rank family's per-feature contributions); None when the model has none for this learner."""
        explain = getattr(self.recommender, "reasons", None)
        if explain is None or learner_id not in self._users:
            return None
        return explain(learner_id, [int(m) for m in mentor_ids])

    def text_scores(self, text: str, mentor_ids: np.ndarray) -> np.ndarray | None:
        """Content similarity of free text to these mentors (content models only)."""
        if self._text_scores is None or not text.strip():
            return None
        full = self._text_scores(text)  # shared by the cache: read, never written
        ids = np.asarray(mentor_ids, dtype=np.int64)
        inside = (ids >= 0) & (ids < self._lookup.size)
        index = np.full(ids.shape, -1, dtype=np.int64)
        index[inside] = self._lookup[ids[inside]]
        out = np.zeros(ids.shape)
        out[index >= 0] = full[index[index >= 0]]
        return out


class RegistryUnavailable(RuntimeError):
    """The MLflow registry could not be reached."""


def _sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):])
    return None


class ModelRegistry:
    """Champion, challenger (and any pinned version) of one registered model, kept in memory."""

    def __init__(self, tracking_uri: str, model_name: str = MODEL_NAME, poll_seconds: float = 30.0,
                 first_load_wait_seconds: float = 5.0, client_factory: Callable[[str], Any] | None = None,
                 loader: Callable[[str, str], Any] | None = None):
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.poll_seconds = poll_seconds
        self.first_load_wait_seconds = first_load_wait_seconds
        self.client_factory = client_factory or self._mlflow_client
        self.loader = loader or self._load_recommender
        self._lock = threading.Lock()
        self._polling = False
        self._polled_once = threading.Event()
        self._last_poll = -1e18
        self._aliases: dict[str, str] = {}  # alias -> version
        self._models: dict[str, LoadedModel] = {}  # version -> model
        self._content: LoadedModel | None = None
        self._companions: dict[str, LoadedModel] = {}  # blend slot -> a model of that family, champion's data
        self._companions_of: LoadedModel | None = None  # the champion they were chosen for
        self._wanted_versions: set[str] = set()
        self.last_error: str | None = None
        self.last_success: float | None = None
        self.reloads = 0

    # ------------------------------------------------------------ reading (request path)
    def model(self, alias: str | None = CHAMPION, version: str | None = None) -> LoadedModel | None:
        """The loaded model of a pinned version or an alias; falls back to the champion, then any loaded model."""
        self._maybe_poll()
        models, aliases = self._models, self._aliases
        if version is not None:
            found = models.get(str(version))
            if found is not None:
                return found
            if str(version) not in self._wanted_versions:  # load it on the next poll, which starts now
                self._wanted_versions.add(str(version))
                self._last_poll = -1e18
                self._maybe_poll()
        if alias is not None and aliases.get(alias) in models:
            return models[aliases[alias]]
        if aliases.get(CHAMPION) in models:
            return models[aliases[CHAMPION]]
        return next(iter(models.values()), None)

    def content_model(self) -> LoadedModel | None:
        """The content-based model for cold start (the newest content-tfidf version of the champion's data)."""
        return self._content

    def companions(self) -> dict[str, LoadedModel]:
        """One model per hybrid-blend slot (content, collaborative, neural) trained on the champion's data: the
        champion in its own slot, the best registered version of the other slots' families (by NDCG@10)."""
        return self._companions

    def alias_version(self, alias: str) -> str | None:
        """The version an alias points at (as last polled)."""
        self._maybe_poll()
        return self._aliases.get(alias)

    def status(self) -> dict:
        return {"model_name": self.model_name, "aliases": dict(self._aliases), "loaded": sorted(self._models),
                "content_model": self._content.version if self._content else None, "last_error": self.last_error,
                "last_success": self.last_success, "reloads": self.reloads, "poll_seconds": self.poll_seconds}

    # ------------------------------------------------------------ polling
    def _maybe_poll(self) -> None:
        now = time.monotonic()
        if now - self._last_poll < self.poll_seconds or self._polling:
            if not self._polled_once.is_set() and self._polling:
                self._polled_once.wait(self.first_load_wait_seconds)
            return
        with self._lock:
            if self._polling or time.monotonic() - self._last_poll < self.poll_seconds:
                return
            self._polling = True
            self._last_poll = time.monotonic()
        thread = threading.Thread(target=self._poll_guarded, name="serving-registry-poll", daemon=True)
        thread.start()
        if not self._polled_once.is_set():
            self._polled_once.wait(self.first_load_wait_seconds)

    def _poll_guarded(self) -> None:
        try:
            self.refresh()
        except Exception as error:  # noqa: BLE001 - keep serving the last loaded models
            self.last_error = f"{type(error).__name__}: {error}"
            logger.warning("model registry poll failed, serving the last loaded models: %s", self.last_error)
        finally:
            self._polling = False
            self._polled_once.set()

    def refresh(self) -> dict:
        """Resolve the aliases now and load what is missing (synchronous); returns the alias map."""
        path = _sqlite_path(self.tracking_uri)
        if path is not None and not path.is_file():
            self.last_error = "no registry yet"
            return dict(self._aliases)
        client = self.client_factory(self.tracking_uri)
        aliases, tags = self._resolve_aliases(client)
        models = self._load_missing(client, set(aliases.values()) | set(self._wanted_versions), tags)
        keep = set(aliases.values()) | set(self._wanted_versions)
        models = {v: m for v, m in models.items() if v in keep} or models
        champion = models.get(aliases.get(CHAMPION, ""))
        content, companions = self._follow_champion(client, champion, models)
        self._models, self._aliases, self._content = models, aliases, content
        self._companions, self._companions_of = companions, champion if champion is not None else self._companions_of
        self.last_error = None
        self.last_success = time.time()
        self._last_poll = time.monotonic()
        return dict(aliases)

    def _resolve_aliases(self, client) -> tuple[dict[str, str], dict[str, dict]]:
        """alias -> version of champion and challenger (a missing alias is left out), and each version's tags."""
        aliases: dict[str, str] = {}
        tags: dict[str, dict] = {}
        for alias in (CHAMPION, CHALLENGER):
            try:
                mv = client.get_model_version_by_alias(self.model_name, alias)
            except Exception as error:  # noqa: BLE001 - a missing alias or model is not an outage
                if _is_missing(error):
                    continue
                raise RegistryUnavailable(str(error)) from error
            aliases[alias] = str(mv.version)
            tags[str(mv.version)] = dict(mv.tags or {})
        return aliases, tags

    def _load_missing(self, client, wanted: set[str], tags: dict[str, dict]) -> dict[str, LoadedModel]:
        """The loaded models plus every wanted version not yet in memory (a version that fails to load is dropped
        from the wanted ones and logged)."""
        models = dict(self._models)
        for version in sorted(wanted):
            if version in models:
                continue
            try:
                if version not in tags:
                    tags[version] = dict(client.get_model_version(self.model_name, version).tags or {})
                recommender = self.loader(self.model_name, version)
            except Exception as error:  # noqa: BLE001 - one broken version must not stop the others
                logger.warning("could not load %s version %s: %s", self.model_name, version, error)
                self._wanted_versions.discard(version)
                continue
            models[version] = LoadedModel(version=version, family=tags[version].get("family", "?"),
                                          recommender=recommender, data_version=tags[version].get("data_version", ""))
            self.reloads += 1
            logger.info("loaded %s version %s (%s)", self.model_name, version, models[version].family)
        return models

    def _follow_champion(self, client, champion: LoadedModel | None,
                         models: dict[str, LoadedModel]) -> tuple[LoadedModel | None, dict[str, LoadedModel]]:
        """The content model and the blend's companions for this champion (unchanged without a champion)."""
        content, companions = self._content, self._companions
        if champion is None:
            return content, companions
        if champion.family == CONTENT_FAMILY:
            content = champion
        elif content is None or content.data_version != champion.data_version:
            content = self._load_content(client, champion.data_version) or content
        if self._companions_of is not champion:
            companions = self._load_companions(client, champion, content, models)
        return content, companions

    def _load_content(self, client, data_version: str) -> LoadedModel | None:
        try:
            versions = client.search_model_versions(f"name='{self.model_name}'")
        except Exception:  # noqa: BLE001
            return None
        content = [v for v in versions if (v.tags or {}).get("family") == CONTENT_FAMILY]
        if not content:
            return None
        same = [v for v in content if (v.tags or {}).get("data_version") == data_version] or content
        best = max(same, key=lambda v: int(v.version))
        try:
            return LoadedModel(version=str(best.version), family=CONTENT_FAMILY,
                               recommender=self.loader(self.model_name, str(best.version)),
                               data_version=(best.tags or {}).get("data_version", ""))
        except Exception as error:  # noqa: BLE001
            logger.warning("could not load the content model: %s", error)
            return None

    def _load_companions(self, client, champion: LoadedModel, content: LoadedModel | None,
                         loaded: dict[str, LoadedModel]) -> dict[str, LoadedModel]:
        """The blend's companions of this champion (see `companions`); slots whose model cannot be loaded stay
        empty (serving rescales the blend over the others)."""
        out: dict[str, LoadedModel] = {}
        own = FAMILY_SLOTS.get(champion.family)
        if own is None:
            return out  # a model that is a whole ranking by itself: no blend
        out[own] = champion
        if content is not None and own != "content":
            out["content"] = content
        try:
            versions = client.search_model_versions(f"name='{self.model_name}'")
        except Exception:  # noqa: BLE001 - no companions: the champion alone
            return out
        for slot in ("collaborative", "neural"):
            if slot in out:
                continue
            same = [v for v in versions if FAMILY_SLOTS.get((v.tags or {}).get("family", "")) == slot
                    and (v.tags or {}).get("data_version") == champion.data_version]
            if not same:
                continue
            best = max(same, key=_quality)
            found = loaded.get(str(best.version))
            if found is None:
                try:
                    found = LoadedModel(version=str(best.version), family=best.tags["family"],
                                        recommender=self.loader(self.model_name, str(best.version)),
                                        data_version=champion.data_version)
                except Exception as error:  # noqa: BLE001
                    logger.warning("could not load the %s companion: %s", slot, error)
                    continue
            out[slot] = found
        return out

    def wait_until_loaded(self, timeout: float = 60.0) -> bool:
        """Poll now (synchronously) and tell whether a champion is in memory; for start-up scripts and tests."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.refresh()
            except Exception as error:  # noqa: BLE001
                self.last_error = str(error)
            if self._aliases.get(CHAMPION) in self._models or time.monotonic() > deadline:
                return self._aliases.get(CHAMPION) in self._models
            time.sleep(0.2)

    # ------------------------------------------------------------ moving aliases
    def set_alias(self, alias: str, version: str) -> None:
        move_alias(self.client_factory(self.tracking_uri), alias, version, self.model_name)

    def _history(self, client) -> list[str]:
        try:
            tags = client.get_registered_model(self.model_name).tags or {}
        except Exception:  # noqa: BLE001
            return []
        try:
            return [str(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]
        except ValueError:
            return []

    def promote(self, version: str, reason: str = "") -> str | None:
        """Point `champion` at `version`, remember the previous one for rollback, reload here; returns the previous."""
        client = self.client_factory(self.tracking_uri)
        previous = None
        try:
            previous = str(client.get_model_version_by_alias(self.model_name, CHAMPION).version)
        except Exception as error:  # noqa: BLE001
            if not _is_missing(error):
                raise
        history = self._history(client)
        if previous is not None and (not history or history[-1] != previous):
            history.append(previous)
        move_alias(client, CHAMPION, version, self.model_name)
        history.append(str(version))
        client.set_registered_model_tag(self.model_name, HISTORY_TAG, json.dumps(history[-50:]))
        if reason:
            client.set_model_version_tag(self.model_name, str(version), "promoted_because", reason[:250])
        self.refresh()
        return previous

    def rollback(self) -> dict:
        """Move `champion` back to the version before the current one (the history kept by `promote`)."""
        client = self.client_factory(self.tracking_uri)
        history = self._history(client)
        current = str(client.get_model_version_by_alias(self.model_name, CHAMPION).version)
        while history and history[-1] == current:
            history.pop()
        if not history:
            raise ValueError("no earlier champion to roll back to")
        target = history[-1]
        move_alias(client, CHAMPION, target, self.model_name)
        client.set_registered_model_tag(self.model_name, HISTORY_TAG, json.dumps(history))
        self.refresh()
        return {"version": target, "previous": current}

    # ------------------------------------------------------------ MLflow (lazy)
    @staticmethod
    def _mlflow_client(tracking_uri: str):
        from mlflow import MlflowClient  # lazy: MLflow is imported on the first poll, never at start-up

        return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def _load_recommender(self, model_name: str, version: str):
        """The fitted recommender inside the pyfunc wrapper (scored directly: no DataFrame round trip)."""
        import mlflow  # lazy: as above

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        pyfunc = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
        wrapper = pyfunc.unwrap_python_model()
        return wrapper.model


def _quality(version) -> tuple:
    """How a registered version ranks among companions: its NDCG@10 tag (-1 without one), then the newest."""
    try:
        metric = float((version.tags or {}).get("ndcg_at_10", "nan"))
    except ValueError:
        metric = float("nan")
    return (metric if metric == metric else -1.0, int(version.version))


def _is_missing(error: Exception) -> bool:
    text = str(error)
    code = getattr(error, "error_code", "") or ""
    return "RESOURCE_DOES_NOT_EXIST" in code or "not found" in text.lower() or "does not exist" in text.lower() \
        or "INVALID_PARAMETER_VALUE" in code
