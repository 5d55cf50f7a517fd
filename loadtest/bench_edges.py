"""The API at its edges, on a throwaway stack behind a trusted proxy (127.0.0.1, as the chart's
ingress): what an anonymous gigabyte costs it, and whether a crowd at a venue trips the limits.

1. An anonymous 1 GB body, chunked, to `POST /api/sign-in-link`; and one that declares 1 GB
   to `POST /api/upload-selfie`. Reported: the answer, the bytes the client got into the
   socket before it (the kernel's buffers included: the API itself reads at most the
   route's cap), and the API process' RSS over idle while it happens (sampled every 10 ms).
2. 1,000 registrations from 1,000 client addresses (each named by X-Forwarded-For, as the
   ingress does) within a minute, with the default rate limits: how many see a 429.

    uv run python -m loadtest.bench_edges [--json loadtest/results/edges.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from loadtest.stack import local_stack

GIB = 1024**3
MIB = 1024**2
CHUNK = 64 * 1024
DEFAULT_LIMITS = {  # the stack turns per-address limits off for load tests; not here
    "FACEMATCH_LOGIN_ATTEMPTS_PER_MINUTE_PER_IP": "60",
    "FACEMATCH_REGISTRATIONS_PER_MINUTE_PER_IP": "30",
    "FACEMATCH_LINK_REDEMPTIONS_PER_MINUTE_PER_IP": "20",
    "FACEMATCH_SIGN_IN_LINKS_PER_HOUR_PER_ACCOUNT": "5",
    "FACEMATCH_API_PROCESSES": "1",
    "FACEMATCH_TRUSTED_PROXIES": "127.0.0.1",
}


def _api_process(supervisor: int) -> psutil.Process:
    for child in psutil.Process(supervisor).children(recursive=True):
        if "uvicorn" in " ".join(child.cmdline()):
            return child
    raise SystemExit("no uvicorn process under the stack")


class RssSampler(threading.Thread):
    def __init__(self, process: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.process, self.peak, self.stop = process, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)


def _flood(base: str, path: str, headers: str, *, chunked: bool) -> tuple[str, int]:
    """Send up to 1 GB; stop when the API answers or closes. (status line, bytes sent)."""
    host, port = urlsplit(base).hostname or "", urlsplit(base).port or 80
    sock = socket.create_connection((host, port))
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
    sock.settimeout(0.0)
    block = b"x" * CHUNK
    frame = f"{CHUNK:x}\r\n".encode() + block + b"\r\n" if chunked else block
    sent, answer = 0, b""
    deadline = time.monotonic() + 120
    while sent < GIB and time.monotonic() < deadline:
        try:
            answer += sock.recv(4096)
            if answer:
                break
        except BlockingIOError:
            pass
        except OSError:
            break
        try:
            sent += sock.send(frame)
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            break
    sock.settimeout(5)
    with contextlib.suppress(OSError):
        answer += sock.recv(4096)
    sock.close()
    return answer.split(b"\r\n", 1)[0].decode(errors="replace"), sent


def bodies(base: str, api: psutil.Process) -> list[dict[str, Any]]:
    rows = []
    cases = [
        ("1 GB chunked JSON, anonymous", "/api/sign-in-link",
         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", True),
        ("1 GB declared multipart, anonymous", "/api/upload-selfie",
         f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {GIB}\r\n", False),
    ]  # fmt: skip
    for name, path, headers, chunked in cases:
        time.sleep(1)
        idle = api.memory_info().rss
        sampler = RssSampler(api)
        sampler.start()
        status, sent = _flood(base, path, headers, chunked=chunked)
        time.sleep(0.5)
        sampler.stop.set()
        sampler.join()
        rows.append({"body": name, "answer": status, "client_sent_mib": round(sent / MIB, 1),
                     "idle_rss_mib": round(idle / MIB), "rss_growth_mib":
                     round((sampler.peak - idle) / MIB, 1)})  # fmt: skip
    return rows


def venue(base: str, admin_email: str, admin_password: str) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post("/api/auth/token",
                            data={"username": admin_email, "password": admin_password})  # fmt: skip
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        code = client.post("/api/events", json={"name": "Venue"}, headers=headers).json()["code"]

        def register(n: int) -> int:
            body = {"event_code": code, "email": f"guest{n}@example.com", "consent": True}
            forwarded = {"X-Forwarded-For": f"10.{n // 65536}.{n // 256 % 256}.{n % 256 + 1}"}
            return client.post("/api/register-with-event-code", json=body,
                               headers=forwarded).status_code  # fmt: skip

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(register, range(1000)))
        seconds = time.monotonic() - started
    return {"registrations": len(statuses), "seconds": round(seconds, 1),
            "accepted": statuses.count(202), "rate_limited": statuses.count(429),
            "other": len(statuses) - statuses.count(202) - statuses.count(429)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--trusted-proxies", default="127.0.0.1",
                        help="FACEMATCH_TRUSTED_PROXIES; one that is not 127.0.0.1 shows the "
                        "platform before issue 27: every client one bucket")  # fmt: skip
    args = parser.parse_args()
    env = {**DEFAULT_LIMITS, "FACEMATCH_TRUSTED_PROXIES": args.trusted_proxies}
    with local_stack(1, env=env) as stack:
        api = _api_process(stack.pid)
        body_rows = bodies(stack.base, api)
        crowd = venue(stack.base, stack.admin_email, stack.admin_password)
    for r in body_rows:
        print(f"{r['body']:<38} {r['answer']:<36} client sent {r['client_sent_mib']:7.1f} MiB, "
              f"API RSS +{r['rss_growth_mib']} MiB over {r['idle_rss_mib']} MiB idle")  # fmt: skip
    print(f"{crowd['registrations']} registrations from as many addresses in "
          f"{crowd['seconds']} s: {crowd['accepted']} accepted, {crowd['rate_limited']} "
          f"rate-limited, {crowd['other']} other")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"bodies": body_rows, "venue": crowd}, indent=2) + "\n")
    ok = crowd["rate_limited"] == 0 and all(r["rss_growth_mib"] < 50 for r in body_rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
