"""`python -m stillmotion_trainer ...` entry point."""

from stillmotion_trainer.allocator import reexec_with_tcmalloc

if __name__ == "__main__":
    reexec_with_tcmalloc()  # before torch is imported (allocator.py says why)

    from stillmotion_trainer.cli import main

    raise SystemExit(main())
