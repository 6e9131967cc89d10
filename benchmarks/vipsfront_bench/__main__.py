import sys

from vipsfront.bench.runner import main

sys.exit(main())
