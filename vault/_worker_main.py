"""The keyless worker's entry point: ``python -m vault._worker_main TARGET MEMORY CPU FILES`` (see vault/worker.py)."""

import os
import sys

from vault.worker import serve

if __name__ == "__main__":
    try:
        serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    except MemoryError:
        os._exit(3)
    os._exit(0)
