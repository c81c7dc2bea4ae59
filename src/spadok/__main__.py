import sys

from spadok.cli import main

sys.exit(main())
