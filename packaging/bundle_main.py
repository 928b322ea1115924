"""Entry point of the desktop bundle (PyInstaller runs this file as ``__main__``)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen app must never re-run the CLI in a child
    from forensics_gui.cli import main

    sys.exit(main())
