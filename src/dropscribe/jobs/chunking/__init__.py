"""Long recordings as chunks: the upload plan, its preparation, and the chunk runner."""
