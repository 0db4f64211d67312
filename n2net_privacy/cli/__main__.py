"""``python -m n2net_privacy.cli``: the same command line as ``python -m n2net_privacy``."""

import sys

from n2net_privacy.cli import main

if __name__ == "__main__":
    sys.exit(main())
