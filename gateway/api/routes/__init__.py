"""API routers, one per concern; ``create_app`` mounts them under ``/v1``."""
