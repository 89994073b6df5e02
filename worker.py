"""The worker, where the design card puts it: ``python worker.py`` is ``pbxops worker``.

The code lives in ``src/pbxops/worker.py`` (``python -m pbxops.worker``); see the README's
directory table.
"""

from pbxops.worker import main

if __name__ == "__main__":
    main()
