"""`python -m prodgen` (also what `torchrun -m prodgen` launches)."""

from .cli import main

if __name__ == "__main__":
    main()
