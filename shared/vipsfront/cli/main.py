"""The ``vipsfront`` command: ``serve`` the origin locally, ``sign`` and build ``url``s, ``bench``.

``vipsfront serve`` with no AWS configuration starts moto's S3 server in-process on 127.0.0.1, creates
both buckets, uploads sample originals (or ``--seed DIR``) and serves the origin with uvicorn. With
``AWS_ENDPOINT_URL_S3`` set, or AWS credentials and both bucket names set, it serves from that S3.
``vipsfront bench`` runs the benchmark package (``benchmarks/vipsfront_bench``, the ``bench`` extra),
which the runtime package never imports.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import json
import os
import socket
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from vipsfront import __version__
from vipsfront.cli import local_serve, originals
from vipsfront.cli.embedded_s3 import HOST, LOCAL_CREDENTIALS, ensure_bucket, server_endpoint, start_server, upload
from vipsfront.cli.examples import print_when_up
from vipsfront.cli.local_serve import LocalServe
from vipsfront.cli.storage import check_buckets, lifecycle_settings
from vipsfront.config.settings import ConfigError, Settings
from vipsfront.errors import VipsfrontError
from vipsfront.url.signing import check_key_id, check_secret

M_ARENA_MAX = -8  # glibc's mallopt parameter number
DEFAULT_KEY_ID = "k1"  # the key id of a --secret given without --key-id
BENCH_HELP = "benchmark the origin on moto against the bare engine and peers (the bench extra)"
BENCH_MISSING = "vipsfront bench needs the benchmark package: install the bench extra: pip install -e '.[bench]'"


def uses_real_s3(env: Mapping[str, str]) -> bool:
    """True when the environment names an S3 to use instead of the embedded one."""
    if env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"):
        return True
    has_credentials = bool(env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE"))
    return has_credentials and bool(env.get("VIPSFRONT_ORIGINALS_BUCKET") and env.get("VIPSFRONT_VARIANTS_BUCKET"))


def seed_files(directory: Path) -> dict[str, bytes]:
    """Every image under ``directory``, keyed by its path relative to it (``/``-separated); other files
    (what libvips cannot read: text, archives) are skipped with a note on stderr."""
    if not directory.is_dir():
        raise ConfigError(f"--seed: {directory} is not a directory")
    files = {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    }
    if not files:
        raise ConfigError(f"--seed: {directory} holds no files")
    import pyvips  # the server needs it anyway; only --seed imports it here

    skipped = [key for key, data in files.items() if not pyvips.vips_lib.vips_foreign_find_load_buffer(data, len(data))]
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        print(f"vipsfront: --seed: skipped {len(skipped)} files that are not images: {shown}", file=sys.stderr)
    images = {key: data for key, data in files.items() if key not in skipped}
    if not images:
        raise ConfigError(f"--seed: {directory} holds no images")
    return images


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535, not {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def watch_interval(text: str) -> float:
    """An argparse type: seconds between polls of the originals, 0 (off) or more."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (off) or a number of seconds, not {text!r}")
    return value


def check_port_free(host: str, port: int, option: str = "--port") -> None:
    """``ConfigError`` when ``host:port`` cannot be listened on (another server holds it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ConfigError(f"--host {host}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as error:
            reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
            raise ConfigError(f"port {port} on {host} {reason}: stop what holds it or pass {option}") from None


def limit_malloc_arenas(env: MutableMapping[str, str]) -> None:
    """Cap glibc's malloc arenas at 2 (``MALLOC_ARENA_MAX``), in this process and its workers.

    libvips' worker threads each get an arena by default, and the fragmentation reads as a leak in a
    long-running server (docs/reliability.md). A value already set wins.
    """
    if "MALLOC_ARENA_MAX" in env:
        return
    env["MALLOC_ARENA_MAX"] = "2"  # read by worker processes at start-up
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def worker_share(workers: int, cores: int) -> int:
    """Each of ``workers`` processes' share of ``cores``: its libvips threads and its transform slots."""
    return max(1, cores // workers)


def serve(args: argparse.Namespace) -> int:
    from importlib.util import find_spec

    if find_spec("uvicorn") is None or find_spec("moto") is None:
        raise ConfigError("vipsfront serve needs the serve extra: pip install -e '.[serve]'")
    check_port_free(args.host, args.port)  # before anything starts or prints a URL
    if args.s3_port and not uses_real_s3(os.environ):
        check_port_free(HOST, args.s3_port, "--s3-port")  # moto's server would hang on a busy port
    moto_server = None
    env = os.environ
    limit_malloc_arenas(env)
    if args.workers > 1:
        # Each worker gets its share of the cores for libvips' threads and its share of the transform slots,
        # so N workers together run no more transforms than the machine has cores.
        share = str(worker_share(args.workers, os.cpu_count() or 1))
        env.setdefault("VIPS_CONCURRENCY", share)
        env.setdefault("VIPSFRONT_MAX_CONCURRENT_TRANSFORMS", share)
    env.setdefault("VIPSFRONT_DEMO", "1")  # the demo page lists the originals: on for local serving only
    if not uses_real_s3(env):
        for name, value in LOCAL_CREDENTIALS.items():
            env.setdefault(name, value)
        moto_server = start_server(args.s3_port)
        env["AWS_ENDPOINT_URL_S3"] = server_endpoint(moto_server)
    state = None
    try:
        from vipsfront.stores.s3 import s3_client

        settings = Settings.from_env(env)
        client = s3_client(settings.s3_endpoint, settings.region)
        if moto_server is not None or args.seed:
            for bucket in (settings.originals_bucket, settings.variants_bucket):
                ensure_bucket(client, bucket)
        check_buckets(client, settings)  # credentials, endpoint and both buckets, before serving anything
        if args.seed:
            files = seed_files(Path(args.seed))
        elif moto_server is not None:
            from vipsfront.cli.samples import generate

            files = generate()
        else:
            files = {}
        upload(client, settings.originals_bucket, files)
        if moto_server is not None:  # so that purge, backfill and originals in another shell find it
            credentials = {name: env[name] for name in LOCAL_CREDENTIALS}
            buckets = (settings.originals_bucket, settings.variants_bucket)
            serve_state = LocalServe(args.port, os.getpid(), settings.s3_endpoint or "", *buckets, credentials)
            state = local_serve.write(serve_state, env)

        base = f"http://{args.host}:{args.port}"
        where = "embedded S3 (moto)" if moto_server is not None else "S3"
        print(f"vipsfront: {where} at {settings.s3_endpoint or 'AWS'}", flush=True)
        print(f"  originals: s3://{settings.originals_bucket}  variants: s3://{settings.variants_bucket}")
        if files:
            print(f"  uploaded {len(files)} original{'s' if len(files) != 1 else ''}")
        if state is not None:
            print("  from another shell, `vipsfront originals put FILE KEY`, `purge KEY` and `backfill` act on it")
        print(f"vipsfront: serving on {base}  (Ctrl-C stops)")
        print(f"  {base}/_vf/health")
        if settings.demo:
            print(f"  {base}/_vf/demo  (demo page: gallery, placeholders, playground)")
        if files:
            print_when_up(base, list(files))
        watcher = None
        if args.watch > 0:
            from vipsfront.lifecycle.changes import Lifecycle, Watcher

            watcher = Watcher(Lifecycle.from_settings(settings, s3=client), args.watch)
            watcher.poll()  # the baseline listing
            watcher.start()
            print(f"  watching the originals every {args.watch:g} s: a changed or deleted original is purged")
        sys.stdout.flush()
        import uvicorn

        # The app is made in each worker from the environment, as the Lambda handler makes it; uvicorn's
        # supervisor restarts a worker that dies and stops them all on Ctrl-C or SIGTERM.
        uvicorn.run(
            "vipsfront.web.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            ws="none",  # the origin has no WebSocket, and uvicorn's "auto" would import one
        )
    finally:
        if state is not None:
            state.unlink(missing_ok=True)
        if moto_server is not None:
            moto_server.stop()
    return 0


def _signing_key(args: argparse.Namespace) -> tuple[str, bytes] | None:
    """``--secret`` under ``--key-id`` (default ``k1``), else the key ``--key-id`` names in
    ``VIPSFRONT_SIGNING_KEYS`` (default: its first); ``None`` without keys."""
    if args.secret:
        try:
            return (check_key_id(args.key_id or DEFAULT_KEY_ID), check_secret(args.secret))
        except ValueError as error:
            option = "--secret" if "secret" in str(error) else "--key-id"
            raise ConfigError(f"{option}: {error}") from None
    keys = Settings.load().policy.keys
    if not keys:
        return None
    if args.key_id is None:
        kid = next(iter(keys))
    elif args.key_id in keys:
        kid = args.key_id
    else:
        raise ConfigError(f"--key-id {args.key_id}: VIPSFRONT_SIGNING_KEYS has no such key; its ids: {', '.join(keys)}")
    return (kid, keys[kid])


def sign_command(args: argparse.Namespace) -> int:
    from vipsfront.url.builders import expires_in, url
    from vipsfront.url.query import read_params, split_query

    key, _, query = args.target.lstrip("/").partition("?")
    signing_key = _signing_key(args)
    if signing_key is None:
        raise ConfigError("no signing key: pass --secret (and --key-id) or set VIPSFRONT_SIGNING_KEYS")
    params = read_params(split_query(query), Settings.load().policy.presets).values
    expires = expires_in(args.expires_in) if args.expires_in else None
    print(url(key, params, base=args.base, signing_key=signing_key, expires=expires))
    return 0


URL_OPTIONS = (
    "w",
    "h",
    "dpr",
    "fit",
    "pos",
    "fx",
    "fy",
    "enlarge",
    "fm",
    "q",
    "blur",
    "sharpen",
    "rot",
    "flip",
    "bg",
    "v",
)


def url_command(args: argparse.Namespace) -> int:
    from vipsfront.url.builders import expires_in, url
    from vipsfront.url.query import read_params

    params = {name: getattr(args, name) for name in URL_OPTIONS if getattr(args, name) is not None}
    if args.p is not None:  # the preset expanded under the explicit options, as the origin expands it
        params = dict(read_params({"p": args.p, **params}, Settings.load().policy.presets).values)
    signing_key = _signing_key(args) if args.sign else None
    if args.sign and signing_key is None:
        raise ConfigError("--sign needs --secret or VIPSFRONT_SIGNING_KEYS")
    expires = expires_in(args.expires_in) if args.expires_in else None
    print(url(args.key, params, base=args.base, signing_key=signing_key, expires=expires))
    return 0


def purge_command(args: argparse.Namespace) -> int:
    """Purge the originals' variants and CloudFront paths, then ingest those that exist."""
    import time

    from vipsfront.lifecycle.changes import Change, Lifecycle, Status
    from vipsfront.url.keys import check_key

    keys = [check_key(key) for key in args.keys]
    settings, client = lifecycle_settings(args.serve_port, args.distribution_id)
    lifecycle = Lifecycle.from_settings(settings, s3=client)
    revision = f"purge-{time.time_ns()}"  # a manual purge is always a new invalidation
    results = lifecycle.apply([Change(key, revision=revision) for key in keys])
    for result in results:
        print(json.dumps(result.to_dict()))
    if not lifecycle.invalidator and settings.s3_endpoint is None:  # on AWS's S3, a CDN is expected in front
        print(
            "vipsfront: no CloudFront distribution (VIPSFRONT_DISTRIBUTION_ID, --distribution-id): nothing invalidated",
            file=sys.stderr,
        )
    # a key with neither an original nor a stored variant: a typo, most likely
    nothing = [r.key for r in results if r.status is Status.GONE and not r.variants_deleted]
    for key in nothing:
        print(f"vipsfront: nothing found for {key!r}: no original and no stored variant", file=sys.stderr)
    return 1 if nothing or any(r.status is Status.FAILED for r in results) else 0


def backfill_state_machine(arn: str, prefix: str, client: Any = None, interval_s: float = 10.0) -> int:
    """Start the deployed backfill (a Distributed Map) and print its progress until it ends."""
    from vipsfront.lifecycle import step_functions as backfill_sfn

    if not arn.startswith("arn:") or ":stateMachine:" not in arn:
        raise ConfigError(f"--state-machine must be a state machine ARN (BackfillStateMachineArn), not {arn!r}")
    if client is None:
        import boto3

        client = boto3.client("stepfunctions", region_name=arn.split(":")[3])
    execution_arn = backfill_sfn.start(client, arn, prefix)
    print(f"backfill: started {execution_arn}")
    done = backfill_sfn.follow(
        client,
        execution_arn,
        interval_s=interval_s,
        report=lambda e, elapsed: print(f"  {elapsed:6.0f} s  {e.status}", flush=True),
    )
    if done.status != backfill_sfn.SUCCEEDED:
        print(f"backfill: {done.status}: {done.error or ''} {done.cause or ''}".rstrip())
        return 1
    print("backfill: succeeded; results under _vf-backfill/ in the variants bucket")
    return 0


def backfill_command(args: argparse.Namespace) -> int:
    """Ingest every original under a prefix on a process pool; summary, manifest, rate."""
    if args.state_machine:
        return backfill_state_machine(args.state_machine, args.prefix)
    from vipsfront.lifecycle import backfill
    from vipsfront.lifecycle.changes import Status, summarise

    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    settings, _ = lifecycle_settings(args.serve_port)
    results, seconds = backfill.run(settings, prefix=args.prefix, workers=args.workers, force=args.force)
    if not results:
        under = f" under the prefix {args.prefix!r}" if args.prefix else ""
        print(f"backfill: no originals{under} in s3://{settings.originals_bucket}: nothing to do", file=sys.stderr)
        return 1
    if args.manifest:
        with open(args.manifest, "w", encoding="utf-8") as out:
            for result in results:
                out.write(backfill.manifest_line(result) + "\n")
    summary = summarise(results)
    counts = summary["counts"]
    made = counts["ingested"] + counts["rejected"]
    print(
        f"backfill: {len(results)} originals in {seconds:.1f} s: {counts['ingested']} done, {counts['skipped']} "
        f"skipped, {counts['rejected']} rejected, {counts['failed']} failed, {counts['gone']} gone; "
        f"{made / max(seconds, 1e-9) / args.workers:.2f} originals/s per worker"
    )
    for problem in summary["problems"]:
        print(
            f"  {problem['status']}: {problem['key']}: {problem['error'].get('code')}: {problem['error'].get('error')}"
        )
    return 1 if counts[Status.FAILED.value] else 0


def bench_command(args: argparse.Namespace) -> int:
    """Hand the options to the benchmark package (the ``bench`` extra), imported only here."""
    try:
        from vipsfront_bench.cli import main as bench_main
    except ImportError as error:
        if (error.name or "").split(".")[0] != "vipsfront_bench":
            raise ConfigError(f"{BENCH_MISSING} ({error})") from error
        if args.bench_args in (["-h"], ["--help"]):  # the help a user asks for, with what it needs
            print(f"usage: vipsfront bench SUBCOMMAND ...\n\n{BENCH_HELP}\n\n{BENCH_MISSING}")
            return 0
        raise ConfigError(BENCH_MISSING) from error
    return bench_main(args.bench_args)


def parser() -> argparse.ArgumentParser:
    formatter = argparse.ArgumentDefaultsHelpFormatter  # every option's help shows its default
    # allow_abbrev=False everywhere: argparse would read ``url --p`` as ``--pos``
    top = argparse.ArgumentParser(
        prog="vipsfront",
        description="On-demand image transformation origin.",
        formatter_class=formatter,
        allow_abbrev=False,
    )
    top.add_argument("--version", action="version", version=f"vipsfront {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **kwargs: object) -> argparse.ArgumentParser:
        return commands.add_parser(name, formatter_class=formatter, allow_abbrev=False, **kwargs)  # type: ignore[arg-type]

    run = command("serve", help="run the origin on 127.0.0.1 (embedded S3 unless configured)")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on")
    run.add_argument("--port", type=port_number, default=8080, help="port to listen on (checked before start)")
    run.add_argument("--s3-port", type=port_number, default=0, help="port of the embedded S3 (0: a free one)")
    run.add_argument(
        "--seed", metavar="DIR", help="upload DIR's images as originals (keys relative to DIR; others skipped)"
    )
    run.add_argument("--workers", type=positive_int, default=1, help="uvicorn worker processes")
    run.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"], help="log level"
    )
    run.add_argument(
        "--watch",
        type=watch_interval,
        default=2.0,
        metavar="SECONDS",
        help="poll the originals and purge what changed, every SECONDS (0: off)",
    )
    run.set_defaults(func=serve)

    def signing_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--key-id", help=f"key id (default: {DEFAULT_KEY_ID} with --secret, else VIPSFRONT_SIGNING_KEYS' first)"
        )
        sub.add_argument("--secret", help="signing secret, 16+ characters (unset: from VIPSFRONT_SIGNING_KEYS)")
        sub.add_argument("--expires-in", type=positive_int, metavar="SECONDS", help="make the URL expire")
        sub.add_argument("--base", default="", help="URL prefix, e.g. https://cdn.example.com")

    sign = command("sign", help="print a signed URL for KEY?PARAMS")
    sign.add_argument("target", metavar="KEY?PARAMS", help="an original's key and a query, e.g. 'a.jpg?w=640'")
    signing_options(sign)
    sign.set_defaults(func=sign_command)

    build = command("url", help="print the canonical URL for a key and options")
    build.add_argument("key", help="the original's key, e.g. photos/cat.jpg")
    for name in URL_OPTIONS:
        build.add_argument(f"--{name}", help=f"the {name} parameter (see the README's URL table)")
    build.add_argument("--p", metavar="PRESET", help="a preset from VIPSFRONT_PRESETS, expanded under the options")
    build.add_argument("--sign", action="store_true", help="sign it (needs a key)")
    signing_options(build)
    build.set_defaults(func=url_command)

    # The benchmark package parses its own options (``vipsfront bench --help``): it is not imported here.
    purge = command("purge", help="purge originals' variants and CDN paths, then ingest them again")
    purge.add_argument("keys", nargs="+", metavar="KEY", help="original keys")
    purge.add_argument("--distribution-id", help="CloudFront distribution (default VIPSFRONT_DISTRIBUTION_ID)")
    purge.add_argument("--serve-port", type=int, metavar="PORT", help=originals.SERVE_PORT_HELP)
    purge.set_defaults(func=purge_command)

    fill = command("backfill", help="ingest every original (info document, eager presets)")
    fill.add_argument("--prefix", default="", help="only originals under this key prefix")
    fill.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1, help="processes (one per core)")
    fill.add_argument("--manifest", metavar="FILE", help="write one JSON line of metadata per original")
    fill.add_argument("--force", action="store_true", help="ingest originals already at their version too")
    fill.add_argument(
        "--state-machine", metavar="ARN", help="run the stack's backfill on Step Functions instead, and follow it"
    )
    fill.add_argument("--serve-port", type=int, metavar="PORT", help=originals.SERVE_PORT_HELP)
    fill.set_defaults(func=backfill_command)
    originals.add_parser(commands, formatter)

    bench = commands.add_parser(
        "bench",
        help=BENCH_HELP,
        add_help=False,
        prefix_chars="\0",
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=bench_command)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (VipsfrontError, ConfigError) as error:
        message = error.message if isinstance(error, VipsfrontError) else str(error)
        print(f"vipsfront: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
