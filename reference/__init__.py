"""fedspec reference: see ../shared/ARCHITECTURE.md and the site."""
