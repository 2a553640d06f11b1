"""``finview``: the local stack and the tools around it.

finview up                 moto on loopback + infra + contacts API + dispatcher, until Ctrl-C
finview demo               the walking skeleton on a fresh local stack, printed
finview enrich --now       fire the enrichment schedule against the running stack
finview release [--at T]   fire the schedule that releases deferred contacts (as of T)
finview erase [--at T]     fire the daily erasure job (GDPR Art. 17) as of T
finview expire [--at T]    delete what DynamoDB TTL would have deleted by T (moto runs no TTL)
finview backfill [--stage S]   the one-off migrations of records written before a person's match keys and messages
                           were linked to them (once per stage; resumable; --stage: AWS, else the local stack)
finview template [--out]   render the SAM template and code folders for AWS
finview import FILE --client ID   drop a file for a client into the running stack and follow the import
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from infra.local.stack import STATE_DIR, LocalStack
from shared import aws

STOP_GRACE_SECONDS = 2.5  # what running invocations get after Ctrl-C/SIGTERM; the whole stop stays under 5 s


def _unbindable(port: int) -> str | None:
    """Why ``port`` cannot be served on loopback (None when it can, or when 0 asks for any free port)."""
    if port == 0:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers do: a socket left in TIME_WAIT by a previous run does not count as in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
    return None


def _ports_refused(ports: dict[str, int]) -> str | None:
    """The first requested port that cannot be served, named with its option, as the message to print."""
    options = list(ports)
    for n, option in enumerate(options):
        for other in options[n + 1 :]:
            if ports[option] and ports[option] == ports[other]:
                return f"{option} and {other} are both {ports[option]}: give them different ports"
    for option, port in ports.items():
        if why := _unbindable(port):
            return f"port {port} ({option}) {why} on 127.0.0.1: stop what holds it, or pass {option} 0 for a free one"
    return None


def cmd_up(args: argparse.Namespace) -> int:
    # The functions' requests go out without botocore's check of each against the service model (shared.aws);
    # the test suite keeps the check, so a malformed request fails there
    os.environ.setdefault(aws.CLIENT_VALIDATION, "off")
    ports = {"--moto-port": args.moto_port, "--api-port": args.api_port, "--dynamodb-port": args.dynamodb_port}
    if refused := _ports_refused(ports):
        print(f"finview up: {refused}", file=sys.stderr)
        return 2
    STATE_DIR.mkdir(exist_ok=True)
    log_file = str(STATE_DIR / "lambda.log")
    # No collector policy here (moto's processes freeze their store out of full collections; this process does
    # not): what a function holds while a full collection runs (a batch, its responses) and drops later as a cycle
    # would wait in the frozen generation for the next whole walk. At 100k rows that kept ~150 MB of dead objects
    # and ~450 MB of RSS (bench/RESULTS.md, 2026-11-29, fifteenth session) for no CPU a row that could be measured.
    stack = LocalStack(
        moto_port=args.moto_port, api_port=args.api_port, dynamodb_port=args.dynamodb_port, log_file=log_file
    )
    try:
        stack.start()
    except OSError as exc:  # another process took a port between the check and the bind
        stack.stop()
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"finview up: {_ports_refused(ports) or 'a port is already in use'}", file=sys.stderr)
        return 2
    state = stack.write_state()
    print(f"local AWS (moto):  {stack.endpoint_url}   (DynamoDB: {stack.dynamodb_url})")
    print(f"contacts API:      {stack.api_url}   (Authorization: Bearer local-admin)")
    print(f"drop bucket:       s3://{stack.provisioned.names.bucket('drops')}/<client_id>/...")  # type: ignore[union-attr]
    print(f"handler logs:      {log_file}")
    print(f"state:             {state}")
    print("Ctrl-C stops everything.", flush=True)
    stopped = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stopped.is_set():  # a second Ctrl-C: leave now
            os._exit(128 + signum)
        stopped.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Python runs signal handlers in the main thread only, and the kernel may deliver the signal to any thread:
    # a main thread blocked in wait() without a timeout would not notice it until something else woke it up.
    while not stopped.wait(0.2):
        pass
    print("\nstopping…", flush=True)
    busy = stack.stop(grace=STOP_GRACE_SECONDS)
    state.unlink(missing_ok=True)
    if busy:
        # like a Lambda at the end of its timeout, a handler in the middle of a long import is abandoned
        print(f"abandoned running invocations: {', '.join(busy)}", file=sys.stderr)
    # The ports are closed, moto's process is gone and so is the state file. The interpreter would still wait for
    # the services' worker pools and free the handlers' heap object by object; the kernel frees it at once.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def cmd_demo(args: argparse.Namespace) -> int:
    from infra import demo, demo_debtors

    STATE_DIR.mkdir(exist_ok=True)
    with LocalStack(stage="demo", log_file=str(STATE_DIR / "demo-lambda.log")) as stack:
        result = demo.run(stack)
        demo_debtors.run(stack, result["client_id"], result["cases"])
    print(f"\nhandler logs (JSON, with correlation ids): {STATE_DIR / 'demo-lambda.log'}")
    return 0


def _attach() -> LocalStack:
    """A LocalStack object bound to the running ``finview up`` (no new servers)."""
    from infra.definition import Names
    from infra.local.dispatcher import Dispatcher
    from infra.local.stack import local_environment
    from infra.provision import provision

    path = STATE_DIR / "stack.json"
    if not path.exists():
        raise SystemExit("no local stack is running: start one with `finview up`")
    state = json.loads(path.read_text())
    stack = LocalStack(stage=state["stage"])
    stack.endpoint_url, stack.api_url = state["endpoint_url"], state["api_url"]
    stack.dynamodb_url = state.get("dynamodb_url") or stack.endpoint_url
    stack.provisioned = provision(
        stack.endpoint_url, Names(state["stage"]), region=state["region"], dynamodb_url=stack.dynamodb_url
    )
    os.environ.update(local_environment(stack.provisioned, str(STATE_DIR / "lambda.log")))
    stack.dispatcher = Dispatcher(stack.provisioned)
    return stack


def _fire_schedule(service: str, function: str, when: datetime | None) -> int:
    """Fire one scheduled function of the running stack once, as its rule would at ``when`` (default now)."""
    stack = _attach()
    assert stack.dispatcher
    print(json.dumps(stack.dispatcher.fire(stack.function(service, function), when)))
    return 0


def cmd_enrich(args: argparse.Namespace) -> int:
    if not args.now:
        print("enrichment runs on its daily schedule inside `finview up`; use --now to fire it at once")
        return 2
    when = datetime.fromisoformat(args.date).replace(tzinfo=UTC) if args.date else None
    return _fire_schedule("enrichment", "on_schedule", when)


def cmd_release(args: argparse.Namespace) -> int:
    """Fire the contact policy's release schedule once (as of --at, for a look at what it would let go then)."""
    return _fire_schedule("contacts", "release_deferred_contacts", datetime.fromisoformat(args.at) if args.at else None)


def cmd_erase(args: argparse.Namespace) -> int:
    """Fire the daily erasure job once, as of --at (what a day past the retention period would erase)."""
    return _fire_schedule("contacts", "erase_due", datetime.fromisoformat(args.at) if args.at else None)


def cmd_expire(args: argparse.Namespace) -> int:
    """Local TTL: every table's items whose ``expiration`` has passed at --at (default now), deleted."""
    from infra.definition import STACK
    from shared import expiry

    stack = _attach()
    assert stack.provisioned
    when = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    names = stack.provisioned.names
    tables = {t.logical: expiry.sweep(names.table(t.logical), when) for t in STACK.tables}
    buckets = {
        b.logical: expiry.sweep_bucket(names.bucket(b.logical), b.expire_days, when)
        for b in STACK.buckets
        if b.expire_days
    }
    print(json.dumps({"tables": tables, "buckets": buckets}))
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    """The one-off migrations (services.imports.backfill, services.notifications.backfill) on a stage's tables,
    each until it is finished; a run stopped half-way goes on where it was (resumable)."""
    from infra.definition import Names
    from services.imports.backfill import backfill_key_records
    from services.notifications.backfill import backfill_owner_links

    if args.stage is None:
        stack = _attach()
        assert stack.provisioned
        names = stack.provisioned.names
    else:
        names = Names(args.stage)  # AWS: credentials and region from the environment
    for logical, migrate in (("imports", backfill_key_records), ("notifications", backfill_owner_links)):
        while True:
            state = migrate(names.table(logical), budget_seconds=args.budget)
            print(json.dumps({"table": names.table(logical), **state}, default=str))
            if state["finished"]:
                break
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Upload FILE to the running stack's drop bucket under the client's folder, follow the job, print the report."""
    import time

    from services.imports import report, repository

    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"no such file: {path}")
    stack = _attach()
    assert stack.provisioned
    bucket = stack.provisioned.names.bucket("drops")
    key = f"{args.client}/{datetime.now(UTC):%Y%m%dT%H%M%S}-{path.name}"
    s3 = stack.client("s3")
    s3.upload_file(str(path), bucket, key)
    head = s3.head_object(Bucket=bucket, Key=key)
    refs = [r for r in (head.get("VersionId"), str(head.get("ETag", "")).strip('"')) if r]
    print(f"uploaded s3://{bucket}/{key} ({path.stat().st_size:,} bytes)", file=sys.stderr)
    deadline = time.monotonic() + args.timeout
    job: dict[str, object] | None = None
    while time.monotonic() < deadline:
        import_id = next((i for r in refs if (i := repository.get_drop(f"{bucket}/{key}", r))), None)
        job = repository.get_job(import_id) if import_id else None
        if job is not None:
            size = int(str(job.get("size_bytes") or 0)) or 1
            done = min(1.0, int(str(job.get("bytes_read") or 0)) / size)
            checkpoint = job.get("checkpoint") or {}
            rows = int(checkpoint.get("row", 0)) if isinstance(checkpoint, dict) else 0
            bar = "#" * int(done * 30)
            print(
                f"\r[{bar:<30}] {done:4.0%}  {job['status']:<10} {job.get('phase', ''):<8} {rows:>10,} rows",
                end="",
                file=sys.stderr,
                flush=True,
            )
            if job["status"] in ("completed", "failed"):
                break
        time.sleep(0.5)
    print(file=sys.stderr)
    if job is None or job["status"] not in ("completed", "failed"):
        print("the import did not finish in time (is `finview up` running?)", file=sys.stderr)
        return 1
    print(report.summary(job, list(repository.rejections(str(job["import_id"]), limit=args.show))))
    return 0 if job["status"] == "completed" else 1


def cmd_template(args: argparse.Namespace) -> int:
    from infra.template import build

    path = build(Path(args.out))
    print(f"wrote {path} and one code folder per service under {args.out}/")
    print(f"deploy: sam build -t {path} && sam deploy --guided")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="finview", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the local stack until Ctrl-C")
    up.add_argument("--moto-port", type=int, default=4566)
    up.add_argument("--api-port", type=int, default=8000)
    up.add_argument("--dynamodb-port", type=int, default=4567, help="DynamoDB's own moto server")
    up.set_defaults(func=cmd_up)
    sub.add_parser("demo", help="run the walking skeleton on a fresh local stack").set_defaults(func=cmd_demo)
    enrich = sub.add_parser("enrich", help="fire the enrichment schedule against the running stack")
    enrich.add_argument("--now", action="store_true")
    enrich.add_argument("--date", help="run as of this day (YYYY-MM-DD)")
    enrich.set_defaults(func=cmd_enrich)
    release = sub.add_parser("release", help="fire the schedule that releases deferred contacts (running stack)")
    release.add_argument("--at", help="run as of this time (ISO 8601 with offset), default now")
    release.set_defaults(func=cmd_release)
    erase = sub.add_parser("erase", help="fire the daily erasure job (running stack)")
    erase.add_argument("--at", help="run as of this time (ISO 8601 with offset), default now")
    erase.set_defaults(func=cmd_erase)
    expire = sub.add_parser("expire", help="delete what DynamoDB TTL would have deleted (running stack)")
    expire.add_argument("--at", help="as of this time (ISO 8601 with offset), default now")
    expire.set_defaults(func=cmd_expire)
    backfill = sub.add_parser("backfill", help="link match keys and messages written before to their person")
    backfill.add_argument("--stage", help="a deployed stage (AWS credentials from the environment)")
    backfill.add_argument("--budget", type=float, default=60, help="seconds per run before its progress is printed")
    backfill.set_defaults(func=cmd_backfill)
    imp = sub.add_parser("import", help="drop a file for a client into the running stack and follow the import")
    imp.add_argument("file")
    imp.add_argument("--client", required=True, help="the client id (the drop folder)")
    imp.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the report")
    imp.add_argument("--show", type=int, default=10, help="how many rejected rows to print")
    imp.set_defaults(func=cmd_import)
    template = sub.add_parser("template", help="render the SAM template for AWS")
    template.add_argument("--out", default="build")
    template.set_defaults(func=cmd_template)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
