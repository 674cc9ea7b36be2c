"""Fakes of services that cannot run here, written to their documented behaviour."""
