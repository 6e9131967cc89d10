import sys

from vipsfront_bench.cli import main

sys.exit(main(sys.argv[1:]))
