"""Quality and diagnostic metrics."""
