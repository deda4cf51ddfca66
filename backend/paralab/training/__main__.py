import sys

from paralab.training.cli import main

sys.exit(main())
