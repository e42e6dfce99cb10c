"""Load test of the 2.2.2 model server (FastAPI on uvicorn): N requests from C concurrent clients, each request on a
new TCP connection, against `roadmap serve tf-digits` started as its own process on 127.0.0.1. Prints a JSON
summary: errors (non-200 answers, resets, timeouts), latency p50/p90/p99/max, throughput. Not a test: timings
depend on the machine and on whatever else runs on it.

    python benchmarks/serve_load.py                        # the latest 2.2.2 run's export (roadmap run 2.2.2 first)
    python benchmarks/serve_load.py --model-dir runs/2.2.2-tf-digits/<stamp>/export --requests 2000 --clients 64
    python benchmarks/serve_load.py --tiny                 # a freshly exported random 784-10 Keras model instead

Issue 7 measured the http.server version with the same load: 77 connection resets out of 2,000 (its listen
backlog was 5) and p99 2.3 s.

The fuzz half of the closing note: schemathesis against the live server's OpenAPI schema, every check, all
phases (coverage, fuzzing, stateful), fixed seed:

    roadmap serve tf-digits --port 8599 &
    schemathesis run http://127.0.0.1:8599/openapi.json --checks all --max-examples 50 --seed 1
    kill %1
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HOST = "127.0.0.1"  # loopback only


def tiny_export(root: Path) -> Path:
    import keras

    from genai_roadmap.serving.tf_rest import export_for_serving

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    export_for_serving(model, root, "digits", 1)
    return root


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, port: int, timeout_s: float = 120.0) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "genai_roadmap", "serve", "tf-digits", "--model-dir",
                               str(model_dir), "--host", HOST, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/v1/models/digits")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"the server did not answer within {timeout_s:.0f} s")


def one_request(port: int, body: bytes, timeout_s: float) -> tuple[float, str]:
    """(seconds, outcome): outcome is "200", another status, or the exception's name."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request("POST", "/v1/models/digits:predict", body=body,
                     headers={"Content-Type": "application/json", "Connection": "close"})
        response = conn.getresponse()
        reply = response.read()
        outcome = str(response.status)
        if response.status == 200 and len(json.loads(reply)["predictions"][0]) != 10:
            outcome = "bad-reply"
    except Exception as exc:  # every failure is counted, by kind
        outcome = type(exc).__name__
    finally:
        conn.close()
    return time.perf_counter() - start, outcome


def load(port: int, requests: int, clients: int, timeout_s: float) -> dict:
    image = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)
    body = json.dumps({"instances": image.tolist()}).encode()
    results: list[tuple[float, str]] = []
    lock, next_index = threading.Lock(), iter(range(requests))

    def client() -> None:
        while True:
            with lock:  # bounded: each index is taken once
                if next(next_index, None) is None:
                    return
            outcome = one_request(port, body, timeout_s)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latency_ms = np.array([s for s, _ in results]) * 1000
    outcomes: dict[str, int] = {}
    for _, outcome in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"requests": len(results), "clients": clients, "new_connection_per_request": True,
            "body_bytes": len(body), "errors": len(results) - outcomes.get("200", 0), "outcomes": outcomes,
            "latency_ms": {q: round(float(np.percentile(latency_ms, p)), 1)
                           for q, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
            "wall_s": round(wall, 2), "requests_per_s": round(len(results) / wall, 1),
            "cpu_count": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, help="export folder (default: the latest 2.2.2 run's)")
    parser.add_argument("--tiny", action="store_true", help="serve a freshly exported random model instead")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request socket timeout, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            model_dir = tiny_export(Path(tmp))
        elif args.model_dir is not None:
            model_dir = args.model_dir
        else:
            from genai_roadmap.serving.tf_rest import latest_export_dir

            model_dir = latest_export_dir()
        port = free_port()
        server = start_server(model_dir, port)
        try:
            summary = load(port, args.requests, args.clients, args.timeout)
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(json.dumps({"server": "roadmap serve tf-digits (FastAPI + uvicorn, 1 process)", "model_dir": str(model_dir),
                      **summary}, indent=2))


if __name__ == "__main__":
    main()
