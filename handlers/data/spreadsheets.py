"""Data handlers for upload steps that carry spreadsheets (filled in by the engine issue)."""
