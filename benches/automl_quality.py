#!/usr/bin/env python3
"""AutoML quality on the shared datasets (issue 6's acceptance figures).

For each dataset in ../shared/datasets it runs, with the release binary:
  - pynomaly automl FILE --metric label-free  (the label is only used to report ROC-AUC)
  - pynomaly automl FILE --metric auc         (labelled search, unsupervised protocol)
  - pynomaly detect FILE -d D for every detector D with defaults (the baselines)
and prints a Markdown table plus the averages that the issue compares:
  label-free choice's mean ROC-AUC  vs  the best single default detector (ECOD or IForest);
  labelled best found               vs  every default detector, per dataset.

Usage: python3 benches/automl_quality.py [--bin target/release/pynomaly] [--trials 50] [--seed 0]
       [--strategies random,halving,tpe]
"""
import argparse, json, os, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "datasets")
DEFAULTS = ["iforest", "knn", "lof", "cof", "ecod", "copod", "hbos", "pca", "mcd", "ocsvm",
            "loda", "cblof", "gmm", "kde", "inne", "sod", "abod"]


def run(args):
    env = {k: v for k, v in os.environ.items() if k != "PYNOMALY_STORE"}
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    return json.loads(out.stdout), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "target", "release", "pynomaly"))
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategies", default="random",
                    help="comma-separated search strategies to measure (random,halving,tpe; "
                         "random:e5 adds the top-5 ensemble candidate)")
    ap.add_argument("--max-rows-quadratic", type=int, default=20000,
                    help="skip the O(n^2) default detectors AutoML also leaves out above this size")
    a = ap.parse_args()
    strategies = [s for s in a.strategies.split(",") if s]
    names = sorted(f[:-4] for f in os.listdir(DATA) if f.endswith(".csv"))
    rows = []
    for name in names:
        path = os.path.join(DATA, name + ".csv")
        row = {"dataset": name}
        for strategy in strategies:
            # "random:e5" = random search plus the top-5 ensemble candidate.
            base, _, ens = strategy.partition(":e")
            common = ["--trials", str(a.trials), "--seed", str(a.seed), "--strategy", base,
                      "--json", "--no-store"] + (["--ensemble", ens] if ens else [])
            t0 = time.time()
            lf, err = run([a.bin, "automl", path, "--metric", "label-free"] + common)
            lf_s = time.time() - t0
            t0 = time.time()
            sup, err2 = run([a.bin, "automl", path, "--metric", "auc"] + common)
            sup_s = time.time() - t0
            row["rows"] = (lf or sup or {}).get("n_rows", 0)
            row["n_features"] = (lf or sup or {}).get("n_features", 0)
            row[strategy] = {
                "label_free": lf["best"]["metrics"]["roc_auc"] if lf else None,
                "label_free_choice": lf["best"]["detector"] if lf else err,
                "label_free_s": lf_s,
                "labelled": sup["best"]["metrics"]["roc_auc"] if sup else None,
                "labelled_choice": sup["best"]["detector"] if sup else err2,
                "labelled_s": sup_s,
            }
        defaults = {}
        for d in DEFAULTS:
            # The same rule as AutoML's unrestricted search (src/automl: fit_space_to_size).
            quadratic = d in ("ocsvm", "kde", "sod", "abod", "cof") or (
                d in ("knn", "lof") and row.get("n_features", 0) > 15)
            if row.get("rows", 0) > a.max_rows_quadratic and quadratic:
                continue
            r, _ = run([a.bin, "detect", path, "-d", d, "--seed", str(a.seed), "--json", "--no-store"])
            if r and r.get("metrics"):
                defaults[d] = r["metrics"]["roc_auc"]
        row.update({
            "ecod": defaults.get("ecod"), "iforest": defaults.get("iforest"),
            "best_default": max(defaults.values()) if defaults else None,
            "best_default_name": max(defaults, key=defaults.get) if defaults else None,
        })
        rows.append(row)
        print(f"{name}: " + "; ".join(
            f"{s}: label-free {row[s]['label_free']} ({row[s]['label_free_choice']}), labelled {row[s]['labelled']}"
            for s in strategies) + f"; ecod {row['ecod']}, iforest {row['iforest']}, best default "
            f"{row['best_default']} ({row['best_default_name']})", file=sys.stderr)

    def f(v):
        return "-" if v is None else f"{v:.4f}"
    for strategy in strategies:
        print(f"\n### Strategy `{strategy}` ({a.trials} trials, seed {a.seed})\n")
        print("| dataset | rows | label-free choice | ROC-AUC | time s | labelled best | ROC-AUC | time s | ECOD | IForest | best default |")
        print("|---|---:|---|---:|---:|---|---:|---:|---:|---:|---|")
        for r in rows:
            x = r[strategy]
            print(f"| {r['dataset']} | {r['rows']} | {x['label_free_choice']} | {f(x['label_free'])} | "
                  f"{x['label_free_s']:.1f} | {x['labelled_choice']} | {f(x['labelled'])} | {x['labelled_s']:.1f} | "
                  f"{f(r['ecod'])} | {f(r['iforest'])} | {f(r['best_default'])} ({r['best_default_name']}) |")
        ok = [r for r in rows if None not in (r[strategy]["label_free"], r["ecod"], r["iforest"])]
        mean = lambda get: sum(get(r) for r in ok) / len(ok)
        print()
        print(f"Mean over {len(ok)} datasets: label-free choice {mean(lambda r: r[strategy]['label_free']):.4f}, "
              f"ECOD defaults {mean(lambda r: r['ecod']):.4f}, IForest defaults {mean(lambda r: r['iforest']):.4f}; "
              f"total search time label-free {sum(r[strategy]['label_free_s'] for r in rows):.1f} s, "
              f"labelled {sum(r[strategy]['labelled_s'] for r in rows):.1f} s")
        lab = [r for r in rows if r[strategy]["labelled"] is not None and r["best_default"] is not None]
        beaten = [r["dataset"] for r in lab if r[strategy]["labelled"] + 1e-12 < r["best_default"]]
        print(f"Labelled search ≥ every default detector on {len(lab) - len(beaten)} of {len(lab)} datasets"
              + (f" (below on: {', '.join(beaten)})" if beaten else ""))


if __name__ == "__main__":
    main()
