"""Load test of ``prodgen serve`` on loopback: concurrent clients mixing job submissions, status polls and page loads.

    python bench/studio_load.py                        # 50 clients, 2,000 requests, 2 workers (the issue's test)
    python bench/studio_load.py --requests 100 --clients 10 --out /tmp/smoke.json   # a smoke run

Loopback only and bounded: at most ``--requests`` requests and ``--max-seconds`` of load, then at most
``--drain-seconds`` waiting for the accepted jobs to finish. The server is the real one: ``prodgen serve``
in its own process with ``--workers`` worker processes and a bounded queue (``--queue-limit``), serving a
tiny GAN trained on the synthetic catalog for the purpose (``--runs`` to serve an existing run instead).

Each client (an ``httpx.AsyncClient`` connection, bearer token) draws its next request from a fixed mix:
job submissions (``POST /api/jobs``, generate ``--n-images`` images), status polls of an accepted job
(``GET /api/jobs/{id}``), job lists, page loads (``GET /``, ``/review``), ``GET /api/models`` and
``/health``. Reported: p50/p99 latency per endpoint, requests/s, how many submissions got 429 (queue
full), and the job accounting: every accepted job must end exactly once with exactly its images (none
lost, none run twice), and the database must hold no job that was not accepted.

Writes ``bench/results/studio_load.json`` (with "command" and "machine") and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "studio"))  # live.py: the same tiny run and serve helper as the browser test

from machine import command_line, machine_info  # noqa: E402

MIX = {"submit": 0.15, "poll": 0.40, "list": 0.10, "page": 0.20, "models": 0.10, "health": 0.05}
FINAL = ("done", "failed", "cancelled")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


class Load:
    def __init__(self, url: str, token: str, model: str, args) -> None:
        self.url, self.token, self.model, self.args = url, token, model, args
        self.rng = random.Random(args.seed)
        self.lat: dict[str, list[float]] = {k: [] for k in MIX}
        self.status: dict[str, dict[int, int]] = {k: {} for k in MIX}
        self.errors: list[str] = []
        self.accepted: list[str] = []
        self.too_many = 0
        self.issued = 0
        self.seed = 0

    def next_kind(self) -> str:
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        return "list" if kind == "poll" and not self.accepted else kind

    async def one(self, client, kind: str) -> None:
        t0 = time.perf_counter()
        try:
            if kind == "submit":
                self.seed += 1
                r = await client.post("/api/jobs", json={"kind": "generate", "model": self.model, "attributes": {},
                                                         "n": self.args.n_images, "seed": self.seed})
                if r.status_code == 202:
                    self.accepted.append(r.json()["id"])
                elif r.status_code == 429:
                    self.too_many += 1
                    if "retry-after" not in r.headers:
                        self.errors.append("429 without Retry-After")
            elif kind == "poll":
                r = await client.get(f"/api/jobs/{self.rng.choice(self.accepted)}")
            elif kind == "list":
                r = await client.get("/api/jobs", params={"limit": 50})
            elif kind == "page":
                r = await client.get(self.rng.choice(["/", "/review", "/jobs"]))
            elif kind == "models":
                r = await client.get("/api/models")
            else:
                r = await client.get("/health")
        except Exception as e:  # noqa: BLE001  (a refused or dropped connection is a result, not a crash)
            self.errors.append(f"{kind}: {type(e).__name__}: {e}")
            self.status[kind][-1] = self.status[kind].get(-1, 0) + 1
            return
        self.lat[kind].append((time.perf_counter() - t0) * 1000)
        self.status[kind][r.status_code] = self.status[kind].get(r.status_code, 0) + 1
        if r.status_code >= 400 and r.status_code != 429:
            self.errors.append(f"{kind}: {r.status_code} {r.text[:200]}")

    async def client_loop(self, client, deadline: float) -> None:
        while self.issued < self.args.requests and time.monotonic() < deadline:
            self.issued += 1
            await self.one(client, self.next_kind())

    async def run(self) -> float:
        import httpx

        limits = httpx.Limits(max_connections=self.args.clients, max_keepalive_connections=self.args.clients)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, limits=limits, timeout=60.0) as client:
            deadline = time.monotonic() + self.args.max_seconds
            t0 = time.perf_counter()
            await asyncio.gather(*(self.client_loop(client, deadline) for _ in range(self.args.clients)))
            return time.perf_counter() - t0


def drain(url: str, token: str, ids: list[str], seconds: float) -> tuple[dict[str, dict], float]:
    """Poll until every accepted job is final (or ``seconds`` pass); returns {id: job} and the time it took."""
    import httpx

    t0 = time.monotonic()
    jobs: dict[str, dict] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0) as c:
        while True:
            for i in ids:
                if jobs.get(i, {}).get("status") not in FINAL:
                    r = c.get(f"/api/jobs/{i}")
                    jobs[i] = r.json() if r.status_code == 200 else {"status": f"http {r.status_code}"}
            if all(j.get("status") in FINAL for j in jobs.values()) or time.monotonic() - t0 > seconds:
                return jobs, time.monotonic() - t0
            time.sleep(1.0)


def accounting(data: Path, accepted: list[str], jobs: dict[str, dict], n_images: int) -> dict:
    """Lost: accepted but not finished (or not in the database); run twice: done with other than exactly ``n_images``
    outputs; claimed more than once: attempts > 1 (legitimate only after a worker died, which this test never causes)."""
    con = sqlite3.connect(f"file:{data / 'studio.db'}?mode=ro", uri=True)
    try:
        rows = {r[0]: r[1:] for r in con.execute("SELECT id, status, attempts FROM jobs")}
        outputs = dict(con.execute("SELECT job_id, COUNT(*) FROM assets WHERE job_id IS NOT NULL GROUP BY job_id"))
    finally:
        con.close()
    acc = set(accepted)
    states: dict[str, int] = {}
    for j in jobs.values():
        states[j.get("status", "?")] = states.get(j.get("status", "?"), 0) + 1
    lost = sorted(i for i in acc if i not in rows or rows[i][0] not in FINAL)
    twice = sorted(i for i in acc if i in rows and rows[i][0] == "done" and outputs.get(i, 0) != n_images)
    reclaimed = sorted(i for i in acc if i in rows and rows[i][1] > 1)
    wrong_outputs = sorted(i for i in acc if i in rows and rows[i][0] != "done" and outputs.get(i, 0))
    return {"accepted": len(acc), "in_database": len(rows), "not_accepted_but_in_database": len(set(rows) - acc),
            "final_states": states, "lost": lost, "run_twice": twice, "claimed_more_than_once": reclaimed,
            "outputs_of_unfinished": wrong_outputs,
            "max_attempts": max((r[1] for r in rows.values()), default=0)}


def markdown(res: dict) -> str:
    s = res["settings"]
    lines = [f"Load test: {s['clients']} clients, {res['requests']} requests in {res['duration_s']:.1f} s "
             f"({res['requests_per_s']:.0f} requests/s), {s['workers']} workers, queue limit {s['queue_limit']}, loopback.",
             "", "| endpoint | requests | p50 ms | p99 ms | statuses |", "|---|---|---|---|---|"]
    for k, e in res["endpoints"].items():
        if e["count"]:
            st = ", ".join(f"{c}: {n}" for c, n in sorted(e["statuses"].items()))
            lines.append(f"| {e['route']} | {e['count']} | {e['p50_ms']:.1f} | {e['p99_ms']:.1f} | {st} |")
    j = res["jobs"]
    lines += ["", f"Jobs: {j['accepted']} accepted, {res['rejected_429']} submissions answered 429 (queue full); "
                  f"after {j['drain_s']:.0f} s: {j['final_states']}; lost {len(j['lost'])}, run twice {len(j['run_twice'])}, "
                  f"claimed twice {len(j['claimed_more_than_once'])}, "
                  f"jobs in the database that were never accepted {j['not_accepted_but_in_database']}."]
    return "\n".join(lines) + "\n"


ROUTES = {"submit": "POST /api/jobs", "poll": "GET /api/jobs/{id}", "list": "GET /api/jobs", "page": "GET / /review /jobs",
          "models": "GET /api/models", "health": "GET /health"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--queue-limit", type=int, default=50)
    ap.add_argument("--n-images", type=int, default=1, help="images per submitted generate job")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="load phase bound")
    ap.add_argument("--drain-seconds", type=float, default=900.0, help="bound on waiting for accepted jobs to finish")
    ap.add_argument("--runs", type=Path, help="serve this runs folder (default: train a tiny run in a temp folder)")
    ap.add_argument("--model", default="demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "studio_load.json")
    args = ap.parse_args()
    if args.clients < 1 or args.requests < 1:
        ap.error("--clients and --requests must be at least 1")

    from live import make_token, serving, tiny_run

    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="studio-load-") as tmp:
        tmp = Path(tmp)
        runs = args.runs
        if runs is None:
            runs = tmp / "runs"
            print("training a tiny run ...", flush=True)
            tiny_run(runs, args.model)
        data = tmp / "data"
        token = make_token(data, "editor", "load")
        print(f"starting prodgen serve with {args.workers} workers ...", flush=True)
        with serving(runs, data, workers=args.workers, queue_limit=args.queue_limit) as url:
            load = Load(url, token, args.model, args)
            print(f"{args.clients} clients, up to {args.requests} requests ...", flush=True)
            duration = asyncio.run(load.run())
            print(f"load done in {duration:.1f} s; waiting for {len(load.accepted)} accepted jobs ...", flush=True)
            jobs, drain_s = drain(url, token, load.accepted, args.drain_seconds)
            acct = accounting(data, load.accepted, jobs, args.n_images)
    total = sum(len(v) for v in load.lat.values()) + sum(s.get(-1, 0) for s in load.status.values())
    endpoints = {k: {"route": ROUTES[k], "count": len(v), "p50_ms": round(percentile(v, 50), 2) if v else None,
                     "p99_ms": round(percentile(v, 99), 2) if v else None,
                     "mean_ms": round(statistics.fmean(v), 2) if v else None,
                     "statuses": {str(c): n for c, n in sorted(load.status[k].items())}} for k, v in load.lat.items()}
    acct["drain_s"] = round(drain_s, 1)
    ok = not (acct["lost"] or acct["run_twice"] or acct["claimed_more_than_once"] or acct["outputs_of_unfinished"]
              or acct["not_accepted_but_in_database"] or load.errors)
    res = {"command": command_line(), "machine": info,
           "settings": {"clients": args.clients, "requests_bound": args.requests, "workers": args.workers,
                        "queue_limit": args.queue_limit, "n_images": args.n_images, "max_seconds": args.max_seconds,
                        "mix": MIX, "model": args.model, "runs": str(args.runs) if args.runs else "tiny GAN (2 steps, 32 px)"},
           "requests": total, "duration_s": round(duration, 2), "requests_per_s": round(total / duration, 1),
           "rejected_429": load.too_many, "endpoints": endpoints, "jobs": acct, "errors": load.errors[:50],
           "error_count": len(load.errors), "ok": ok}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))
    print(f"wrote {args.out}; {'OK' if ok else 'PROBLEMS: see errors / jobs in the JSON'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
