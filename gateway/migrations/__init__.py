"""Alembic migrations, shipped inside the package so ``gateway migrate`` works from any directory."""
