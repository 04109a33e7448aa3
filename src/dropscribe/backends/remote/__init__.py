"""The remote engines: one HTTP client, the submit-and-poll engine, one module a protocol."""
