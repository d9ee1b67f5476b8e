"""Test-only modules the harness imports by name (a suite that misbehaves on purpose)."""
