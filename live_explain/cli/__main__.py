"""``python -m live_explain.cli``: the ``live-explain`` command."""

import sys

from live_explain.cli.main import main

sys.exit(main())
