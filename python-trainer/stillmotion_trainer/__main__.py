"""`python -m stillmotion_trainer ...` entry point."""

from stillmotion_trainer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
