"""The load test's verdicts: RSS growth windows and failures by kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.run import Peaks, failures_by_status, rss_growth


def samples(api: list[float], every: float = 10.0) -> list[dict[str, float]]:
    return [{"t": i * every, "api_rss_mib": v, "worker_rss_mib": 300.0} for i, v in enumerate(api)]


def test_growth_compares_the_window_after_warm_up_with_the_last_one() -> None:
    # 30 min at one sample per 10 s: warm-up 0-6 min, then 6-11 min against 25-30 min.
    api = [100.0] * 36 + [200.0] * 30 + [210.0] * 84 + [230.0] * 31
    growth = {g.role: g for g in rss_growth(samples(api))}

    assert growth["api"].start_mib == 200.0  # the warm-up's 100 MiB is not the baseline
    assert growth["api"].end_mib == 230.0
    assert growth["api"].percent == pytest.approx(15.0)
    assert growth["worker"].percent == 0.0
    assert "horse" not in growth  # not sampled, not judged


def test_no_samples_no_growth() -> None:
    assert rss_growth([]) == []


def test_failures_are_counted_by_kind(tmp_path: Path) -> None:
    path = tmp_path / "locust_failures.csv"
    path.write_text(
        "Method,Name,Error,Occurrences\n"
        'POST,[Attendee] register,"CatchResponseError(\'503: {""error"":""busy""}\')",4\n'
        "GET,[Attendee] my photos,\"CatchResponseError('500: Internal')\",1\n"
        "POST,[Attendee] upload selfie,\"CatchResponseError('413: too large')\",2\n"
        "GET,[Attendee] selfie status,\"CatchResponseError('0: ')\",3\n"
        "GET,[Attendee] selfie status,\"ConnectionResetError(104, 'Connection reset')\",1\n"
        "GET,[Attendee] my photos,\"CatchResponseError('no photo list')\",5\n"
    )
    assert failures_by_status(path) == {"5xx": 5, "4xx": 2, "connection": 4, "other": 5}


def test_no_failures_file_means_none(tmp_path: Path) -> None:
    assert failures_by_status(tmp_path / "missing.csv") == {
        "5xx": 0, "4xx": 0, "connection": 0, "other": 0
    }  # fmt: skip


def test_a_restart_is_a_new_process_that_lives_past_one_sample() -> None:
    peaks = Peaks()
    peaks.early_pids = {"api": {1, 2}, "worker": {10, 11}}
    peaks.pids["api"].update([1, 2] * 5)
    # 12 came back after a crash; 13 was a work horse caught before it took its name.
    peaks.pids["worker"].update([10, 11] * 5 + [12, 12, 13])
    assert peaks.restarted() == {"api": 0, "worker": 1}
