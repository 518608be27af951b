"""Documents attached to customers: upload, download, size and type limits, content-addressed storage."""
