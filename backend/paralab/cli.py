"""``paralab serve | run | train | export-openapi``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from paralab.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    from paralab.server import serve

    settings = Settings.from_env()
    settings = settings.replace(
        host=args.host or settings.server.host, port=args.port or settings.server.port
    )
    return serve(settings)


def _export_openapi(args: argparse.Namespace) -> int:
    from paralab.openapi import OPENAPI_PATH, export_openapi

    path = Path(args.path) if args.path else OPENAPI_PATH
    current = export_openapi(path, check=args.check)
    if args.check and not current:
        print(f"{path} is stale: run `python -m paralab export-openapi`", file=sys.stderr)
        return 1
    print(f"{path} is up to date" if current else f"wrote {path}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from paralab.errors import ParaLabError
    from paralab.lab.events import Event, Output
    from paralab.lab.local import parse_param_assignments, run_locally, summarize, timed

    events: list[Event] = []

    def show(batch: Sequence[Event]) -> None:
        events.extend(batch)
        for event in batch:
            if isinstance(event, Output):
                stream = sys.stderr if event.stream == "stderr" else sys.stdout
                print(f"{event.t_ns / 1e9:8.3f}s [{event.actor}] {event.line}", file=stream)

    try:
        params = parse_param_assignments(args.param)
        outcome, wall = timed(
            lambda: run_locally(args.scenario_id, params, show, time_limit_s=args.time_limit)
        )
    except ParaLabError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print(summarize(outcome, events, wall))
    if outcome.error:
        print(outcome.error, file=sys.stderr)
    return 0 if outcome.status == "succeeded" else 1


def _train(args: argparse.Namespace) -> int:
    from paralab.training.cli import main as train_main

    return train_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paralab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the app and the API with uvicorn")
    serve.add_argument("--host", help="interface (default PARALAB_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default PARALAB_PORT or 8000)")
    serve.set_defaults(func=_serve)

    export = commands.add_parser("export-openapi", help="write openapi.json")
    export.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    export.add_argument("--path", help="where to write (default: openapi.json at the repo root)")
    export.set_defaults(func=_export_openapi)

    run = commands.add_parser("run", help="run a catalog scenario without a server")
    run.add_argument("scenario_id", help="e.g. T4.2")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    run.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    run.set_defaults(func=_run)

    train = commands.add_parser("train", help="train a shipped model (cnn | fcn | baseline-cnn)")
    train.add_argument("rest", nargs=argparse.REMAINDER)
    train.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
