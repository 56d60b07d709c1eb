"""`mentorhub screenshots`: a seeded world served on a free port, pages shot per role at both widths."""
from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import cli
from tests.conftest import ENV_SETTINGS, service_unavailable

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_screenshots_of_each_role_s_pages_at_both_widths(tmp_path):
    if not Path(ENV_SETTINGS.chromium_path).exists():
        service_unavailable(f"Chromium not installed at {ENV_SETTINGS.chromium_path} (apt-get install chromium)")
    from click.testing import CliRunner

    out = tmp_path / "shots"
    result = CliRunner().invoke(cli, ["screenshots", str(out), "--roles", "anonymous,learner,admin",
                                      "--pages", "home,my-sessions,mentor-queue", "--learners", "12",
                                      "--mentors", "4", "--days", "14"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    expected = ["anonymous-home", "learner-home", "learner-my-sessions", "admin-mentor-queue"]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{n}-{w}.png" for n in expected for w in (1280, 390))
    for name in expected:
        for width in (1280, 390):
            shot_width, height = _png_size(out / f"{name}-{width}.png")
            assert shot_width == width and height >= 600, (name, width, shot_width, height)
            line = next(l for l in result.output.splitlines() if f" {name}-{width}.png " in l)  # one per shot
            assert " 200 " in line and "ended on" not in line, line  # the role's page, not a log-in redirect
