"""facematch's traffic mix: attendees, a photographer's bulk upload, an admin.

    LOADTEST_ADMIN_EMAIL=... LOADTEST_ADMIN_PASSWORD=... \\
        locust -f loadtest/locustfile.py --host http://127.0.0.1:8000

`make loadtest` runs it headless against a throwaway local stack; the chart
runs it in-cluster (`loadtest.enabled`). The scenarios live in `scenarios.py`
beside this file; Locust puts this file's folder on `sys.path`.
"""

from __future__ import annotations

import scenarios  # type: ignore[import-not-found]
from locust import HttpUser, between, task

SETTINGS = scenarios.Settings()


class Attendee(HttpUser):
    """Arrives (register, selfie, verdict), then checks "my photos" now and then.

    With LOADTEST_ATTENDEE_VISITS set, the attendee deletes their face data after
    that many looks and a new attendee arrives in their place, so registrations,
    selfies and deletions go on for the whole run.
    """

    weight = 100
    wait_time = between(5, 15)

    def on_start(self) -> None:
        self.arrive()

    def arrive(self) -> None:
        self.state, self.visits = scenarios.AttendeeState(), 0
        scenarios.attendee_arrives(self, self.state, self.host)

    @task
    def check_my_photos(self) -> None:
        if SETTINGS.attendee_visits and self.visits >= SETTINGS.attendee_visits:
            scenarios.attendee_leaves(self, self.state)
            self.arrive()
            return
        self.visits += 1
        scenarios.my_photos(self, self.state)


class Photographer(HttpUser):
    """Uploads this process's share of photos in batches, watching the indexing progress.

    LOADTEST_PHOTO_INTERVAL sets the pause between its requests (1 s: a burst).
    """

    fixed_count = 1
    done = False

    def wait_time(self) -> float:
        return 10.0 if self.done else SETTINGS.photo_interval

    @task(4)
    def upload_photos(self) -> None:
        self.done = not scenarios.photographer_uploads(self, self.host)

    @task(1)
    def check_progress(self) -> None:
        scenarios.photographer_checks_progress(self, self.host)


class Admin(HttpUser):
    """Watches the queues and, now and then, rematches an event."""

    fixed_count = 1
    wait_time = between(5, 10)

    @task(6)
    def read_queues(self) -> None:
        scenarios.admin_reads_queues(self, self.host)

    @task(1)
    def rematch(self) -> None:
        scenarios.admin_rematches(self, self.host)
