"""fedspec conformance: see ../shared/ARCHITECTURE.md and the site."""
