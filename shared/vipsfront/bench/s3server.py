"""moto's S3 server on 127.0.0.1 in a process of its own: ``python -m vipsfront.bench.s3server PORT``.

A separate process keeps moto's request handling off the benchmark client's interpreter lock. It
prints ``ready`` once listening and stops when its standard input closes.
"""

import logging
import sys

from moto.server import ThreadedMotoServer


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
    server.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
