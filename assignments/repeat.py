"""The same run with several seeds: mean and spread of every result, the way a README reports a headline number.

    python -m assignments repeat 1 --seeds 42,43,44                       # assignment 1, three seeds
    python -m assignments repeat 3 --seeds 42,43,44 -- --dataset adrenalmnist3d_64

Each seed is one ordinary run of the assignment (``python -m assignments.<package> --seed N ...``), with its own
run folder. Afterwards ``runs/<package>_seeds/<timestamp>/summary.md`` (also printed) gives, per result row
(model and split), the test accuracy and AUC of every seed and their mean ± standard deviation, and
``summary.json`` the same numbers with the run folders they came from.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from common.atomic import write_json, write_text
from common.report import markdown_table
from common.run import METRICS_FILE, RunFolder


def run_seeds(package, seeds, args, runs_dir):
    """Run ``package`` once per seed with ``args``; returns {seed: run folder} of the runs that finished."""
    folders = {}
    for seed in seeds:
        command = [sys.executable, "-m", f"assignments.{package}", *args, "--seed", str(seed),
                   "--runs-dir", str(runs_dir)]
        print(f"[repeat] seed {seed}: {' '.join(command[2:])}", flush=True)
        completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if completed.returncode == 130:
            raise KeyboardInterrupt
        lines = completed.stdout.strip().splitlines()
        if completed.returncode != 0 or not lines or not (Path(lines[-1]) / METRICS_FILE).is_file():
            print(f"[repeat] seed {seed}: the run failed (exit status {completed.returncode})", file=sys.stderr)
            continue
        folders[seed] = Path(lines[-1])
    return folders


def summarise(folders):
    """Rows {model, split, accuracy per seed, mean ± sd, AUC likewise} from the runs' metrics."""
    results = {}
    for seed, folder in folders.items():
        for row in json.loads((folder / METRICS_FILE).read_text())["results"]:
            entry = results.setdefault((row["model"], row["split"]), {"model": row["model"], "split": row["split"],
                                                                        "accuracy": {}, "auc": {}})
            entry["accuracy"][seed], entry["auc"][seed] = row["accuracy"], row["auc"]
    rows = []
    for entry in results.values():
        for metric in ("accuracy", "auc"):
            values = [value for value in entry[metric].values() if value is not None]
            entry[f"{metric}_mean"] = float(np.mean(values)) if values else None
            entry[f"{metric}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        rows.append(entry)
    return rows


def _spread(entry, metric):
    mean, sd = entry[f"{metric}_mean"], entry[f"{metric}_sd"]
    if mean is None:
        return "n/a"
    return f"{mean:.4f} ± {sd:.4f}" if sd is not None else f"{mean:.4f}"


def repeat(package, seeds, args, runs_dir):
    """Run the seeds and write the summary; returns (summary folder, every seed finished)."""
    folders = run_seeds(package, seeds, args, runs_dir)
    summary = RunFolder.create(runs_dir, f"{package}_seeds")
    rows = summarise(folders)
    table = markdown_table([{"model": entry["model"], "split": entry["split"],
                             **{f"accuracy_{seed}": entry["accuracy"].get(seed) for seed in folders},
                             "accuracy": _spread(entry, "accuracy"),
                             **{f"auc_{seed}": entry["auc"].get(seed) for seed in folders},
                             "auc": _spread(entry, "auc")} for entry in rows],
                           {"model": "model", "split": "split",
                            **{f"accuracy_{seed}": f"ACC seed {seed}" for seed in folders},
                            "accuracy": "ACC mean ± sd",
                            **{f"auc_{seed}": f"AUC seed {seed}" for seed in folders}, "auc": "AUC mean ± sd"},
                           {f"{metric}_{seed}": ".4f" for metric in ("accuracy", "auc") for seed in folders})
    command = " ".join(["python -m assignments repeat", package, "--seeds", ",".join(map(str, seeds)),
                        *(["--", *args] if args else [])])
    text = (f"# {package}: {len(folders)} of {len(seeds)} seeds\n\n`{command}`\n\n{table}\n\n"
            "Standard deviation over seeds (ddof = 1). Run folders:\n\n"
            + "\n".join(f"- seed {seed}: `{folder}`" for seed, folder in folders.items()) + "\n")
    write_text(summary.path / "summary.md", text)
    write_json(summary.path / "summary.json", {"command": command, "runs": {str(seed): str(folder) for seed, folder
                                                                            in folders.items()}, "results": rows})
    print(text)
    return summary.path, len(folders) == len(seeds)
