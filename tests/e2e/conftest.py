"""The session ``stack`` fixture (and its failure report hook) lives in tests/conftest.py, so the
security tests (tests/security/) share the same running stack instead of starting a second one."""
