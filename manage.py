#!/usr/bin/env python
"""Django's command-line utility; `portal` is the same thing installed as a script."""

from portal.__main__ import main

if __name__ == "__main__":
    main()
