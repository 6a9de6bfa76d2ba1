"""``python -m scale.runtime``: the Docker runtime's node-side commands (see ``docker.py``)."""

import sys

from scale.runtime.docker import main

sys.exit(main(sys.argv[1:]))
