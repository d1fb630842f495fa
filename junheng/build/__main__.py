import sys

from junheng.build.command import main

sys.exit(main())
