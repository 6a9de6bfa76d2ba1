"""The REST API (Scale v6): thin routers over ``scale.services``; see ``create_app``."""
