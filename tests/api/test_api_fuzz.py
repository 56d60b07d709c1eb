"""Property-based fuzzing of the JSON API from its own OpenAPI spec (schemathesis + Hypothesis): whatever a
signed-in learner or admin sends, no answer is a 5xx (issue 17). Derandomized, so every run tries the same cases."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from tests.api.admin.admin_helpers import admin_api_client
from tests.api.bookings.conftest import ApiClient, create_mentor, create_person

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 15
# operations that end the fuzzing session itself (its cookie or its password), not a bug to find
SESSION_ENDING = ("/auth/logout", "/auth/password", "/auth/me/delete")


def _fuzz(app, client, label: str) -> list[str]:
    import schemathesis
    from schemathesis.core import NotSet

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    token = client.get("/api/v1/csrf-token").json["csrf_token"]
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if any(part in operation.path for part in SESSION_ENDING):
            continue
        operations += 1

        @hypothesis_settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def send(case):
            kwargs = {"method": case.method, "query_string": case.query or None,
                      "headers": {"X-CSRFToken": token, **{k: str(v) for k, v in (case.headers or {}).items()}}}
            if not isinstance(case.body, NotSet):
                if (case.media_type or "").startswith("multipart/"):
                    return  # file uploads have their own tests (tests/api/profiles, tests/api/chat)
                kwargs["json"] = case.body
            response = client.open(case.formatted_path, **kwargs)
            if response.status_code >= 500:
                failures.append(f"[{label}] {case.method} {case.formatted_path} query={case.query!r} "
                                f"body={case.body!r} -> {response.status_code}")

        send()
    assert operations > 30, f"the spec lists only {operations} operations"
    return failures


@pytest.mark.db
def test_the_json_api_never_answers_5xx(app, make_user):
    learner = create_person(app, "leo@example.com", tz="Europe/London", full_name="Leo Learner")
    create_mentor(app)
    admin = make_user("root@example.com", roles=("admin",))
    failures = _fuzz(app, ApiClient(app, learner).client, "learner")
    failures += _fuzz(app, admin_api_client(app, admin).client, "admin")
    assert not failures, f"{len(failures)} answers were 5xx:\n" + "\n".join(failures[:40])
