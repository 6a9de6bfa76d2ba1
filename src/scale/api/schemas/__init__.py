"""Pydantic wire models in Scale v6 shapes. Never SQLAlchemy rows; converters read service views."""
