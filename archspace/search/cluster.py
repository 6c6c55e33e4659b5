"""The Ray processes of a search: start a local Ray (recording its process ids in the run
folder) or join a cluster, and stop what a killed search left behind, by those ids."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from archspace.io import write_json_atomic

RAY_PROCESSES = "ray-processes.json"



def start_ray(out: Path, address: Optional[str]) -> None:
    """Start a local Ray (recording its process ids in the run folder), or join a
    cluster (then nothing is recorded: a joined cluster is not the search's to stop)."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter is silent at verbose=0
    # Ctrl-C raises KeyboardInterrupt here rather than Ray Tune's "resume with
    # Tuner.restore" path: the study, not Ray's experiment state, is what a resume reads.
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if address:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        return
    cpus = os.cpu_count() or 1
    # address="local": a Ray of the search's own, even where RAY_ADDRESS or a cluster
    # started on this machine would make a bare ray.init() join that one
    ray.init(address="local", num_cpus=cpus, num_gpus=None, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    record_ray_processes(out)


def record_ray_processes(out: Path) -> None:
    import psutil

    me = psutil.Process()
    procs = [{"pid": p.pid, "create_time": p.create_time()} for p in me.children(recursive=True)]
    write_json_atomic(out / RAY_PROCESSES, {"driver": os.getpid(), "processes": procs})


def stop_recorded_ray(out: Path) -> int:
    """Stop the Ray processes a search in `out` started (and their children) if they
    still run: after kill -9 of a search, Ray's helpers outlive it. Returns how many."""
    import psutil

    path = out / RAY_PROCESSES
    if not path.exists():
        return 0
    record = json.loads(path.read_text())
    victims = []
    for entry in record["processes"]:
        try:
            p = psutil.Process(entry["pid"])
            if abs(p.create_time() - entry["create_time"]) > 0.01:
                continue  # the id was reused by an unrelated process
            victims.extend([p, *p.children(recursive=True)])
        except psutil.NoSuchProcess:
            continue
    for p in victims:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(victims, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    path.unlink(missing_ok=True)
    return len(victims)
