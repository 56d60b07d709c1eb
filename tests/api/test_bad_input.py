"""Bad input gets a 4xx naming the field, never a 500 (issue 17, item 8): NUL bytes, lone surrogates, NaN and
Infinity, dates out of range, huge numbers, huge ids and over-long strings."""
from __future__ import annotations

import pytest

from tests.api.admin.admin_helpers import admin_api_client
from tests.api.bookings.conftest import ApiClient, create_mentor, create_person

BIG_ID = "541040437354048323584"


@pytest.fixture
def people(app, make_user):
    learner = create_person(app, "leo@example.com", tz="Europe/London", full_name="Leo Learner")
    admin = make_user("root@example.com", roles=("admin",))
    return {"learner": learner, "mentor": create_mentor(app), "admin": admin}


def _raw(client: ApiClient, method: str, url: str, body: str):
    return client.client.open(url, method=method, data=body, content_type="application/json",
                              headers={"X-CSRFToken": client.token})


JSON_CASES = [
    ("PUT", "/api/v1/profile/learner", '{"full_name": "a\\u0000b"}', "full_name"),
    ("PUT", "/api/v1/profile/learner", '{"full_name": "a\\ud800b"}', "full_name"),
    ("PUT", "/api/v1/profile/learner", '{"timezone": "\\ud800"}', "timezone"),
    ("POST", "/api/v1/recommendations/clicks", '{"exposure_id": Infinity, "mentor_id": 1}', "exposure_id"),
    ("POST", "/api/v1/recommendations/clicks", '{"exposure_id": NaN, "mentor_id": 1}', "exposure_id"),
    ("POST", "/api/v1/bookings", '{"mentor_id": 1, "starts_at": "2026-03-03T08:00:00Z", "note": "\\udfff"}', "note"),
]


@pytest.mark.db
@pytest.mark.parametrize("method,url,body,field", JSON_CASES)
def test_unusable_json_is_a_400_naming_the_field(app, people, method, url, body, field):
    response = _raw(ApiClient(app, people["learner"]), method, url, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert field in response.json["error"]["fields"], response.json


REFUSED_URLS = ["/chat/rooms/%00", "/bookings/feed/%00.ics", "/search?q=a%00b", f"/bookings/{BIG_ID}",
                f"/api/v1/bookings/{BIG_ID}", "/api/v1/bookings/-1", "/api/v1/mentors/99999999999999999999",
                "/search?tz=" + "A" * 5000, "/api/v1/search?tz=" + "A" * 5000, "/api/v1/search?price_max=1e999",
                "/api/v1/search?min_rating=nan"]
CLAMPED_URLS = ["/admin/audit?page=99999999999999999999", "/api/v1/admin/audit?page=99999999999999999999",
                "/search?page=99999999999999999999"]


@pytest.mark.db
def test_hostile_urls_are_refused_or_clamped_never_a_500(app, people):
    learner = ApiClient(app, people["learner"]).client
    admin = admin_api_client(app, people["admin"]).client  # through password and two-factor
    for who, client in (("learner", learner), ("admin", admin)):
        for url in REFUSED_URLS:
            status = client.get(url).status_code
            assert 400 <= status < 500, (who, url, status)
        for url in CLAMPED_URLS:  # a page number past the end: the last page, an empty one, or a 4xx
            status = client.get(url).status_code
            assert status < 500, (who, url, status)


@pytest.mark.db
@pytest.mark.parametrize("starts_at", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-13-40T99:00:00Z"])
def test_a_booking_out_of_range_is_a_400_naming_starts_at(app, people, starts_at):
    client = ApiClient(app, people["learner"])
    response = client.post("/api/v1/bookings", json={"mentor_id": people["mentor"].id, "starts_at": starts_at})
    assert response.status_code in (400, 409, 422), response.get_data(as_text=True)
    assert "starts_at" in response.json["error"]["fields"], response.json


@pytest.mark.db
def test_an_over_long_time_zone_is_a_400_naming_it(app, people):
    response = ApiClient(app, people["learner"]).put("/api/v1/profile/learner", {"timezone": "A" * 5000})
    assert response.status_code == 400 and "timezone" in response.json["error"]["fields"]
