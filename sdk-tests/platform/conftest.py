"""Fixtures for the platform suite (venv: ../requirements-platform.txt): the shared
`roster` server fixture comes from ../conftest.py."""
