"""schedtui's test suite (a package so ``python -m tests.fixtures.prepare`` works)."""
