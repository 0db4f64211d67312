import sys

from n2net_privacy.cli import main

sys.exit(main())
