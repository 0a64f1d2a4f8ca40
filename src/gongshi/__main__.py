"""`python -m gongshi ...` runs the `gongshi` command."""

from gongshi.cli.main import main

if __name__ == "__main__":
    main()
