from __future__ import annotations

from pathlib import Path

from loadtest import simulate_autoscaling as sim

SMALL = ["--photos", "600", "--upload-seconds", "60", "--attendees", "40",
         "--attendee-seconds", "120", "--horizon", "3600", "--scale-down-window", "60"]  # fmt: skip


def _params(*, interactive_max: int = 4) -> sim.Params:
    return sim.Params(
        photos=600, upload_seconds=60, attendees=40, attendee_seconds=120, photo_seconds=1.25,
        selfie_seconds=0.45, pod_start=30, hpa_target=0.7, hpa_sync=15, metrics_window=60,
        keda_poll=10, list_length=20, interactive_max=interactive_max, bulk_max=14,
        scale_down_window=60, horizon=3600, seed=7,
    )  # fmt: skip


def test_keda_reaches_full_size_sooner_and_drains_the_burst_first() -> None:
    hpa, keda = sim.simulate("hpa", _params()), sim.simulate("keda", _params())

    def first_at_max(outcome: sim.Outcome) -> float:
        return next(t for t, _, bulk in outcome.replicas if bulk == 14)

    assert first_at_max(keda) < first_at_max(hpa)
    assert keda.drain_seconds is not None and hpa.drain_seconds is not None
    assert keda.drain_seconds < hpa.drain_seconds
    assert len(keda.selfie_latencies) == len(hpa.selfie_latencies) == 40


def test_the_interactive_pool_keeps_selfies_out_of_the_photo_queue() -> None:
    split = sim.simulate("hpa", _params())
    shared = sim.simulate("hpa", _params(interactive_max=0))

    assert split.selfie_p(0.95) < shared.selfie_p(0.95)
    assert max(s for _, s in split.selfie_latencies) < 1.0


def test_the_command_prints_both_scalers_and_saves_the_plot(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "plot.png"

    assert sim.main([*SMALL, "--png", str(png)]) == 0

    out = capsys.readouterr().out
    assert "hpa" in out and "keda" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
