"""``python -m audit``: the command line (guarded, so a process that imports this module runs nothing)."""

from audit.cli import main

if __name__ == "__main__":
    main()
