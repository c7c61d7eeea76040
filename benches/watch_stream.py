#!/usr/bin/env python3
"""`pynomaly watch` where users feel it: throughput of `watch --once --ndjson` on a
1,000,000-row, 10-feature CSV, and the latency from a line appended to a followed file to its
score on stdout at 1,000 rows/s (an appender process writes each line's send time into it).

Usage: python3 benches/watch_stream.py [--bin target/release/pynomaly] [--detector NAME]...
Figures go to docs/benchmarks.md by hand.
"""
import argparse, json, os, random, subprocess, sys, tempfile, time

def throughput(bin_, detector, path):
    started = time.time()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", bin_, "watch", path, "--once", "--ndjson",
                          "--no-store", "-d", detector], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True)
    elapsed = time.time() - started
    rss_kb = int(out.stderr.strip().splitlines()[-1])
    return 1_000_000 / elapsed, rss_kb / 1024

APPENDER = """
import sys, time
f = open(sys.argv[1], "a")
start = time.time() + 0.5
for k in range(3000):
    t = start + k / 1000
    d = t - time.time()
    if d > 0:
        time.sleep(d)
    f.write("%d,%.6f,%d\\n" % (1000 + k, time.time(), k % 5))
    f.flush()
"""

def latency(bin_, detector, path):
    with open(path, "w") as f:
        f.write("t,a,b\n")
        for i in range(1000):
            f.write(f"{i},{i % 7},{i % 5}\n")
    watch = subprocess.Popen([bin_, "watch", path, "--ndjson", "--no-store", "-d", detector],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    appender = subprocess.Popen([sys.executable, "-c", APPENDER, path])
    received, buf = [], b""
    deadline = time.time() + 10
    while time.time() < deadline and len(received) < 3000:
        chunk = os.read(watch.stdout.fileno(), 65536)
        now = time.time()
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        received += [now for line in lines if json.loads(line)["row"] >= 1000]
    appender.wait()
    watch.terminate()
    watch.wait()
    sent = [float(l.split(",")[1]) for l in open(path).read().splitlines()[1001:]]
    d = sorted(r - s for r, s in zip(received, sent))
    return 1000 * d[len(d) // 2], 1000 * d[int(len(d) * 0.99)], 1000 * d[-1]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/pynomaly")
    ap.add_argument("--detector", action="append")
    a = ap.parse_args()
    detectors = a.detector or ["hst", "zscore", "knncad-zscore"]
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "w1m.csv")
        rng = random.Random(1)
        with open(big, "w") as f:
            f.write("timestamp," + ",".join(f"f{i}" for i in range(10)) + "\n")
            for t in range(1_000_000):
                f.write(f"{t}," + ",".join(f"{rng.gauss(0, 1):.4f}" for _ in range(10)) + "\n")
        for d in detectors:
            rate, rss = throughput(a.bin, d, big)
            med, p99, worst = latency(a.bin, d, os.path.join(tmp, "live.csv"))
            print(f"{d:16} {rate:>10,.0f} rows/s  max RSS {rss:6.1f} MiB  "
                  f"latency median {med:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")

if __name__ == "__main__":
    main()
