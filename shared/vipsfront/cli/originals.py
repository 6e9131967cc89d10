"""``vipsfront originals put | delete | ls``: change the originals and purge at once.

Locally this is how an original is added, replaced or deleted in the embedded S3 of a running
``vipsfront serve``; against any S3 it does what the stack's lifecycle function does on S3's event, right
away: the original's variants are deleted (and CloudFront invalidated with a distribution configured),
then its info document and eager presets are made again, so the next request serves the new pixels.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path

from vipsfront.cli.storage import lifecycle_settings
from vipsfront.config.settings import ConfigError


def put(args: argparse.Namespace) -> int:
    from vipsfront.lifecycle.changes import Change, Kind, Lifecycle, Status
    from vipsfront.url.keys import check_key

    key = check_key(args.key)
    source = Path(args.file)
    if not source.is_file():
        raise ConfigError(f"{source}: no such file")
    settings, client = lifecycle_settings(args.serve_port)
    content_type = mimetypes.guess_type(key)[0] or mimetypes.guess_type(source.name)[0] or "application/octet-stream"
    etag = client.put_object(
        Bucket=settings.originals_bucket, Key=key, Body=source.read_bytes(), ContentType=content_type
    )["ETag"]
    (result,) = Lifecycle.from_settings(settings, s3=client).apply([Change(key, Kind.CREATED, revision=etag)])
    print(json.dumps(result.to_dict()))
    return 1 if result.status is Status.FAILED else 0


def delete(args: argparse.Namespace) -> int:
    from vipsfront.lifecycle.changes import Change, Kind, Lifecycle, Status
    from vipsfront.stores.s3 import S3Store
    from vipsfront.url.keys import check_key

    key = check_key(args.key)
    settings, client = lifecycle_settings(args.serve_port)
    if key not in S3Store(client, settings.originals_bucket, settings.variants_bucket).list_originals(key, limit=1):
        print(f"vipsfront: no original {key!r}: nothing deleted", file=sys.stderr)
        return 1
    client.delete_object(Bucket=settings.originals_bucket, Key=key)
    change = Change(key, Kind.DELETED, revision=f"delete-{time.time_ns()}")
    (result,) = Lifecycle.from_settings(settings, s3=client).apply([change])
    print(json.dumps(result.to_dict()))
    return 1 if result.status is Status.FAILED else 0


def ls(args: argparse.Namespace) -> int:
    from vipsfront.stores.s3 import S3Store

    settings, client = lifecycle_settings(args.serve_port)
    store = S3Store(client, settings.originals_bucket, settings.variants_bucket)
    count = 0
    for original in store.scan_originals(args.prefix):
        print(f"{original.size:>12}  {original.key}")
        count += 1
    if not count:
        under = f" under {args.prefix!r}" if args.prefix else ""
        print(f"vipsfront: no originals{under} in s3://{settings.originals_bucket}", file=sys.stderr)
    return 0


def add_parser(commands: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    """``originals`` and its three subcommands, on the ``vipsfront`` parser's ``commands``."""
    originals = commands.add_parser(
        "originals",
        help="put, replace, delete or list originals, purging their variants at once",
        formatter_class=formatter,
        allow_abbrev=False,
    )
    actions = originals.add_subparsers(dest="action", required=True, metavar="ACTION", help="what to do")

    def action(name: str, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, formatter_class=formatter, allow_abbrev=False)
        sub.add_argument("--serve-port", type=int, metavar="PORT", help=SERVE_PORT_HELP)
        return sub

    put_parser = action("put", "upload FILE as the original KEY (new or replaced), then purge and ingest it")
    put_parser.add_argument("file", metavar="FILE", help="an image file")
    put_parser.add_argument("key", metavar="KEY", help="the original's key, e.g. photos/cat.jpg")
    put_parser.set_defaults(func=put)
    delete_parser = action("delete", "delete the original KEY and purge its variants")
    delete_parser.add_argument("key", metavar="KEY", help="the original's key")
    delete_parser.set_defaults(func=delete)
    ls_parser = action("ls", "list the originals (size in bytes, key)")
    ls_parser.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="only keys under this prefix")
    ls_parser.set_defaults(func=ls)


SERVE_PORT_HELP = "the local vipsfront serve to act on, when several run (default: the one running)"
