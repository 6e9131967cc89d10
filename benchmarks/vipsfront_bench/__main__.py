import sys

from vipsfront_bench.runner import main

sys.exit(main())
