#!/usr/bin/env python3
"""Generate assets/server_metrics.csv -- a SYNTHETIC SRE-style metrics time series.

Nothing in the output was measured on a real system: every value comes from the
simple model below (daily seasonality + Gaussian noise) with anomalies injected
at random but reproducible places.  Standard library only; fully deterministic
(random.Random(20261126)), so re-running it reproduces the file byte for byte.

Layout
    3 hosts (web-1, web-2, db-1) x 960 samples at 3-minute steps
    = 2 days (2026-01-05T00:00:00 .. 2026-01-06T23:57:00), 2,880 rows,
    sorted by timestamp, then host (in the order web-1, web-2, db-1).

Columns
    timestamp       ISO 8601 local time without a zone, e.g. 2026-01-05T00:00:00
    host            text
    cpu_pct         0..100, 2 decimals
    mem_pct         0..100, 2 decimals; a few cells (~0.5%) are deliberately empty
    latency_ms      p95-style request latency, 1 decimal
    requests_per_s  1 decimal
    error_rate      fraction of failed requests, 4 decimals
    is_anomaly      1 = the row was altered by an injected anomaly, else 0

Injected anomaly kinds (each altered row gets is_anomaly = 1):
    cpu_spike          1 row:      cpu_pct jumps to 93-99.5
    latency_spike      1 row:      latency_ms x 5-9
    cpu_level_shift    4-7 rows:   cpu_pct +28..38 points (runaway process)
    mem_level_shift    4-7 rows:   mem_pct +18..25 points (leak / cache blow-up)
    degradation        3-6 rows:   latency_ms x 3.5-6 while requests_per_s x 0.3-0.5
                                   (slow backend; clients back off / time out)
    error_burst        2-5 rows:   error_rate 0.06-0.30, latency_ms x 1.4-2

Usage
    python3 assets/generate_server_metrics.py [OUTPUT_CSV]
    (default output: server_metrics.csv next to this script)
"""

import csv
import math
import os
import sys
from datetime import datetime, timedelta
import random

SEED = 20261126
START = datetime(2026, 1, 5, 0, 0, 0)
STEP_MINUTES = 3
N_STEPS = 960  # 2 days at 3-minute resolution
HOSTS = ["web-1", "web-2", "db-1"]

# Per-host baselines: request rate range over the day, CPU = base + per_req * requests,
# memory base level, latency = base + load_term * load^2, baseline error rate.
PROFILE = {
    "web-1": dict(req_lo=40.0, req_hi=420.0, cpu_base=8.0, cpu_per_req=0.13, mem_base=52.0,
                  lat_base=38.0, lat_load=45.0, err_base=0.0015),
    "web-2": dict(req_lo=38.0, req_hi=400.0, cpu_base=9.0, cpu_per_req=0.135, mem_base=57.0,
                  lat_base=41.0, lat_load=48.0, err_base=0.0018),
    "db-1": dict(req_lo=150.0, req_hi=1250.0, cpu_base=12.0, cpu_per_req=0.04, mem_base=71.0,
                 lat_base=6.0, lat_load=9.0, err_base=0.0004),
}

# (kind, how many events over all hosts, (min_len, max_len))
EVENT_PLAN = [
    ("cpu_spike", 9, (1, 1)),
    ("latency_spike", 8, (1, 1)),
    ("cpu_level_shift", 3, (4, 7)),
    ("mem_level_shift", 3, (4, 7)),
    ("degradation", 4, (3, 6)),
    ("error_burst", 5, (2, 5)),
]
MISSING_MEM_CELLS = 14  # ~0.5% of 2,880 rows


def daily_load(t):
    """Traffic shape in [0, 1]: trough ~04:00, broad peak mid-afternoon, small evening bump."""
    hour = t.hour + t.minute / 60.0
    main = 0.5 - 0.5 * math.cos(2.0 * math.pi * (hour - 4.0) / 24.0)
    evening = math.exp(-((hour - 20.5) ** 2) / (2 * 1.2 ** 2))
    return min(1.0, 0.88 * main + 0.12 * evening)


def clamp(x, lo, hi):
    return max(lo, min(hi, x))


def base_series(rng):
    """Normal (anomaly-free) behaviour: {host: [dict(metric -> value), ...]}."""
    data = {}
    for host in HOSTS:
        p = PROFILE[host]
        rows = []
        mem_phase = rng.uniform(0, 2 * math.pi)
        for i in range(N_STEPS):
            t = START + timedelta(minutes=STEP_MINUTES * i)
            load = daily_load(t)
            req = p["req_lo"] + (p["req_hi"] - p["req_lo"]) * load
            req *= 1.0 + rng.gauss(0, 0.045)
            cpu = p["cpu_base"] + p["cpu_per_req"] * req + rng.gauss(0, 2.2)
            # memory: per-host base, slow drift over the 2 days, mild daily swing
            mem = (p["mem_base"] + 3.0 * i / N_STEPS
                   + 4.0 * load + 1.2 * math.sin(2 * math.pi * i / 160.0 + mem_phase)
                   + rng.gauss(0, 0.6))
            lat = (p["lat_base"] + p["lat_load"] * load ** 2) * (1.0 + rng.gauss(0, 0.07))
            err = p["err_base"] * (1.0 + 0.8 * load) * math.exp(rng.gauss(0, 0.35))
            rows.append(dict(t=t, cpu=cpu, mem=mem, lat=lat, req=req, err=err, anomaly=0))
        data[host] = rows
    return data


def place_events(rng):
    """Choose non-overlapping windows (with a gap) per host; returns [(host, kind, start, length)]."""
    busy = {h: set() for h in HOSTS}
    events = []
    for kind, count, (lo, hi) in EVENT_PLAN:
        for _ in range(count):
            while True:
                host = rng.choice(HOSTS)
                length = rng.randint(lo, hi)
                start = rng.randint(10, N_STEPS - 10 - length)
                window = set(range(start - 4, start + length + 4))
                if window & busy[host]:
                    continue
                busy[host] |= window
                events.append((host, kind, start, length))
                break
    events.sort(key=lambda e: (e[2], HOSTS.index(e[0])))
    return events


def inject(rng, data, events):
    for host, kind, start, length in events:
        # one magnitude per event so level shifts really are level shifts
        if kind == "cpu_level_shift":
            delta = rng.uniform(28.0, 38.0)
        elif kind == "mem_level_shift":
            delta = rng.uniform(18.0, 25.0)
        elif kind == "degradation":
            lat_f, req_f = rng.uniform(3.5, 6.0), rng.uniform(0.3, 0.5)
        for i in range(start, start + length):
            r = data[host][i]
            if kind == "cpu_spike":
                r["cpu"] = rng.uniform(93.0, 99.5)
            elif kind == "latency_spike":
                r["lat"] *= rng.uniform(5.0, 9.0)
            elif kind == "cpu_level_shift":
                r["cpu"] += delta + rng.gauss(0, 1.5)
            elif kind == "mem_level_shift":
                r["mem"] += delta + rng.gauss(0, 0.5)
            elif kind == "degradation":
                r["lat"] *= lat_f * (1.0 + rng.gauss(0, 0.05))
                r["req"] *= req_f * (1.0 + rng.gauss(0, 0.05))
                r["cpu"] *= 0.8  # less work gets done
            elif kind == "error_burst":
                r["err"] = rng.uniform(0.06, 0.30)
                r["lat"] *= rng.uniform(1.4, 2.0)
            else:
                raise ValueError(kind)
            r["anomaly"] = 1


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "server_metrics.csv")
    rng = random.Random(SEED)
    data = base_series(rng)
    events = place_events(rng)
    inject(rng, data, events)

    # a few missing mem_pct cells, only on normal rows (keeps "missing" separate from "anomalous")
    normal = [(h, i) for i in range(N_STEPS) for h in HOSTS if data[h][i]["anomaly"] == 0]
    missing = set(rng.sample(normal, MISSING_MEM_CELLS))

    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["timestamp", "host", "cpu_pct", "mem_pct", "latency_ms",
                    "requests_per_s", "error_rate", "is_anomaly"])
        for i in range(N_STEPS):
            for h in HOSTS:
                r = data[h][i]
                mem = "" if (h, i) in missing else "%.2f" % clamp(r["mem"], 0.0, 100.0)
                w.writerow([
                    r["t"].strftime("%Y-%m-%dT%H:%M:%S"),
                    h,
                    "%.2f" % clamp(r["cpu"], 0.0, 100.0),
                    mem,
                    "%.1f" % max(0.1, r["lat"]),
                    "%.1f" % max(0.0, r["req"]),
                    "%.4f" % clamp(r["err"], 0.0, 1.0),
                    r["anomaly"],
                ])

    n_anom = sum(r["anomaly"] for h in HOSTS for r in data[h])
    total = N_STEPS * len(HOSTS)
    print("wrote %s: %d rows, %d anomalous (%.2f%%), %d empty mem_pct cells"
          % (out, total, n_anom, 100.0 * n_anom / total, len(missing)))
    for host, kind, start, length in events:
        t = START + timedelta(minutes=STEP_MINUTES * start)
        print("  %-16s %-6s %s  %d row(s)" % (kind, host, t.strftime("%Y-%m-%dT%H:%M"), length))


if __name__ == "__main__":
    main()
