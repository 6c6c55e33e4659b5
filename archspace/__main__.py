import sys

from archspace.cli import main

sys.exit(main())
