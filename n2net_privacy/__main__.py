"""``python -m n2net_privacy``: the ``n2net-privacy`` command line, without the script on PATH."""

import sys

from n2net_privacy.cli import main

if __name__ == "__main__":
    sys.exit(main())
