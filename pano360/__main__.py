import sys

from pano360.cli import main

sys.exit(main())
