#!/usr/bin/env python
"""Django's command-line utility for administrative tasks; failures an operator can fix
print as one sentence with exit code 2 (``dealsite/cli.py``)."""

import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealsite.settings")
    try:
        from dealsite.cli import main as run
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    run(sys.argv)


if __name__ == "__main__":
    main()
