"""One APIRouter per resource, all mounted under ``/v6``."""
