"""`python3 -m hbagent ...` (the zipapp has its own __main__ calling the same function)."""

import sys

from hbagent.cli import main

sys.exit(main())
