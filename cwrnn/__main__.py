from .cli import main

if __name__ == "__main__":  # spawned workers re-import this module; they must not run the CLI
    raise SystemExit(main())
