"""``python -m skdigits``: the same command line as the ``skdigits`` script."""

import sys

from skdigits.cli import main

if __name__ == "__main__":
    sys.exit(main())
