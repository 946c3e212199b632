import sys

from notewell.app.cli import main

sys.exit(main())
