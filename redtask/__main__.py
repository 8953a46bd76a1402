"""``python -m redtask``: the ``redtask`` command."""

import sys

from redtask.cli.main import main

sys.exit(main())
