"""`curate status ID`: one job's state and the progress of each stage."""

from __future__ import annotations

import argparse

from service.client import add_client_arguments, run_client

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int)
    add_client_arguments(parser)


def _status(client, args: argparse.Namespace) -> int:
    j = client.get(f"/api/v1/jobs/{args.id}")
    print(f"job {j['id']} ({j['kind']}) {j['name']}: {j['state']}, attempt {j['attempts']}")
    if j.get("error"):
        print(f"  error: {j['error']}")
    for s in j["progress"].get("stages", []):
        line = f"  {s['name']:<15} {s['state']:<8}"
        if s["state"] == "done":
            line += " " + ", ".join(f"{k} {v}" for k, v in (s.get("counts") or {}).items())
        elif s["state"] == "running":
            line += f" {s.get('docs', 0)} docs, {s.get('docs_per_s', 0)} docs/s"
            if s.get("eta_s") is not None:
                line += f", ETA {s['eta_s']:.0f}s"
        if "step" in s:
            line += f" step {s['step']}, loss {s['curve'][-1]['loss']}"
        print(line)
    return 0 if j["state"] != "failed" else 1


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    return run_client(_status, args)
