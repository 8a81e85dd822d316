import sys

from pano360.data.demo.generate import main

sys.exit(main())
