"""fedspec checker: see ../shared/ARCHITECTURE.md and the site."""
