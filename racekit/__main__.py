import sys

from racekit.cli import main

sys.exit(main())
