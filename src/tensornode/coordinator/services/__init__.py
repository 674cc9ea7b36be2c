"""The coordinator's services, callable without HTTP (reach them from ``Coordinator``)."""
