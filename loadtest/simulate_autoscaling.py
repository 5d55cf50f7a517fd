"""Simulate a 10,000-photo burst with attendees arriving, under CPU HPA and under KEDA.

    uv run python -m loadtest.simulate_autoscaling --png loadtest/results/autoscaling.png

The chart's two worker pools are modelled: `interactive` takes selfies only,
`bulk` takes selfies first, then photos. Each worker pod runs one job at a
time and is busy on one core while it does. Pods are added and removed by:

- **CPU HPA**: every `--hpa-sync` seconds, desired = ceil(ready pods x
  utilisation / target), utilisation averaged over the metrics window
  (metrics-server reports with a lag). Busy pods read 100 %.
- **KEDA**: every `--keda-poll` seconds, desired = ceil(queue length /
  listLength) per pool, through the HPA KEDA makes (same scale-up policy).

Both scale up by at most max(4 pods, 100 %) per 15 s (the HPA default) and
scale down after a stabilisation window. A new pod serves after `--pod-start`
seconds (scheduling, image present, model loading). Inputs default to the
numbers measured here (loadtest/README.md); every one is a flag.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

TICK = 0.1


@dataclass
class Pod:
    ready_at: float
    busy_until: float = 0.0
    busy_seconds: float = 0.0
    """Busy time inside the current metrics window."""


@dataclass
class Pool:
    name: str
    queues: tuple[str, ...]
    min_pods: int
    max_pods: int
    pods: list[Pod] = field(default_factory=list)
    history: deque[tuple[float, float]] = field(default_factory=deque)
    """(time, busy fraction) samples for the CPU metric."""
    last_scale_down: float = 0.0

    def ready(self, now: float) -> list[Pod]:
        return [p for p in self.pods if p.ready_at <= now]


@dataclass
class Params:
    photos: int
    upload_seconds: float
    attendees: int
    attendee_seconds: float
    photo_seconds: float
    selfie_seconds: float
    pod_start: float
    hpa_target: float
    hpa_sync: float
    metrics_window: float
    keda_poll: float
    list_length: int
    interactive_max: int
    bulk_max: int
    scale_down_window: float
    horizon: float
    seed: int


@dataclass
class Outcome:
    scaler: str
    drain_seconds: float | None
    selfie_latencies: list[tuple[float, float]]
    """(arrival time, seconds to verdict)."""
    replicas: list[tuple[float, int, int]]
    queue: list[tuple[float, int, int]]

    def selfie_p(self, q: float) -> float:
        values = sorted(latency for _, latency in self.selfie_latencies)
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _arrivals(count: int, over: float, rng: random.Random) -> deque[float]:
    return deque(sorted(rng.uniform(0, over) for _ in range(count)))


def _desired_hpa(pool: Pool, now: float, p: Params) -> int:
    ready = pool.ready(now)
    if not ready:
        return len(pool.pods)
    utilisation = statistics.fmean(u for _, u in pool.history) if pool.history else 0.0
    ratio = utilisation / p.hpa_target
    if abs(ratio - 1) <= 0.1:  # the HPA's default tolerance
        return len(pool.pods)
    return math.ceil(len(ready) * ratio)


def _desired_keda(pool: Pool, depth: dict[str, int], p: Params) -> int:
    waiting = sum(depth[q] for q in pool.queues)
    return math.ceil(waiting / p.list_length)


def _apply(pool: Pool, desired: int, now: float, p: Params) -> None:
    current = len(pool.pods)
    desired = max(pool.min_pods, min(pool.max_pods, desired))
    if desired > current:
        step = max(4, current)  # HPA default scale-up policy per 15 s period
        for _ in range(min(desired - current, step)):
            pool.pods.append(Pod(ready_at=now + p.pod_start))
    elif desired < current and now - pool.last_scale_down >= p.scale_down_window:
        idle = [pod for pod in pool.pods if pod.busy_until <= now]
        for pod in idle[: current - desired]:
            pool.pods.remove(pod)
        pool.last_scale_down = now


def simulate(scaler: str, p: Params) -> Outcome:
    rng = random.Random(p.seed)
    photos = _arrivals(p.photos, p.upload_seconds, rng)
    selfies = _arrivals(p.attendees, p.attendee_seconds, rng)
    queues: dict[str, deque[float]] = {"selfies": deque(), "photos": deque()}
    pools = [
        Pool("interactive", ("selfies",), min(1, p.interactive_max), p.interactive_max),
        Pool("bulk", ("selfies", "photos"), 1, p.bulk_max),
    ]
    for pool in pools:
        pool.pods.extend(Pod(ready_at=0.0) for _ in range(pool.min_pods))
    outcome = Outcome(scaler, None, [], [], [])
    period = p.hpa_sync if scaler == "hpa" else p.keda_poll
    next_scale, next_sample, done_photos = period, 0.0, 0
    now = 0.0
    while now < p.horizon:
        while photos and photos[0] <= now:
            queues["photos"].append(photos.popleft())
        while selfies and selfies[0] <= now:
            queues["selfies"].append(selfies.popleft())
        for pool in pools:
            ready = pool.ready(now)
            for pod in ready:
                if pod.busy_until > now:
                    continue
                for name in pool.queues:
                    if queues[name]:
                        arrived = queues[name].popleft()
                        seconds = p.selfie_seconds if name == "selfies" else p.photo_seconds
                        pod.busy_until = now + seconds * rng.uniform(0.7, 1.3)
                        if name == "selfies":
                            outcome.selfie_latencies.append((arrived, pod.busy_until - arrived))
                        else:
                            done_photos += 1
                        break
            busy = sum(1 for pod in ready if pod.busy_until > now)
            pool.history.append((now, busy / len(ready) if ready else 0.0))
            while pool.history[0][0] < now - p.metrics_window:
                pool.history.popleft()
        if done_photos == p.photos and outcome.drain_seconds is None:
            outcome.drain_seconds = max(pod.busy_until for pool in pools for pod in pool.pods)
        if now >= next_scale:
            depth = {name: len(q) for name, q in queues.items()}
            for pool in pools:
                desired = (
                    _desired_hpa(pool, now, p) if scaler == "hpa" else _desired_keda(pool, depth, p)
                )
                _apply(pool, desired, now, p)
            next_scale += period
        if now >= next_sample:
            outcome.replicas.append((now, len(pools[0].pods), len(pools[1].pods)))
            outcome.queue.append((now, len(queues["photos"]), len(queues["selfies"])))
            next_sample += 5
        if outcome.drain_seconds is not None and not selfies and not queues["selfies"]:
            break
        now = round(now + TICK, 6)
    return outcome


def plot(outcomes: list[Outcome], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
    for outcome, colour in zip(outcomes, ("tab:orange", "tab:blue"), strict=True):
        label = "CPU HPA" if outcome.scaler == "hpa" else "KEDA queue length"
        t = [x / 60 for x, *_ in outcome.replicas]
        axes[0].plot(t, [b for _, _, b in outcome.replicas], color=colour, label=f"{label}: bulk")
        axes[0].plot(
            t,
            [i for _, i, _ in outcome.replicas],
            color=colour,
            linestyle=":",
            label=f"{label}: interactive",
        )
        axes[1].plot(
            [x / 60 for x, *_ in outcome.queue],
            [q for _, q, _ in outcome.queue],
            color=colour,
            label=label,
        )
        window = [(a / 60, s) for a, s in outcome.selfie_latencies]
        axes[2].scatter(
            [a for a, _ in window],
            [s for _, s in window],
            s=4,
            color=colour,
            alpha=0.5,
            label=label,
        )
    axes[0].set_ylabel("worker pods")
    axes[1].set_ylabel("photos queued")
    axes[2].set_ylabel("selfie to verdict (s)")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("minutes")
    for ax in axes:
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("10,000-photo burst with attendees arriving: CPU HPA against KEDA")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--photos", type=int, default=10_000)
    add("--upload-seconds", type=float, default=600, help="the burst arrives over this long")
    add("--attendees", type=int, default=600)
    add("--attendee-seconds", type=float, default=1800)
    add("--photo-seconds", type=float, default=1.25, help="measured: 0.8 photos/s per worker")
    add("--selfie-seconds", type=float, default=0.45, help="measured: 1-jitter selfie job")
    add("--pod-start", type=float, default=30, help="scheduling + model load (2 s measured)")
    add("--hpa-target", type=float, default=0.70)
    add("--hpa-sync", type=float, default=15)
    add("--metrics-window", type=float, default=60, help="metrics-server resolution and lag")
    add("--keda-poll", type=float, default=10)
    add("--list-length", type=int, default=20)
    add("--interactive-max", type=int, default=4, help="0: no interactive pool")
    add("--bulk-max", type=int, default=14)
    add("--scale-down-window", type=float, default=300)
    add("--horizon", type=float, default=4 * 3600)
    add("--seed", type=int, default=7)
    add("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    params = Params(**{k: v for k, v in vars(args).items() if k != "png"})
    outcomes = [simulate(scaler, params) for scaler in ("hpa", "keda")]
    print(
        f"{params.photos} photos over {params.upload_seconds:.0f} s, {params.attendees} attendees"
        f" over {params.attendee_seconds:.0f} s, pods start in {params.pod_start:.0f} s"
    )
    header = ("scaler", "drained", "selfie p50", "p95", "max", "peak bulk")
    print("{:8s} {:>9s} {:>11s} {:>8s} {:>8s} {:>10s}".format(*header))
    for o in outcomes:
        drained = f"{o.drain_seconds / 60:.1f} min" if o.drain_seconds else "never"
        latencies = [s for _, s in o.selfie_latencies]
        print(
            f"{o.scaler:8s} {drained:>9s} {o.selfie_p(0.5):10.2f}s {o.selfie_p(0.95):7.2f}s "
            f"{max(latencies):7.2f}s {max(b for *_, b in o.replicas):10d}"
        )
    if args.png:
        plot(outcomes, args.png)
        print(f"plot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
