"""`curate submit JOB.yaml [--wait]`, or `curate submit --train-from ID [--steps N]`: queue a job on the service."""

from __future__ import annotations

import argparse
import os
import sys

from service.client import add_client_arguments, run_client, wait_for

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", nargs="?", metavar="JOB.yaml", help="the job file (as for curate run)")
    parser.add_argument("--name", default="")
    parser.add_argument("--priority", type=int, default=0, help="higher runs first")
    parser.add_argument("--wait", action="store_true", help="follow the job until it ends; exit 0 if it succeeded")
    parser.add_argument("--train-from", type=int, metavar="ID", help="pretrain on job ID's shards")
    parser.add_argument("--steps", type=int, default=300, help="train job: optimizer steps")
    parser.add_argument("--d-model", type=int)
    parser.add_argument("--n-layers", type=int)
    parser.add_argument("--n-heads", type=int)
    parser.add_argument("--nproc", type=int, help="train job: processes (default: every GPU of the worker)")
    add_client_arguments(parser)


def _submit(client, args: argparse.Namespace) -> int:
    if args.train_from is not None:
        body = {"max_steps": args.steps, "priority": args.priority}
        for key in ("d_model", "n_layers", "n_heads", "nproc"):
            if getattr(args, key) is not None:
                body[key] = getattr(args, key)
        job = client.post(f"/api/v1/jobs/{args.train_from}/train", body)
    else:
        if not args.job:
            print("curate submit: give a job file, or --train-from ID", file=sys.stderr)
            return 2
        try:
            with open(args.job) as f:
                spec = f.read()
        except OSError as e:
            print(f"curate submit: cannot read {args.job}: {e.strerror}", file=sys.stderr)
            return 2
        name = args.name or os.path.splitext(os.path.basename(args.job))[0]
        # Relative input paths resolve against the job file's folder, as `curate run` would find them.
        job = client.post("/api/v1/jobs", {"spec": spec, "base_dir": os.path.dirname(os.path.abspath(args.job)),
                                           "name": name, "priority": args.priority})
    print(job["id"], flush=True)
    if args.wait:
        final = wait_for(client, job["id"])
        return 0 if final["state"] == "succeeded" else 1
    return 0


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    return run_client(_submit, args)
